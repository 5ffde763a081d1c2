//! The state of upstream sign-in: login transactions (U-1), identities at
//! providers mapped to internal users (U-11..U-13) and, where a provider keeps
//! them, its sealed tokens (U-14). One SQL text serves both backends.

use super::{Inner, Store, StoreResult, UserRow};

/// A round trip to a provider, as stored (U-1).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TransactionRow {
    pub state_hash: String,
    /// The spec's provider name.
    pub provider: String,
    /// The pending authorization request it resumes.
    pub pending_hash: String,
    /// The hash of the cookie of the browser that started it.
    pub browser_hash: String,
    pub nonce: String,
    pub code_verifier: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// An identity of a user: a local account (`provider = 'local'`) or an
/// upstream one (`provider` = the issuer).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct IdentityRow {
    pub provider: String,
    pub subject: String,
    pub user_id: String,
    pub provider_name: Option<String>,
    pub email: Option<String>,
    pub email_verified: i64,
    pub name: Option<String>,
    pub created_at: i64,
    pub last_sign_in_at: Option<i64>,
    /// Local accounts: whether a password still works.
    pub has_password: bool,
}

/// What a provider said about someone at sign-in.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamProfile {
    /// The issuer (U-11).
    pub provider: String,
    pub subject: String,
    /// The spec's provider name.
    pub provider_name: String,
    /// Normalized (lowercase) when present.
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

/// A provider's tokens for one identity, sealed.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct UpstreamTokenRow {
    pub provider: String,
    pub subject: String,
    pub provider_name: String,
    pub user_id: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: Option<i64>,
    pub scope: Option<String>,
    pub updated_at: i64,
}

/// Insert an upstream identity for `user_id` on a transaction; false when it
/// exists. (A macro: the same code on either backend's transaction.)
macro_rules! insert_identity {
    ($tx:expr, $user_id:expr, $p:expr, $now:expr) => {{
        let done = sqlx::query(
            "INSERT INTO identities (provider, subject, user_id, created_at, provider_name, email, \
             email_verified, name, last_sign_in_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $4) \
             ON CONFLICT (provider, subject) DO NOTHING",
        )
        .bind(&$p.provider)
        .bind(&$p.subject)
        .bind($user_id)
        .bind($now)
        .bind(&$p.provider_name)
        .bind(&$p.email)
        .bind(i64::from($p.email_verified))
        .bind(&$p.name)
        .execute(&mut *$tx)
        .await?;
        done.rows_affected() == 1
    }};
}

const IDENTITY_COLUMNS: &str = "provider, subject, user_id, provider_name, email, email_verified, name, \
     created_at, last_sign_in_at, (password_hash IS NOT NULL) AS has_password";

const TOKEN_COLUMNS: &str = "provider, subject, provider_name, user_id, access_token, refresh_token, \
     expires_at, scope, updated_at";

// The server's own operations on its tables: `pub` for the black-box store
// suites that run each one on both databases (tests/tests/store.rs), hidden
// from the author's documentation; an app's tables go through `AppStore`.
#[doc(hidden)]
impl Store {
    // --- login transactions ---------------------------------------------------------

    pub async fn insert_upstream_transaction(&self, t: &TransactionRow) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO upstream_transactions (state_hash, provider, pending_hash, browser_hash, nonce, \
                 code_verifier, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&t.state_hash)
            .bind(&t.provider)
            .bind(&t.pending_hash)
            .bind(&t.browser_hash)
            .bind(&t.nonce)
            .bind(&t.code_verifier)
            .bind(t.created_at)
            .bind(t.expires_at)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Take a transaction: exactly one caller ever gets it (U-1, single use).
    pub async fn take_upstream_transaction(
        &self,
        state_hash: &str,
    ) -> StoreResult<Option<TransactionRow>> {
        on_pool!(self, |pool| {
            Ok(sqlx::query_as::<_, TransactionRow>(
            "DELETE FROM upstream_transactions WHERE state_hash = $1 RETURNING state_hash, provider, \
             pending_hash, browser_hash, nonce, code_verifier, created_at, expires_at"
        )
        .bind(state_hash)
        .fetch_optional(pool)
        .await?)
        })
    }

