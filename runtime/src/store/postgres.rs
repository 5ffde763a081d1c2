//! PostgreSQL backend: for production and for several replicas behind a load
//! balancer. Appending an event also sends a `NOTIFY` on [`NOTIFY_CHANNEL`], in the
//! same statement, so whichever replica holds the stream wakes up at commit.

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::{EventRow, SessionRow, StoreResult, StreamState};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The channel every replica listens on. Payloads are the text signals parsed by
/// `mcp::broker::Signal` (`E <session> <stream> <seq>` for a new event).
pub const NOTIFY_CHANNEL: &str = "gatehouse";

#[derive(Clone)]
pub(super) struct PgStore {
    pub(super) pool: PgPool,
}

impl PgStore {
    pub(super) async fn connect(
        url: &str,
        deadline: Duration,
        acquire: Duration,
    ) -> StoreResult<PgStore> {
        let statement_timeout = deadline.as_millis().to_string();
        let options = PgConnectOptions::from_str(url)?
            .application_name("gatehouse")
            .options([("statement_timeout", statement_timeout.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(acquire)
            .connect_with(options)
            .await?;
        let mut migrator =
            sqlx::migrate::Migrator::with_migrations(MIGRATOR.iter().cloned().collect());
        migrator.dangerous_set_table_name("_gatehouse_migrations");
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await?;
        Ok(PgStore { pool })
    }

    pub(super) async fn create_session(&self, s: &SessionRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO mcp_sessions (id, owner, protocol_version, client_info, client_capabilities, \
             log_level, initialized, created_at, last_seen, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
             FROM mcp_sessions WHERE id = $1 AND expires_at > $2",
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
        sqlx::query("UPDATE mcp_sessions SET last_seen = $1, expires_at = $2 WHERE id = $3")
            .bind(now)
            .bind(expires_at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(super) async fn mark_initialized(&self, id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE mcp_sessions SET initialized = TRUE WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(super) async fn set_log_level(&self, id: &str, level: &str) -> StoreResult<()> {
        sqlx::query("UPDATE mcp_sessions SET log_level = $1 WHERE id = $2")
            .bind(level)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(super) async fn delete_session(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM mcp_sessions WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub(super) async fn delete_expired_sessions(&self, now: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM mcp_sessions WHERE expires_at <= $1")
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
             VALUES ($1, $2, 0, FALSE, $3) \
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
        // One statement: the upsert takes the stream's row lock, so concurrent writers
        // to one stream (on any replica) commit in sequence order; the NOTIFY is
        // delivered at commit, after the event is visible.
        Ok(sqlx::query_scalar(
            "WITH s AS ( \
               INSERT INTO mcp_streams (session_id, stream_id, last_seq, ended, updated_at) \
               VALUES ($1, $2, 1, $4, $5) \
               ON CONFLICT (session_id, stream_id) DO UPDATE \
               SET last_seq = mcp_streams.last_seq + 1, ended = $4, updated_at = $5 \
               RETURNING last_seq), \
             e AS ( \
               INSERT INTO mcp_events (session_id, stream_id, seq, message, created_at) \
               SELECT $1, $2, last_seq, $3, $5 FROM s RETURNING seq) \
             SELECT seq FROM e, LATERAL (SELECT pg_notify($6, 'E ' || $1 || ' ' || $2 || ' ' || seq)) n",
        )
        .bind(session)
        .bind(stream)
        .bind(message)
        .bind(end)
        .bind(now)
        .bind(NOTIFY_CHANNEL)
        .fetch_one(&self.pool)
        .await?)
    }

    pub(super) async fn end_stream(
        &self,
        session: &str,
        stream: &str,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "WITH s AS ( \
               INSERT INTO mcp_streams (session_id, stream_id, last_seq, ended, updated_at) \
               VALUES ($1, $2, 0, TRUE, $3) \
               ON CONFLICT (session_id, stream_id) DO UPDATE SET ended = TRUE, updated_at = $3 \
               RETURNING last_seq) \
             SELECT pg_notify($4, 'E ' || $1 || ' ' || $2 || ' ' || last_seq) FROM s",
        )
        .bind(session)
        .bind(stream)
        .bind(now)
        .bind(NOTIFY_CHANNEL)
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
            "SELECT last_seq, ended FROM mcp_streams WHERE session_id = $1 AND stream_id = $2",
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
             WHERE session_id = $1 AND stream_id = $2 AND seq > $3 ORDER BY seq",
        )
        .bind(session)
        .bind(stream)
        .bind(after_seq)
        .fetch_all(&self.pool)
        .await?)
    }

    pub(super) async fn prune_events(&self, before: i64, keep: i64) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM mcp_events e USING ( \
               SELECT session_id, stream_id, seq, ROW_NUMBER() OVER ( \
                 PARTITION BY session_id ORDER BY created_at DESC, seq DESC) AS rn \
               FROM mcp_events) r \
             WHERE e.session_id = r.session_id AND e.stream_id = r.stream_id AND e.seq = r.seq \
               AND (e.created_at < $1 OR r.rn > $2)",
        )
        .bind(before)
        .bind(keep)
        .execute(&self.pool)
        .await?;
        sqlx::query(
            "DELETE FROM mcp_streams s WHERE s.ended AND s.updated_at < $1 AND NOT EXISTS ( \
               SELECT 1 FROM mcp_events e WHERE e.session_id = s.session_id AND e.stream_id = s.stream_id)",
        )
        .bind(before)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    pub(super) async fn publish(&self, payload: &str) -> StoreResult<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(NOTIFY_CHANNEL)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
