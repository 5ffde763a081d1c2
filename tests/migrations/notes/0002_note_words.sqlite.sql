-- SQLite's own: an expression index on the lower-cased body.
CREATE INDEX notes_body_lower ON notes (lower(body));
CREATE TABLE dialect (name TEXT NOT NULL);
INSERT INTO dialect (name) VALUES ('sqlite');
