-- MCP sessions and their resumable SSE event log. Times are Unix milliseconds.
CREATE TABLE mcp_sessions (
    id                  TEXT PRIMARY KEY,
    owner               TEXT NOT NULL,
    protocol_version    TEXT NOT NULL,
    client_info         TEXT NOT NULL,
    client_capabilities TEXT NOT NULL,
    log_level           TEXT,
    initialized         INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    last_seen           INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL
);
CREATE INDEX mcp_sessions_expires_at ON mcp_sessions (expires_at);

-- One row per SSE stream: its sequence counter survives pruning of old events, so
-- event ids are never reused.
CREATE TABLE mcp_streams (
    session_id TEXT NOT NULL REFERENCES mcp_sessions (id) ON DELETE CASCADE,
    stream_id  TEXT NOT NULL,
    last_seq   INTEGER NOT NULL,
    ended      INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (session_id, stream_id)
);

CREATE TABLE mcp_events (
    session_id TEXT NOT NULL,
    stream_id  TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    message    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
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
    created_at INTEGER NOT NULL,
    PRIMARY KEY (session_id, request_id)
);
