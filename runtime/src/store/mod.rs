//! The store: every piece of state a restart or a second replica needs, behind one
//! API over SQLite (the default, a file created on first run) and PostgreSQL (for
//! production and several replicas). Each backend has its own module and its own
//! migrations, applied at connect.

/// Run the same query code against whichever pool the store has (for SQL that is
/// the same on both backends: `$n` placeholders, `ON CONFLICT`, `RETURNING`).
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        $crate::store::within($store.deadline, async {
            let result: $crate::store::StoreResult<_> = match &$store.inner {
                Inner::Sqlite(s) => {
                    let $pool = &s.pool;
                    $body
                }
                Inner::Postgres(s) => {
                    let $pool = &s.pool;
                    $body
                }
            };
            result
        })
        .await
    };
}

mod app_tables;
mod audit;
mod oauth;
mod postgres;
mod sqlite;
mod subscriptions;
mod upstream;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{PgPool, SqlitePool};

pub use self::app_tables::{AppMigration, AppMigrations, AppStore, Arg, Query};
pub use self::audit::AuditRow;
pub use self::oauth::{
    AccessStatus, BrowserSession, ClientRow, CodeRow, CodeUse, FamilyRow, KeyRow, PendingRow,
    RefreshRow, Rotation, UserRow,
};
pub use self::postgres::NOTIFY_CHANNEL;
pub use self::upstream::{TransactionRow, UpstreamProfile, UpstreamTokenRow};

/// A store error: the database failed or could not be reached. Maps to HTTP 503 at
/// the transport (the request may succeed when retried) and is logged with detail.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names neither SQLite nor PostgreSQL.
    #[error("unsupported database URL `{0}`: expected sqlite://… or postgres://…")]
    UnsupportedUrl(String),
    /// The database refused or failed a statement, or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed (or one that ran was changed afterwards).
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// No answer within the store's deadline (`GATEHOUSE_DB_TIMEOUT`).
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
    /// An app's name for its tables (`AppStore::open`) that cannot be part
    /// of a table name.
    #[error("app name `{0}` must be 1 to 40 of a-z, 0-9 and `_`, starting with a letter")]
    BadAppName(String),
}

/// The result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Which database a store uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (the default: one file, nothing to run).
    Sqlite,
    /// PostgreSQL (production, several replicas).
    Postgres,
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Inner,
    /// Counts revocations made through this process (tokens, families, clients,
    /// grants, users), so caches of verified tokens know to re-read at once.
    revocations: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The longest one store call may take.
    deadline: Duration,
}

#[derive(Clone)]
enum Inner {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

/// A stored MCP session.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub owner: String,
    pub protocol_version: String,
    pub client_info: String,
    pub client_capabilities: String,
    pub log_level: Option<String>,
    pub initialized: bool,
    pub created_at: i64,
    pub last_seen: i64,
    pub expires_at: i64,
}

/// One logged SSE event.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct EventRow {
    pub seq: i64,
    pub message: String,
}

/// Where a stream stands: its newest sequence number and whether it has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, sqlx::FromRow)]
pub struct StreamState {
    pub last_seq: i64,
    pub ended: bool,
}

/// Now, in Unix milliseconds (the store's time unit).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        within($self.deadline, async {
            match &$self.inner {
                Inner::Sqlite(s) => s.$method($($arg),*).await,
                Inner::Postgres(s) => s.$method($($arg),*).await,
            }
        })
        .await
    };
}

/// How long one store call may take by default (`GATEHOUSE_DB_TIMEOUT`).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);

/// How long a pool waits for a connection (a stopped database refuses at
/// once; this bounds the retries).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// What clients are told to wait (`Retry-After`, seconds) when the store fails.
pub const OUTAGE_RETRY_AFTER: u64 = 5;

/// Run one store call under `deadline` (issue 12): a database that is down
/// fails fast through the pools' acquire timeout, and one that hangs (a
/// stalled connection, a lock never released) ends here, so every request
/// answers 503 within seconds instead of waiting for ever.
pub(crate) async fn within<T>(
    deadline: Duration,
    call: impl Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    match tokio::time::timeout(deadline, call).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Timeout(deadline)),
    }
}

impl Store {
    /// Connect and migrate. `sqlite://path` creates the file if needed (WAL mode);
    /// `postgres://…` connects to an existing database.
    pub async fn connect(url: &str) -> StoreResult<Store> {
        Store::connect_with_deadline(url, DEFAULT_DEADLINE).await
    }

