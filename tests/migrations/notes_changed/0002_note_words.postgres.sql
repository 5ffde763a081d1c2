-- PostgreSQL's own: a text_pattern_ops index for prefix search.
CREATE INDEX notes_body_prefix ON notes (lower(body) text_pattern_ops);
CREATE TABLE dialect (name TEXT NOT NULL);
INSERT INTO dialect (name) VALUES ('postgres');
