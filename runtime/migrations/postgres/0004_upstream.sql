-- Upstream sign-in (OpenID Connect providers, GitHub; IDENTITY.md U-1..U-16):
-- the identities users have at other providers, the login transactions of the
-- round trip to a provider, and, for providers that keep them, the provider's
-- tokens (sealed with the server's key, never stored readable).

ALTER TABLE users ADD COLUMN name TEXT;

-- An identity is keyed by (provider, subject): provider is 'local' for an email
-- and password account (subject: the email), else the upstream issuer (U-11).
-- provider_name is the spec's name of the provider it was last seen through;
-- email_verified says whether the provider vouched for the email (for local
-- accounts: created by the operator rather than by self sign-up).
ALTER TABLE identities ADD COLUMN provider_name TEXT;
ALTER TABLE identities ADD COLUMN email TEXT;
ALTER TABLE identities ADD COLUMN email_verified BIGINT NOT NULL DEFAULT 0;
ALTER TABLE identities ADD COLUMN name TEXT;
ALTER TABLE identities ADD COLUMN last_sign_in_at BIGINT;
CREATE INDEX identities_user ON identities (user_id);

-- How a browser signed in ('password' or a provider's name), shown on consent.
ALTER TABLE oauth_browser_sessions ADD COLUMN method TEXT;

-- A round trip to a provider: single-use (taken by the callback), expiring, and
-- bound to the browser that started it (the hash of its cookie, U-1). Only
-- hashes of the state and the browser's cookie are kept.
CREATE TABLE upstream_transactions (
    state_hash    TEXT PRIMARY KEY,
    provider      TEXT NOT NULL,
    pending_hash  TEXT NOT NULL,
    browser_hash  TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);

-- A provider's tokens for one identity, sealed (store_tokens: true; U-14).
CREATE TABLE upstream_tokens (
    provider      TEXT NOT NULL,
    subject       TEXT NOT NULL,
    provider_name TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    access_token  TEXT NOT NULL,
    refresh_token TEXT,
    expires_at    BIGINT,
    scope         TEXT,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (provider, subject),
    FOREIGN KEY (provider, subject) REFERENCES identities (provider, subject) ON DELETE CASCADE
);
CREATE INDEX upstream_tokens_user ON upstream_tokens (user_id, provider_name);