    /// Connect with a deadline for each store call: SQLite's busy timeout,
    /// PostgreSQL's `statement_timeout` (so the server gives up too) and the
    /// client-side limit the store puts on every call.
    pub async fn connect_with_deadline(url: &str, deadline: Duration) -> StoreResult<Store> {
        let inner = if url.starts_with("sqlite:") {
            Inner::Sqlite(sqlite::SqliteStore::connect(url, deadline, ACQUIRE_TIMEOUT).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Inner::Postgres(postgres::PgStore::connect(url, deadline, ACQUIRE_TIMEOUT).await?)
        } else {
            return Err(StoreError::UnsupportedUrl(redact_url(url)));
        };
        Ok(Store {
            inner,
            revocations: Default::default(),
            deadline,
        })
    }

    /// How many revocations this process has made: a cache of verified
    /// tokens re-reads their status when this moves.
    pub(crate) fn revocations(&self) -> u64 {
        self.revocations.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Run `write`, which revokes something, then count it: after the write, so
    /// a cache that read "active" before the write re-reads
    /// ([`Store::revocations`]).
    pub(crate) async fn revoking<T>(
        &self,
        write: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let result = write.await;
        self.revocations
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        result
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match &self.inner {
            Inner::Sqlite(_) => Backend::Sqlite,
            Inner::Postgres(_) => Backend::Postgres,
        }
    }

    /// The SQLite pool, for applications that keep their own tables here.
    pub fn sqlite(&self) -> Option<&SqlitePool> {
        match &self.inner {
            Inner::Sqlite(s) => Some(&s.pool),
            Inner::Postgres(_) => None,
        }
    }

    /// The PostgreSQL pool, for applications that keep their own tables here.
    pub fn postgres(&self) -> Option<&PgPool> {
        match &self.inner {
            Inner::Postgres(s) => Some(&s.pool),
            Inner::Sqlite(_) => None,
        }
    }

    /// Whether the database answers (`SELECT 1`).
    pub async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
            Ok(())
        })
    }

    /// Close the pool (waits for connections to be returned).
    pub async fn close(&self) {
        match &self.inner {
            Inner::Sqlite(s) => s.pool.close().await,
            Inner::Postgres(s) => s.pool.close().await,
        }
    }
}

// The server's own operations on its tables: `pub` for the black-box store
// suites that run each one on both databases (tests/tests/store.rs), hidden
// from the author's documentation; an app's tables go through `AppStore`.
#[doc(hidden)]
impl Store {
    // --- sessions -------------------------------------------------------------

    pub async fn create_session(&self, session: &SessionRow) -> StoreResult<()> {
        dispatch!(self.create_session(session))
    }

    /// A session that exists and has not expired at `now`.
    pub async fn session(&self, id: &str, now: i64) -> StoreResult<Option<SessionRow>> {
        dispatch!(self.session(id, now))
    }

    /// Record activity: move `last_seen` and the expiry forward.
    pub async fn touch_session(&self, id: &str, now: i64, expires_at: i64) -> StoreResult<()> {
        dispatch!(self.touch_session(id, now, expires_at))
    }

    pub async fn mark_initialized(&self, id: &str) -> StoreResult<()> {
        dispatch!(self.mark_initialized(id))
    }

    pub async fn set_log_level(&self, id: &str, level: &str) -> StoreResult<()> {
        dispatch!(self.set_log_level(id, level))
    }

    /// Delete a session with its streams and events; false if it did not exist.
    pub async fn delete_session(&self, id: &str) -> StoreResult<bool> {
        dispatch!(self.delete_session(id))
    }

    /// Keep `owner`'s `keep` most recently used sessions and delete the rest;
    /// the ids deleted.
    pub async fn evict_sessions(&self, owner: &str, keep: i64) -> StoreResult<Vec<String>> {
        on_pool!(self, |pool| {
            Ok(sqlx::query_scalar::<_, String>(
            "DELETE FROM mcp_sessions WHERE owner = $1 AND id NOT IN \
             (SELECT id FROM mcp_sessions WHERE owner = $1 ORDER BY last_seen DESC, created_at DESC LIMIT $2) \
             RETURNING id"
        )
        .bind(owner)
        .bind(keep)
        .fetch_all(pool)
        .await?)
        })
    }

    /// Delete sessions that expired before `now`; returns how many.
    pub async fn delete_expired_sessions(&self, now: i64) -> StoreResult<u64> {
        dispatch!(self.delete_expired_sessions(now))
    }

    // --- the SSE event log ----------------------------------------------------

