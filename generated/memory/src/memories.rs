//! Where memories live: a table in the server's own store (SQLite or PostgreSQL),
//! per owner, with full-text search (FTS5 on SQLite, tsvector on PostgreSQL).

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse::{AppMigrations, AppStore, Store, StoreError};

/// One folder: the table is the same on both databases, the full-text index
/// is each one's own (`0001_memories.sqlite.sql`, `….postgres.sql`).
static MIGRATIONS: AppMigrations = gatehouse::migrations!("migrations");

/// One stored memory.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Memory {
    pub id: String,
    pub text: String,
    /// A JSON array of strings.
    pub tags: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl Memory {
    pub fn tags(&self) -> Vec<String> {
        serde_json::from_str(&self.tags).unwrap_or_default()
    }

    /// RFC 3339, to the millisecond.
    pub fn created_at_rfc3339(&self) -> String {
        rfc3339(self.created_at)
    }
}

pub fn rfc3339(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// A page of the newest-first list, and where the next one starts.
pub struct Page {
    pub memories: Vec<Memory>,
    pub next_cursor: Option<String>,
}

/// A list cursor is not one we issued.
#[derive(Debug, thiserror::Error)]
#[error("invalid cursor: pass back the next_cursor of a previous page")]
pub struct BadCursor;

#[derive(Clone)]
pub struct Memories {
    db: AppStore,
}

/// Search words as a safe full-text query: letters and digits only, any of them.
fn search_terms(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .take(32)
        .collect()
}

fn encode_cursor(m: &Memory) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", m.created_at, m.id))
}

fn decode_cursor(cursor: &str) -> Result<(i64, String), BadCursor> {
    let text = URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(BadCursor)?;
    let (at, id) = text.split_once(':').ok_or(BadCursor)?;
    Ok((at.parse().map_err(|_| BadCursor)?, id.to_string()))
}

impl Memories {
    /// Use the server's store, creating the memory tables on first use
    /// (tracked in `_memory_migrations`).
    pub async fn open(store: &Store) -> Result<Memories, StoreError> {
        Ok(Memories {
            db: AppStore::open(store, "memory", &MIGRATIONS).await?,
        })
    }

    pub async fn add(
        &self,
        owner: &str,
        text: &str,
        tags: &[String],
        now: i64,
    ) -> Result<Memory, StoreError> {
        let memory = Memory {
            id: uuid::Uuid::new_v4().simple().to_string(),
            text: text.to_string(),
            tags: serde_json::to_string(tags).unwrap_or_else(|_| "[]".into()),
            created_at: now,
        };
        self.db
            .query("INSERT INTO memories (id, owner, text, tags, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&memory.id)
            .bind(owner)
            .bind(&memory.text)
            .bind(&memory.tags)
            .bind(memory.created_at)
            .execute()
            .await?;
        Ok(memory)
    }

    /// Best matches first; any of the query's words matches (FTS5 on SQLite,
    /// a tsquery on PostgreSQL).
    pub async fn search(
        &self,
        owner: &str,
        query: &str,
        limit: i64,
    ) -> Result<Vec<Memory>, StoreError> {
        let terms = search_terms(query);
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let q = self.db.dialect(
            "SELECT m.id, m.text, m.tags, m.created_at FROM memories_fts f \
             JOIN memories m ON m.rowid = f.rowid \
             WHERE memories_fts MATCH $1 AND m.owner = $2 \
             ORDER BY bm25(memories_fts), m.created_at DESC LIMIT $3",
            "SELECT id, text, tags, created_at FROM memories, to_tsquery('english', $1) q \
             WHERE owner = $2 AND search @@ q \
             ORDER BY ts_rank(search, q) DESC, created_at DESC LIMIT $3",
        );
        let terms = match self.db.backend() {
            gatehouse::Backend::Sqlite => terms
                .iter()
                .map(|t| format!("\"{t}\""))
                .collect::<Vec<_>>()
                .join(" OR "),
            gatehouse::Backend::Postgres => terms.join(" | "),
        };
        q.bind(terms).bind(owner).bind(limit).fetch_all().await
    }

    /// Newest first, `limit` at a time.
    pub async fn list(
        &self,
        owner: &str,
        cursor: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Page> {
        let (before_at, before_id) = match cursor {
            Some(c) => decode_cursor(c)?,
            None => (i64::MAX, String::new()),
        };
        let mut rows: Vec<Memory> = self
            .db
            .query(
                "SELECT id, text, tags, created_at FROM memories \
                 WHERE owner = $1 AND (created_at < $2 OR (created_at = $2 AND ($3 = '' OR id < $3))) \
                 ORDER BY created_at DESC, id DESC LIMIT $4",
            )
            .bind(owner)
            .bind(before_at)
            .bind(before_id)
            .bind(limit + 1)
            .fetch_all()
            .await?;
        let next_cursor = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(encode_cursor)
        } else {
            None
        };
        Ok(Page {
            memories: rows,
            next_cursor,
        })
    }

    pub async fn get(&self, owner: &str, id: &str) -> Result<Option<Memory>, StoreError> {
        self.db
            .query("SELECT id, text, tags, created_at FROM memories WHERE owner = $1 AND id = $2")
            .bind(owner)
            .bind(id)
            .fetch_optional()
            .await
    }

    pub async fn delete(&self, owner: &str, id: &str) -> Result<bool, StoreError> {
        let deleted = self
            .db
            .query("DELETE FROM memories WHERE owner = $1 AND id = $2")
            .bind(owner)
            .bind(id)
            .execute()
            .await?;
        Ok(deleted > 0)
    }

    /// The owner's distinct tags starting with `prefix` (for completion).
    pub async fn tags_starting_with(
        &self,
        owner: &str,
        prefix: &str,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = self
            .db
            .query("SELECT tags FROM memories WHERE owner = $1 ORDER BY created_at DESC LIMIT 500")
            .bind(owner)
            .fetch_all()
            .await?;
        let prefix = prefix.to_lowercase();
        let mut tags: Vec<String> = rows
            .iter()
            .flat_map(|(t,)| serde_json::from_str::<Vec<String>>(t).unwrap_or_default())
            .filter(|t| t.to_lowercase().starts_with(&prefix))
            .collect();
        tags.sort();
        tags.dedup();
        Ok(tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_terms_are_plain_words() {
        assert_eq!(
            search_terms("coffee, \"tea\" OR NEAR(x)"),
            ["coffee", "tea", "or", "near", "x"]
        );
        assert!(search_terms("  ***  ").is_empty());
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let m = Memory {
            id: "abc".into(),
            text: String::new(),
            tags: "[]".into(),
            created_at: 42,
        };
        assert_eq!(
            decode_cursor(&encode_cursor(&m)).unwrap(),
            (42, "abc".to_string())
        );
        assert!(decode_cursor("%%%").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("nocolon")).is_err());
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
    }
}
