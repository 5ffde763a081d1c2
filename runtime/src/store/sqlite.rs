//! SQLite backend: one file, WAL mode, created on first run. Serves one process;
//! several replicas need PostgreSQL.

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{EventRow, SessionRow, StoreResult, StreamState};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Clone)]
pub(super) struct SqliteStore {
    pub(super) pool: SqlitePool,
}

impl SqliteStore {
    pub(super) async fn connect(
        url: &str,
        deadline: Duration,
        acquire: Duration,
    ) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(deadline)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(acquire)
            .connect_with(options)
            .await?;
        let mut migrator =
            sqlx::migrate::Migrator::with_migrations(MIGRATOR.iter().cloned().collect());
        migrator.dangerous_set_table_name("_gatehouse_migrations");
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    pub(super) async fn create_session(&self, s: &SessionRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO mcp_sessions (id, owner, protocol_version, client_info, client_capabilities, \
             log_level, initialized, created_at, last_seen, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&s.id)
        .bind(&s.owner)
        .bind(&s.protocol_version)
        .bind(&s.client_info)
        .bind(&s.client_capabilities)
        .bind(&s.log_level)
        .bind(s.initialized)
        .bind(s.created_at)
        .bind(s.last_seen)
        .bind(s.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn session(&self, id: &str, now: i64) -> StoreResult<Option<SessionRow>> {
        Ok(sqlx::query_as::<_, SessionRow>(
            "SELECT id, owner, protocol_version, client_info, client_capabilities, log_level, \
             initialized, created_at, last_seen, expires_at \
             FROM mcp_sessions WHERE id = ? AND expires_at > ?",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub(super) async fn touch_session(
        &self,
        id: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE mcp_sessions SET last_seen = ?, expires_at = ? WHERE id = ?")
            .bind(now)
            .bind(expires_at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(super) async fn mark_initialized(&self, id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE mcp_sessions SET initialized = 1 WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(super) async fn set_log_level(&self, id: &str, level: &str) -> StoreResult<()> {
        sqlx::query("UPDATE mcp_sessions SET log_level = ? WHERE id = ?")
            .bind(level)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(super) async fn delete_session(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM mcp_sessions WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub(super) async fn delete_expired_sessions(&self, now: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM mcp_sessions WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    pub(super) async fn open_stream(
        &self,
        session: &str,
        stream: &str,
        now: i64,
    ) -> StoreResult<StreamState> {
        Ok(sqlx::query_as::<_, StreamState>(
            "INSERT INTO mcp_streams (session_id, stream_id, last_seq, ended, updated_at) \
             VALUES (?, ?, 0, 0, ?) \
             ON CONFLICT (session_id, stream_id) DO UPDATE SET updated_at = excluded.updated_at \
             RETURNING last_seq, ended",
        )
        .bind(session)
        .bind(stream)
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }

    pub(super) async fn append_event(
        &self,
        session: &str,
        stream: &str,
        message: &str,
        end: bool,
        now: i64,
    ) -> StoreResult<i64> {
        // One transaction: bump the stream's counter, then log the event under it.
        let mut tx = self.pool.begin().await?;
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO mcp_streams (session_id, stream_id, last_seq, ended, updated_at) \
             VALUES (?1, ?2, 1, ?3, ?4) \
             ON CONFLICT (session_id, stream_id) DO UPDATE \
             SET last_seq = last_seq + 1, ended = ?3, updated_at = ?4 \
             RETURNING last_seq",
        )
        .bind(session)
        .bind(stream)
        .bind(end)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO mcp_events (session_id, stream_id, seq, message, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(session)
        .bind(stream)
        .bind(seq)
        .bind(message)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(seq)
    }

    pub(super) async fn end_stream(
        &self,
        session: &str,
        stream: &str,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO mcp_streams (session_id, stream_id, last_seq, ended, updated_at) \
             VALUES (?1, ?2, 0, 1, ?3) \
             ON CONFLICT (session_id, stream_id) DO UPDATE SET ended = 1, updated_at = ?3",
        )
        .bind(session)
        .bind(stream)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn stream_state(
        &self,
        session: &str,
        stream: &str,
    ) -> StoreResult<Option<StreamState>> {
        Ok(sqlx::query_as::<_, StreamState>(
            "SELECT last_seq, ended FROM mcp_streams WHERE session_id = ? AND stream_id = ?",
        )
        .bind(session)
        .bind(stream)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub(super) async fn events_after(
        &self,
        session: &str,
        stream: &str,
        after_seq: i64,
    ) -> StoreResult<Vec<EventRow>> {
        Ok(sqlx::query_as::<_, EventRow>(
            "SELECT seq, message FROM mcp_events \
             WHERE session_id = ? AND stream_id = ? AND seq > ? ORDER BY seq",
        )
        .bind(session)
        .bind(stream)
        .bind(after_seq)
        .fetch_all(&self.pool)
        .await?)
    }

    pub(super) async fn prune_events(&self, before: i64, keep: i64) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM mcp_events WHERE created_at < ?1 OR rowid IN ( \
               SELECT rowid FROM ( \
                 SELECT rowid, ROW_NUMBER() OVER ( \
                   PARTITION BY session_id ORDER BY created_at DESC, seq DESC) AS rn \
                 FROM mcp_events) \
               WHERE rn > ?2)",
        )
        .bind(before)
        .bind(keep)
        .execute(&self.pool)
        .await?;
        sqlx::query(
            "DELETE FROM mcp_streams WHERE ended = 1 AND updated_at < ?1 AND NOT EXISTS ( \
               SELECT 1 FROM mcp_events e \
               WHERE e.session_id = mcp_streams.session_id AND e.stream_id = mcp_streams.stream_id)",
        )
        .bind(before)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
