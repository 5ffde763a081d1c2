-- Resource subscriptions (resources/subscribe): which session wants updates of
-- which URI.
CREATE TABLE mcp_subscriptions (
    session_id TEXT NOT NULL REFERENCES mcp_sessions (id) ON DELETE CASCADE,
    uri        TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, uri)
);
CREATE INDEX mcp_subscriptions_uri ON mcp_subscriptions (uri);
