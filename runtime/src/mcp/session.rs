//! MCP sessions: created by `initialize`, stored (so a restart or another replica
//! serves them), bound to the user who created them, ended by DELETE or expiry.

use std::sync::Arc;
use std::time::Duration;

use quick_cache::sync::Cache;
use salvo::http::HeaderName;
use serde_json::Value;

use super::logging::LogLevel;
use super::version::ProtocolVersion;
use crate::store::{SessionRow, Store, StoreResult, now_ms};

/// The header that carries the session id (T-19).
pub const SESSION_HEADER: HeaderName = HeaderName::from_static("mcp-session-id");

/// The session's standalone stream (its event-log key), opened by GET
/// without `Last-Event-ID`; notifications unrelated to a request go there.
pub(crate) const STANDALONE_STREAM: &str = "g";

/// How often `last_seen` is written at most (or a quarter of the idle timeout, if
/// shorter); requests within this window do not write.
const TOUCH_EVERY_MS: i64 = 60_000;

/// A live session as a request sees it: shared, so handing it to a request, its
/// context and its stream copies a pointer, not the client's capabilities.
#[derive(Debug, Clone)]
pub(crate) struct Session(Arc<SessionState>);

#[derive(Debug, Clone)]
pub(crate) struct SessionState {
    pub id: String,
    pub owner: String,
    pub version: ProtocolVersion,
    pub client_capabilities: Value,
    pub log_level: Option<LogLevel>,
    /// A 2026-07-28 request's stand-in: no id, nothing stored, no log
    /// messages unless the request asked for a level.
    pub stateless: bool,
    last_seen: i64,
}

impl std::ops::Deref for Session {
    type Target = SessionState;

    fn deref(&self) -> &SessionState {
        &self.0
    }
}

impl Session {
    fn from_row(row: SessionRow) -> Option<Session> {
        Some(Session(Arc::new(SessionState {
            version: ProtocolVersion::parse(&row.protocol_version)?,
            client_capabilities: serde_json::from_str(&row.client_capabilities)
                .unwrap_or(Value::Null),
            log_level: row.log_level.as_deref().and_then(LogLevel::parse),
            owner: row.owner,
            stateless: false,
            last_seen: row.last_seen,
            id: row.id,
        })))
    }

    /// What a 2026-07-28 request runs in: its caller, the capabilities and
    /// log level its `_meta` declares, the latest session-era shapes for its
    /// results; no session id.
    pub(crate) fn stateless(
        owner: &str,
        client_capabilities: Value,
        log_level: Option<LogLevel>,
    ) -> Session {
        Session(Arc::new(SessionState {
            id: String::new(),
            owner: owner.to_string(),
            version: ProtocolVersion::LATEST,
            client_capabilities,
            log_level,
            stateless: true,
            // Never stored, so never touched: no clock read per request.
            last_seen: 0,
        }))
    }

    /// The same session, seen at `now`.
    fn touched(&self, now: i64) -> Session {
        Session(Arc::new(SessionState {
            last_seen: now,
            ..SessionState::clone(&self.0)
        }))
    }
}

/// How long a session read from the store is used without reading it again. A
/// session deleted on any replica (DELETE, expiry, the sweeper) stops working
/// everywhere within a second (PostgreSQL replicas also forget it at once on the
/// broker's signal); this replica's own changes apply at once.
pub(crate) const REREAD_MS: i64 = 500;

/// Sessions remembered at most.
const CACHE_CAPACITY: usize = 100_000;

#[derive(Clone)]
pub(crate) struct Sessions {
    store: Store,
    idle_timeout: Duration,
    /// id → the session and when it was read.
    cache: Arc<Cache<String, (Session, i64)>>,
}

/// A session id: 128 random bits as 32 hex digits, visible ASCII only (T-18).
pub(crate) fn new_session_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Sessions {
    pub(crate) fn new(store: Store, idle_timeout: Duration) -> Sessions {
        Sessions {
            store,
            idle_timeout,
            cache: Arc::new(Cache::new(CACHE_CAPACITY)),
        }
    }

    fn expiry(&self, now: i64) -> i64 {
        now + self.idle_timeout.as_millis() as i64
    }

    pub(crate) async fn create(
        &self,
        owner: &str,
        version: ProtocolVersion,
        client_info: &Value,
        client_capabilities: &Value,
    ) -> StoreResult<Session> {
        let now = now_ms();
        let row = SessionRow {
            id: new_session_id(),
            owner: owner.to_string(),
            protocol_version: version.as_str().to_string(),
            client_info: client_info.to_string(),
            client_capabilities: client_capabilities.to_string(),
            log_level: None,
            initialized: false,
            created_at: now,
            last_seen: now,
            expires_at: self.expiry(now),
        };
        self.store.create_session(&row).await?;
        Ok(Session::from_row(row).expect("a version we just wrote parses"))
    }

    /// The session, if it exists, has not expired and belongs to `owner`. Another
    /// user's session id reads as unknown (404), never as forbidden: that would
    /// confirm the id exists (MCP-REQUIREMENTS 4.3).
    pub(crate) async fn get(&self, id: &str, owner: &str) -> StoreResult<Option<Session>> {
        let now = now_ms();
        let cached = self.cache.get(id).filter(|entry| now - entry.1 < REREAD_MS);
        let (mut session, read_at, from_store) = match cached {
            Some((session, read_at)) => (session, read_at, false),
            None => {
                let Some(row) = self.store.session(id, now).await? else {
                    self.cache.remove(id);
                    return Ok(None);
                };
                let Some(session) = Session::from_row(row) else {
                    return Ok(None);
                };
                (session, now, true)
            }
        };
        if session.owner != owner {
            return Ok(None);
        }
        let every = TOUCH_EVERY_MS.min(self.idle_timeout.as_millis() as i64 / 4);
        let touched = now - session.last_seen > every;
        if touched {
            self.store.touch_session(id, now, self.expiry(now)).await?;
            session = session.touched(now);
        }
        if from_store || touched {
            self.cache
                .insert(id.to_string(), (session.clone(), read_at));
        }
        Ok(Some(session))
    }

    /// (Whether a session is initialized is not part of the cached `Session`.)
    pub(crate) async fn mark_initialized(&self, id: &str) -> StoreResult<()> {
        self.store.mark_initialized(id).await
    }

    pub(crate) async fn set_log_level(&self, id: &str, level: LogLevel) -> StoreResult<()> {
        self.store.set_log_level(id, level.as_str()).await?;
        // After the write: a read racing it cannot leave the old level cached.
        self.cache.remove(id);
        Ok(())
    }

    pub(crate) async fn delete(&self, id: &str) -> StoreResult<bool> {
        let deleted = self.store.delete_session(id).await?;
        // After the write: a read racing it cannot leave the session cached.
        self.cache.remove(id);
        Ok(deleted)
    }

    /// Another replica deleted the session (a broker signal): forget it now.
    pub(crate) fn forget(&self, id: &str) {
        self.cache.remove(id);
    }
}