    /// Give a live pending authorization request a new id (its old one may have
    /// been seen by the provider's pages); false when it is gone.
    pub async fn rekey_pending(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: i64,
    ) -> StoreResult<bool> {
        on_pool!(self, |pool| {
            let done = sqlx::query(
                "UPDATE oauth_pending SET id_hash = $2 WHERE id_hash = $1 AND expires_at > $3",
            )
            .bind(old_hash)
            .bind(new_hash)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    // --- identities ---------------------------------------------------------------------

    pub async fn identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> StoreResult<Option<IdentityRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as::<_, IdentityRow>(
            sqlx::AssertSqlSafe(format!(
                "SELECT {IDENTITY_COLUMNS} FROM identities WHERE provider = $1 AND subject = $2"
            ))
        )
        .bind(provider)
        .bind(subject)
        .fetch_optional(pool)
        .await?))
    }

    /// Every identity, by user, oldest first.
    pub async fn identities(&self) -> StoreResult<Vec<IdentityRow>> {
        on_pool!(self, |pool| {
            Ok(sqlx::query_as::<_, IdentityRow>(
            sqlx::AssertSqlSafe(format!(
                "SELECT {IDENTITY_COLUMNS} FROM identities ORDER BY user_id, created_at, provider, subject"
            ))
        )
        .fetch_all(pool)
        .await?)
        })
    }

    /// Users whose email is `email` (normalized).
    pub async fn users_with_email(&self, email: &str) -> StoreResult<Vec<UserRow>> {
        on_pool!(self, |pool| {
            Ok(sqlx::query_as::<_, UserRow>(
            "SELECT id, email, name, created_at, disabled_at FROM users WHERE email = $1 ORDER BY created_at"
        )
        .bind(email)
        .fetch_all(pool)
        .await?)
        })
    }

