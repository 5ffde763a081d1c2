-- Portable: the same SQL on SQLite and PostgreSQL.
CREATE TABLE notes (
    id         TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    body       TEXT NOT NULL,
    stars      BIGINT NOT NULL DEFAULT 0,
    pinned     BOOLEAN NOT NULL DEFAULT FALSE,
    due        BIGINT
);
