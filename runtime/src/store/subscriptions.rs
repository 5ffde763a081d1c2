//! Resource subscriptions: which sessions want `notifications/resources/updated`
//! for which URI. Stored, so a subscription made on one replica is honoured when
//! the update happens on another.

use super::{Inner, Store, StoreResult};

// The server's own operations on its tables: `pub` for the black-box store
// suites that run each one on both databases (tests/tests/store.rs), hidden
// from the author's documentation; an app's tables go through `AppStore`.
#[doc(hidden)]
impl Store {
    pub async fn subscribe(&self, session: &str, uri: &str, now: i64) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO mcp_subscriptions (session_id, uri, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (session_id, uri) DO NOTHING",
            )
            .bind(session)
            .bind(uri)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    pub async fn unsubscribe(&self, session: &str, uri: &str) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query("DELETE FROM mcp_subscriptions WHERE session_id = $1 AND uri = $2")
                .bind(session)
                .bind(uri)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// The sessions subscribed to `uri`.
    pub async fn subscribers(&self, uri: &str) -> StoreResult<Vec<String>> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(
            "SELECT session_id FROM mcp_subscriptions WHERE uri = $1 ORDER BY session_id"
        )
        .bind(uri)
        .fetch_all(pool)
        .await?))
    }
}