    /// A first sign-in that creates its user: the user and the identity in one
    /// transaction. `Ok(false)` when the identity appeared meanwhile (a
    /// concurrent first sign-in won; read it again). The user's email is the
    /// provider's only when verified.
    pub async fn create_upstream_user(
        &self,
        user_id: &str,
        p: &UpstreamProfile,
        now: i64,
    ) -> StoreResult<bool> {
        let user_email = p.email.as_deref().filter(|_| p.email_verified);
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO users (id, email, name, created_at) VALUES ($1, $2, $3, $4)")
                .bind(user_id)
                .bind(user_email)
                .bind(&p.name)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let inserted = insert_identity!(tx, user_id, p, now);
            if inserted {
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            Ok(inserted)
        })
    }

    /// Link an upstream identity to an existing user (U-13): in the same
    /// transaction, every local account of that user whose email was never
    /// verified stops accepting its password, so whoever registered it before
    /// the real owner arrived cannot sign in with it (pre-account-takeover).
    /// `Ok(false)` when the identity exists already.
    pub async fn link_upstream_identity(
        &self,
        user_id: &str,
        p: &UpstreamProfile,
        now: i64,
    ) -> StoreResult<bool> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let inserted = insert_identity!(tx, user_id, p, now);
            if !inserted {
                tx.rollback().await?;
                return Ok(false);
            }
            sqlx::query(
                "UPDATE identities SET password_hash = NULL \
                 WHERE user_id = $1 AND provider = 'local' AND email_verified = 0",
            )
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// A returning sign-in: the identity's email and name as the provider says
    /// them now; the user's name too, and the user's email when the provider
    /// verified it and the user has no local account (whose email is its
    /// sign-in name).
    pub async fn refresh_upstream_identity(
        &self,
        p: &UpstreamProfile,
        now: i64,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let user_id: Option<String> = sqlx::query_scalar(
                "UPDATE identities SET provider_name = $3, email = $4, email_verified = $5, name = $6, \
                 last_sign_in_at = $7 WHERE provider = $1 AND subject = $2 RETURNING user_id",
            )
            .bind(&p.provider)
            .bind(&p.subject)
            .bind(&p.provider_name)
            .bind(&p.email)
            .bind(i64::from(p.email_verified))
            .bind(&p.name)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(user_id) = user_id {
                if p.name.is_some() {
                    sqlx::query("UPDATE users SET name = $2 WHERE id = $1")
                        .bind(&user_id)
                        .bind(&p.name)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some(email) = p.email.as_deref().filter(|_| p.email_verified) {
                    sqlx::query(
                        "UPDATE users SET email = $2 WHERE id = $1 AND NOT EXISTS \
                         (SELECT 1 FROM identities WHERE user_id = $1 AND provider = 'local')",
                    )
                    .bind(&user_id)
                    .bind(email)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Link an identity by hand (the operator's `users link`); false when that
    /// identity belongs to someone already.
    pub async fn link_identity_by_operator(
        &self,
        user_id: &str,
        provider: &str,
        subject: &str,
        provider_name: &str,
        now: i64,
    ) -> StoreResult<bool> {
        on_pool!(self, |pool| {
            let done = sqlx::query(
                "INSERT INTO identities (provider, subject, user_id, created_at, provider_name) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (provider, subject) DO NOTHING",
            )
            .bind(provider)
            .bind(subject)
            .bind(user_id)
            .bind(now)
            .bind(provider_name)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Remove a user's identities at `provider` (one subject, or all); how many.
    pub async fn unlink_identities(
        &self,
        user_id: &str,
        provider: &str,
        subject: Option<&str>,
    ) -> StoreResult<u64> {
        on_pool!(self, |pool| {
            let done = sqlx::query(
                "DELETE FROM identities WHERE user_id = $1 AND provider = $2 AND ($3 IS NULL OR subject = $3)",
            )
            .bind(user_id)
            .bind(provider)
            .bind(subject)
            .execute(pool)
            .await?;
            Ok(done.rows_affected())
        })
    }

    // --- upstream tokens ----------------------------------------------------------------

    pub async fn save_upstream_tokens(&self, t: &UpstreamTokenRow) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO upstream_tokens (provider, subject, provider_name, user_id, access_token, \
                 refresh_token, expires_at, scope, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (provider, subject) DO UPDATE SET provider_name = excluded.provider_name, \
                 user_id = excluded.user_id, access_token = excluded.access_token, \
                 refresh_token = COALESCE(excluded.refresh_token, upstream_tokens.refresh_token), \
                 expires_at = excluded.expires_at, scope = excluded.scope, updated_at = excluded.updated_at",
            )
            .bind(&t.provider)
            .bind(&t.subject)
            .bind(&t.provider_name)
            .bind(&t.user_id)
            .bind(&t.access_token)
            .bind(&t.refresh_token)
            .bind(t.expires_at)
            .bind(&t.scope)
            .bind(t.updated_at)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// The tokens a user's most recently used identity at a provider left.
    pub async fn upstream_tokens(
        &self,
        user_id: &str,
        provider_name: &str,
    ) -> StoreResult<Option<UpstreamTokenRow>> {
        on_pool!(self, |pool| {
            Ok(sqlx::query_as::<_, UpstreamTokenRow>(
            sqlx::AssertSqlSafe(format!(
                "SELECT {TOKEN_COLUMNS} FROM upstream_tokens WHERE user_id = $1 AND provider_name = $2 \
                 ORDER BY updated_at DESC LIMIT 1"
            ))
        )
        .bind(user_id)
        .bind(provider_name)
        .fetch_optional(pool)
        .await?)
        })
    }

    /// Replace tokens after a refresh, unless someone else refreshed first (the
    /// refresh token is no longer `old_refresh`): then false.
    pub async fn replace_upstream_tokens(
        &self,
        t: &UpstreamTokenRow,
        old_refresh: &str,
    ) -> StoreResult<bool> {
        on_pool!(self, |pool| {
            let done = sqlx::query(
                "UPDATE upstream_tokens SET access_token = $3, refresh_token = $4, expires_at = $5, \
                 scope = COALESCE($6, scope), updated_at = $7 \
                 WHERE provider = $1 AND subject = $2 AND refresh_token = $8",
            )
            .bind(&t.provider)
            .bind(&t.subject)
            .bind(&t.access_token)
            .bind(&t.refresh_token)
            .bind(t.expires_at)
            .bind(&t.scope)
            .bind(t.updated_at)
            .bind(old_refresh)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Every stored provider token set (`keys rewrap`).
    pub async fn all_upstream_tokens(&self) -> StoreResult<Vec<UpstreamTokenRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as::<_, UpstreamTokenRow>(
            sqlx::AssertSqlSafe(format!("SELECT {TOKEN_COLUMNS} FROM upstream_tokens"))
        )
        .fetch_all(pool)
        .await?))
    }

    /// Store tokens sealed anew (`keys rewrap`).
    pub async fn reseal_upstream_tokens(
        &self,
        provider: &str,
        subject: &str,
        access: &str,
        refresh: Option<&str>,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE upstream_tokens SET access_token = $3, refresh_token = $4 WHERE provider = $1 AND subject = $2",
            )
            .bind(provider)
            .bind(subject)
            .bind(access)
            .bind(refresh)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Forget an identity's tokens (the provider refused them).
    pub async fn delete_upstream_tokens(&self, provider: &str, subject: &str) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query("DELETE FROM upstream_tokens WHERE provider = $1 AND subject = $2")
                .bind(provider)
                .bind(subject)
                .execute(pool)
                .await?;
            Ok(())
        })
    }
}
