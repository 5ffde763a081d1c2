-- Limits on what anyone may call (issue 12): a pending authorization counts
-- its failed sign-ins (it is given up after a few) and remembers the client
-- address that made it (live pending requests per address are capped).
ALTER TABLE oauth_pending ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE oauth_pending ADD COLUMN client_ip TEXT;
CREATE INDEX oauth_pending_client_ip ON oauth_pending (client_ip, expires_at);
