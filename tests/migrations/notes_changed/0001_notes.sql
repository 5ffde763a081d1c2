-- Edited after it was applied: refused.
CREATE TABLE notes (
    id    TEXT PRIMARY KEY,
    owner TEXT NOT NULL
);
