-- Memories, per user, with a full-text index (tsvector, English stemming).
CREATE TABLE memories (
    id         TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    text       TEXT NOT NULL,
    tags       TEXT NOT NULL DEFAULT '[]', -- a JSON array of strings
    created_at BIGINT NOT NULL,            -- Unix milliseconds
    search     TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', text || ' ' || tags)) STORED
);
CREATE INDEX memories_owner_created ON memories (owner, created_at DESC, id DESC);
CREATE INDEX memories_search ON memories USING GIN (search);
