-- MCP sessions and their resumable SSE event log. Times are Unix milliseconds.
CREATE TABLE mcp_sessions (
    id                  TEXT PRIMARY KEY,
    owner               TEXT NOT NULL,
    protocol_version    TEXT NOT NULL,
    client_info         TEXT NOT NULL,
    client_capabilities TEXT NOT NULL,
    log_level           TEXT,
    initialized         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at          BIGINT NOT NULL,
    last_seen           BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL
);
CREATE INDEX mcp_sessions_expires_at ON mcp_sessions (expires_at);

-- One row per SSE stream: its sequence counter survives pruning of old events, so
-- event ids are never reused.
CREATE TABLE mcp_streams (
    session_id TEXT NOT NULL REFERENCES mcp_sessions (id) ON DELETE CASCADE,
    stream_id  TEXT NOT NULL,
    last_seq   BIGINT NOT NULL,
    ended      BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, stream_id)
);

CREATE TABLE mcp_events (
    session_id TEXT NOT NULL,
    stream_id  TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    message    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, stream_id, seq),
    FOREIGN KEY (session_id, stream_id) REFERENCES mcp_streams (session_id, stream_id) ON DELETE CASCADE
);
CREATE INDEX mcp_events_created_at ON mcp_events (created_at);

-- Responses to server-to-client requests that arrived at a process other than the
-- one waiting for them.
CREATE TABLE mcp_client_responses (
    session_id TEXT NOT NULL REFERENCES mcp_sessions (id) ON DELETE CASCADE,
    request_id TEXT NOT NULL,
    message    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, request_id)
);
