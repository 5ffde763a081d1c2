//! MCP sessions: created by `initialize`, stored (so a restart or another replica
//! serves them), bound to the user who created them, ended by DELETE or expiry.

use std::time::Duration;

use serde_json::Value;

use super::context::LogLevel;
use super::version::ProtocolVersion;
use crate::store::{SessionRow, Store, StoreResult, now_ms};

/// How often `last_seen` is written at most (or a quarter of the idle timeout, if
/// shorter); requests within this window do not write.
const TOUCH_EVERY_MS: i64 = 60_000;

/// A live session as a request sees it.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub id: String,
    pub owner: String,
    pub version: ProtocolVersion,
    pub client_capabilities: Value,
    pub log_level: Option<LogLevel>,
    last_seen: i64,
}

impl Session {
    fn from_row(row: SessionRow) -> Option<Session> {
        Some(Session {
            version: ProtocolVersion::parse(&row.protocol_version)?,
            client_capabilities: serde_json::from_str(&row.client_capabilities)
                .unwrap_or(Value::Null),
            log_level: row.log_level.as_deref().and_then(LogLevel::parse),
            owner: row.owner,
            last_seen: row.last_seen,
            id: row.id,
        })
    }
}

#[derive(Clone)]
pub(crate) struct Sessions {
    store: Store,
    idle_timeout: Duration,
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
        let Some(row) = self.store.session(id, now).await? else {
            return Ok(None);
        };
        let Some(session) = Session::from_row(row).filter(|s| s.owner == owner) else {
            return Ok(None);
        };
        let every = TOUCH_EVERY_MS.min(self.idle_timeout.as_millis() as i64 / 4);
        if now - session.last_seen > every {
            self.store.touch_session(id, now, self.expiry(now)).await?;
        }
        Ok(Some(session))
    }

    pub(crate) async fn mark_initialized(&self, id: &str) -> StoreResult<()> {
        self.store.mark_initialized(id).await
    }

    pub(crate) async fn set_log_level(&self, id: &str, level: LogLevel) -> StoreResult<()> {
        self.store.set_log_level(id, level.as_str()).await
    }

    pub(crate) async fn delete(&self, id: &str) -> StoreResult<bool> {
        self.store.delete_session(id).await
    }
}
