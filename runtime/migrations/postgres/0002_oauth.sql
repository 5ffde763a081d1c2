-- The OAuth 2.1 authorization server. Times are Unix milliseconds. Secrets
-- (codes, refresh tokens, client secrets, pending-request and browser-session ids)
-- are stored as SHA-256 hashes, never as given out.

-- Users have an internal id; every token `sub`, session owner and data key uses it.
CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    email       TEXT,
    created_at  BIGINT NOT NULL,
    disabled_at BIGINT
);

-- External identities map to users: a local password account now, an upstream
-- OpenID provider's (issuer, subject) later.
CREATE TABLE identities (
    provider      TEXT NOT NULL,
    subject       TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_hash TEXT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (provider, subject)
);

CREATE TABLE oauth_clients (
    id                         TEXT PRIMARY KEY,
    secret_hash                TEXT,
    name                       TEXT NOT NULL,
    redirect_uris              TEXT NOT NULL,
    grant_types                TEXT NOT NULL,
    scope                      TEXT,
    token_endpoint_auth_method TEXT NOT NULL,
    metadata_hash              TEXT,
    registered                 BIGINT NOT NULL,
    auto_approve               BIGINT NOT NULL,
    created_at                 BIGINT NOT NULL,
    last_used_at               BIGINT,
    revoked_at                 BIGINT
);
CREATE INDEX oauth_clients_metadata_hash ON oauth_clients (metadata_hash);

-- An authorization request waiting for sign-in and consent, under an opaque id.
CREATE TABLE oauth_pending (
    id_hash        TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    state          TEXT,
    scope          TEXT NOT NULL,
    resource       TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    csrf           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);

CREATE TABLE oauth_browser_sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE oauth_consents (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- Every token issued from one authorization belongs to one family, revoked as a
-- whole on code replay or refresh-token reuse.
CREATE TABLE oauth_families (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    resource   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE oauth_codes (
    code_hash      TEXT PRIMARY KEY,
    family_id      TEXT NOT NULL,
    client_id      TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    resource       TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);

CREATE TABLE oauth_access_tokens (
    jti        TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL REFERENCES oauth_families (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- A refresh token, and once exchanged, what the exchange issued: a concurrent
-- retry of the same exchange within the grace window gets the same pair.
CREATE TABLE oauth_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL REFERENCES oauth_families (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    rotated_at BIGINT,
    next_jti   TEXT,
    next_iat   BIGINT,
    next_exp   BIGINT,
    next_kid   TEXT
);

CREATE TABLE oauth_signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_der TEXT NOT NULL,
    public_x    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT
);

-- Server-wide secrets generated on first start (the refresh-token derivation key).
CREATE TABLE oauth_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
