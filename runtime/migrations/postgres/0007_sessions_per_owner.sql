-- Live sessions per user are capped (issue 12): the oldest beyond the cap are
-- found by owner, least recently used first.
CREATE INDEX mcp_sessions_owner ON mcp_sessions (owner, last_seen);
