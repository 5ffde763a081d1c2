-- Login CSRF (issue 12): a pending authorization belongs to the browser that
-- made it. The hash of that browser's pre-authentication cookie; forms posted
-- and pages opened from any other browser are refused. NULL only for requests
-- made before this migration.
ALTER TABLE oauth_pending ADD COLUMN browser_hash TEXT;