    /// Make sure a stream exists (so its first event id can be handed out) and
    /// return where it stands.
    pub async fn open_stream(
        &self,
        session: &str,
        stream: &str,
        now: i64,
    ) -> StoreResult<StreamState> {
        dispatch!(self.open_stream(session, stream, now))
    }

    /// Append a message to a stream, atomically taking the next sequence number;
    /// `end` marks the stream finished. Other replicas are signalled (PostgreSQL).
    pub async fn append_event(
        &self,
        session: &str,
        stream: &str,
        message: &str,
        end: bool,
        now: i64,
    ) -> StoreResult<i64> {
        dispatch!(self.append_event(session, stream, message, end, now))
    }

    /// Mark a stream finished without a further message.
    pub async fn end_stream(&self, session: &str, stream: &str, now: i64) -> StoreResult<()> {
        dispatch!(self.end_stream(session, stream, now))
    }

    pub async fn stream_state(
        &self,
        session: &str,
        stream: &str,
    ) -> StoreResult<Option<StreamState>> {
        dispatch!(self.stream_state(session, stream))
    }

    /// Events of a stream after `after_seq`, oldest first.
    pub async fn events_after(
        &self,
        session: &str,
        stream: &str,
        after_seq: i64,
    ) -> StoreResult<Vec<EventRow>> {
        dispatch!(self.events_after(session, stream, after_seq))
    }

    /// Drop events older than `before` and all but the newest `keep` per session;
    /// returns how many were deleted.
    pub async fn prune_events(&self, before: i64, keep: i64) -> StoreResult<u64> {
        dispatch!(self.prune_events(before, keep))
    }

    // --- cross-replica signals --------------------------------------------------

    /// Publish a signal to every replica (PostgreSQL NOTIFY; a no-op on SQLite,
    /// which serves a single process).
    pub async fn publish(&self, payload: &str) -> StoreResult<()> {
        match &self.inner {
            Inner::Sqlite(_) => Ok(()),
            Inner::Postgres(s) => within(self.deadline, s.publish(payload)).await,
        }
    }

    /// Say that a replica waits for the client's answer to `request_id`
    /// (an empty row): only such answers are kept (issue 12).
    pub async fn await_client_response(
        &self,
        session: &str,
        request_id: &str,
        now: i64,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO mcp_client_responses (session_id, request_id, message, created_at) \
                 VALUES ($1, $2, '', $3) ON CONFLICT (session_id, request_id) DO NOTHING",
            )
            .bind(session)
            .bind(request_id)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Keep a client's response to a server-to-client request for the replica
    /// that is waiting for it: false (nothing kept) when no replica waits for
    /// it, or it was answered already.
    pub async fn put_client_response(
        &self,
        session: &str,
        request_id: &str,
        message: &str,
    ) -> StoreResult<bool> {
        on_pool!(self, |pool| {
            let done = sqlx::query(
                "UPDATE mcp_client_responses SET message = $3 \
                 WHERE session_id = $1 AND request_id = $2 AND message = ''",
            )
            .bind(session)
            .bind(request_id)
            .bind(message)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// Take (read and delete) a stored client response, once it has arrived.
    pub async fn take_client_response(
        &self,
        session: &str,
        request_id: &str,
    ) -> StoreResult<Option<String>> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(
            "DELETE FROM mcp_client_responses WHERE session_id = $1 AND request_id = $2 \
             AND message <> '' RETURNING message",
        )
        .bind(session)
        .bind(request_id)
        .fetch_optional(pool)
        .await?))
    }

    /// Stop waiting for an answer (answered, timed out or cancelled).
    pub async fn forget_client_response(&self, session: &str, request_id: &str) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "DELETE FROM mcp_client_responses WHERE session_id = $1 AND request_id = $2",
            )
            .bind(session)
            .bind(request_id)
            .execute(pool)
            .await?;
            Ok(())
        })
    }
}

/// A database URL fit for a log line: the password replaced.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A call that never finishes ends at the deadline as `Timeout`.
    #[tokio::test]
    async fn calls_end_at_the_deadline() {
        let hung = std::future::pending::<StoreResult<()>>();
        let started = std::time::Instant::now();
        let result = within(Duration::from_millis(50), hung).await;
        assert!(matches!(result, Err(StoreError::Timeout(d)) if d == Duration::from_millis(50)));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            within(Duration::from_secs(1), async { Ok(7) })
                .await
                .unwrap(),
            7
        );
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://me:secret@db:5432/x"),
            "postgres://me:***@db:5432/x"
        );
        assert_eq!(redact_url("sqlite://gatehouse.db"), "sqlite://gatehouse.db");
    }
}
