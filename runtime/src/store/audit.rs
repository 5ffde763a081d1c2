//! The audit log's table (`audit_events`), one SQL text for both stores.

use super::{Inner, Store, StoreResult};

/// One recorded event.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    /// Unix milliseconds.
    pub at: i64,
    pub event: String,
    pub outcome: String,
    pub user_id: Option<String>,
    /// Who the event is about when there is no user id (the email given at a
    /// failed sign-in, a provider's subject).
    pub subject: Option<String>,
    pub client_id: Option<String>,
    pub address: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

// The server's own operations on its tables: `pub` for the black-box store
// suites that run each one on both databases (tests/tests/store.rs), hidden
// from the author's documentation; an app's tables go through `AppStore`.
#[doc(hidden)]
impl Store {
    pub async fn insert_audit(&self, row: &AuditRow) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO audit_events (at, event, outcome, user_id, subject, client_id, address, \
                 user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(row.at)
            .bind(&row.event)
            .bind(&row.outcome)
            .bind(&row.user_id)
            .bind(&row.subject)
            .bind(&row.client_id)
            .bind(&row.address)
            .bind(&row.user_agent)
            .bind(&row.detail)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Events since `since` (ms), of `user_id` when given, newest last, at
    /// most `limit`.
    pub async fn audit_events(
        &self,
        user_id: Option<&str>,
        since: i64,
        limit: i64,
    ) -> StoreResult<Vec<AuditRow>> {
        on_pool!(self, |pool| {
            Ok(sqlx::query_as::<_, AuditRow>(
            "SELECT id, at, event, outcome, user_id, subject, client_id, address, user_agent, detail \
             FROM (SELECT * FROM audit_events WHERE at >= $1 AND (CAST($2 AS TEXT) IS NULL OR user_id = CAST($2 AS TEXT)) \
             ORDER BY at DESC, id DESC LIMIT $3) recent ORDER BY at, id"
        )
        .bind(since)
        .bind(user_id)
        .bind(limit)
        .fetch_all(pool)
        .await?)
        })
    }
}
