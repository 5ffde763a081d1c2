//! The authorization server's state: users and identities, clients, pending
//! authorization requests, browser sessions, consents, codes, token families,
//! access and refresh tokens, signing keys. One SQL text serves both backends
//! (`$n` placeholders, `ON CONFLICT`, `RETURNING` work on SQLite and PostgreSQL).

use super::{Inner, Store, StoreResult};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

/// A signed-in browser: who, and how they signed in.
#[derive(Debug, Clone, PartialEq)]
pub struct BrowserSession {
    pub user: UserRow,
    /// `password`, or the name of the provider they signed in with.
    pub method: Option<String>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ClientRow {
    pub id: String,
    pub secret_hash: Option<String>,
    pub name: String,
    /// JSON array.
    pub redirect_uris: String,
    /// JSON array.
    pub grant_types: String,
    /// Space-separated; `None` = any declared scope.
    pub scope: Option<String>,
    pub token_endpoint_auth_method: String,
    pub metadata_hash: Option<String>,
    /// 1 for dynamically registered clients, 0 for the spec's.
    pub registered: i64,
    pub auto_approve: i64,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PendingRow {
    pub id_hash: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scope: String,
    pub resource: String,
    pub code_challenge: String,
    pub csrf: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// The client address that made the request (for the per-address cap).
    pub client_ip: Option<String>,
    /// The hash of the pre-authentication cookie of the browser that made it.
    pub browser_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CodeRow {
    pub code_hash: String,
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub resource: String,
    pub code_challenge: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct FamilyRow {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub resource: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A refresh token with its family.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RefreshRow {
    pub token_hash: String,
    pub family_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    pub next_jti: Option<String>,
    pub next_iat: Option<i64>,
    pub next_exp: Option<i64>,
    pub next_kid: Option<String>,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub resource: String,
    pub family_revoked_at: Option<i64>,
}

/// What an exchange of a refresh token issued.
#[derive(Debug, Clone, PartialEq)]
pub struct Rotation {
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    pub kid: String,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub private_der: String,
    pub public_x: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ConsentRow {
    pub user_id: String,
    pub email: Option<String>,
    pub client_id: String,
    pub client_name: String,
    pub scope: String,
    pub created_at: i64,
}

/// The outcome of redeeming an authorization code.
#[derive(Debug, Clone, PartialEq)]
pub enum CodeUse {
    /// First use: the code's grant.
    Fresh(CodeRow),
    /// Used before: a replay (its family must be revoked).
    Replayed(CodeRow),
    Unknown,
}

/// Why an access token is not usable, from the store's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessStatus {
    Active,
    /// Unknown jti, revoked token or family, disabled user, revoked client.
    Inactive,
}

const CLIENT_COLUMNS: &str = "id, secret_hash, name, redirect_uris, grant_types, scope, token_endpoint_auth_method, \
     metadata_hash, registered, auto_approve, created_at, last_used_at, revoked_at";

// The server's own operations on its tables: `pub` for the black-box store
// suites that run each one on both databases (tests/tests/store.rs), hidden
// from the author's documentation; an app's tables go through `AppStore`.
#[doc(hidden)]
impl Store {
    // --- users ------------------------------------------------------------------

    /// Create a user with a local (email + password) identity, in one
    /// transaction. `Ok(false)` when the email is taken, by a local account or
    /// by a user who signed in elsewhere with it (a password must never be
    /// added to someone else's account, nor a second account made with their
    /// email). `verified`: the operator made the account (rather than self
    /// sign-up), so the email is vouched for (U-13).
    pub async fn create_local_user(
        &self,
        user_id: &str,
        email: &str,
        password_hash: &str,
        verified: bool,
        now: i64,
    ) -> StoreResult<bool> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let taken: Option<String> = sqlx::query_scalar(
                "SELECT user_id FROM identities WHERE provider = 'local' AND subject = $1 \
                 UNION SELECT id FROM users WHERE email = $1",
            )
            .bind(email)
            .fetch_optional(&mut *tx)
            .await?;
            if taken.is_some() {
                return Ok(false);
            }
            sqlx::query("INSERT INTO users (id, email, created_at) VALUES ($1, $2, $3)")
                .bind(user_id)
                .bind(email)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO identities (provider, subject, user_id, password_hash, created_at, \
                 provider_name, email, email_verified) VALUES ('local', $1, $2, $3, $4, 'local', $1, $5)",
            )
            .bind(email)
            .bind(user_id)
            .bind(password_hash)
            .bind(now)
            .bind(i64::from(verified))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// The user and password hash of a local account.
    pub async fn local_account(&self, email: &str) -> StoreResult<Option<(UserRow, String)>> {
        #[derive(sqlx::FromRow)]
        struct Account {
            #[sqlx(flatten)]
            user: UserRow,
            password_hash: Option<String>,
        }
        on_pool!(self, |pool| {
            let row = sqlx::query_as::<_, Account>(
                "SELECT u.id, u.email, u.name, u.created_at, u.disabled_at, i.password_hash \
                 FROM identities i JOIN users u ON u.id = i.user_id \
                 WHERE i.provider = 'local' AND i.subject = $1",
            )
            .bind(email)
            .fetch_optional(pool)
            .await?;
            Ok(row.and_then(|a| Some((a.user, a.password_hash?))))
        })
    }

    pub async fn user(&self, id: &str) -> StoreResult<Option<UserRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as::<_, UserRow>(
            "SELECT id, email, name, created_at, disabled_at FROM users WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await?))
    }

    pub async fn users(&self) -> StoreResult<Vec<UserRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as::<_, UserRow>(
            "SELECT id, email, name, created_at, disabled_at FROM users ORDER BY created_at, id"
        )
        .fetch_all(pool)
        .await?))
    }

    pub async fn count_users(&self) -> StoreResult<i64> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM users"
        )
        .fetch_one(pool)
        .await?))
    }

    /// Disable a user: their sessions, grants and tokens stop working.
    pub async fn disable_user(&self, id: &str, now: i64) -> StoreResult<bool> {
        self.revoking(async {
            on_pool!(self, |pool| {
                // One transaction: all of it happens, or none.
                let mut tx = pool.begin().await?;
                let done = sqlx::query(
                    "UPDATE users SET disabled_at = $2 WHERE id = $1 AND disabled_at IS NULL",
                )
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM oauth_browser_sessions WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE oauth_families SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() > 0)
            })
        })
        .await
    }

    // --- clients ----------------------------------------------------------------

    /// Insert a client, or (pre-registered clients, on every start) update it.
    pub async fn upsert_client(&self, c: &ClientRow) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO oauth_clients (id, secret_hash, name, redirect_uris, grant_types, scope, \
                 token_endpoint_auth_method, metadata_hash, registered, auto_approve, created_at, last_used_at, revoked_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (id) DO UPDATE SET secret_hash = excluded.secret_hash, name = excluded.name, \
                 redirect_uris = excluded.redirect_uris, grant_types = excluded.grant_types, scope = excluded.scope, \
                 token_endpoint_auth_method = excluded.token_endpoint_auth_method, auto_approve = excluded.auto_approve",
            )
            .bind(&c.id)
            .bind(&c.secret_hash)
            .bind(&c.name)
            .bind(&c.redirect_uris)
            .bind(&c.grant_types)
            .bind(&c.scope)
            .bind(&c.token_endpoint_auth_method)
            .bind(&c.metadata_hash)
            .bind(c.registered)
            .bind(c.auto_approve)
            .bind(c.created_at)
            .bind(c.last_used_at)
            .bind(c.revoked_at)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// A client that exists and is not revoked.
    pub async fn client(&self, id: &str) -> StoreResult<Option<ClientRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as::<_, ClientRow>(
            sqlx::AssertSqlSafe(format!(
                "SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE id = $1 AND revoked_at IS NULL"
            ))
        )
        .bind(id)
        .fetch_optional(pool)
        .await?))
    }

    /// A live public client registered with exactly this metadata.
    pub async fn client_by_metadata(&self, metadata_hash: &str) -> StoreResult<Option<ClientRow>> {
        on_pool!(self, |pool| {
            Ok(sqlx::query_as::<_, ClientRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth_clients \
             WHERE metadata_hash = $1 AND revoked_at IS NULL AND secret_hash IS NULL ORDER BY created_at LIMIT 1"
        )))
        .bind(metadata_hash)
        .fetch_optional(pool)
        .await?)
        })
    }

    pub async fn clients(&self) -> StoreResult<Vec<ClientRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as::<_, ClientRow>(
            sqlx::AssertSqlSafe(format!(
                "SELECT {CLIENT_COLUMNS} FROM oauth_clients ORDER BY created_at, id"
            ))
        )
        .fetch_all(pool)
        .await?))
    }

    /// Revoke a client and every token family issued to it.
    pub async fn revoke_client(&self, id: &str, now: i64) -> StoreResult<bool> {
        self.revoking(async {
            on_pool!(self, |pool| {
                // One transaction: all of it happens, or none.
                let mut tx = pool.begin().await?;
                let done = sqlx::query(
                    "UPDATE oauth_clients SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE oauth_families SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL")
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() > 0)
            })
        })
        .await
    }

    pub async fn touch_client(&self, id: &str, now: i64) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query("UPDATE oauth_clients SET last_used_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Delete dynamically registered clients that never obtained a token and
    /// were registered before `before`.
    pub async fn delete_never_used_clients(&self, before: i64) -> StoreResult<u64> {
        on_pool!(self, |pool| {
            let done = sqlx::query(
                "DELETE FROM oauth_clients WHERE registered = 1 AND last_used_at IS NULL AND created_at < $1",
            )
            .bind(before)
            .execute(pool)
            .await?;
            Ok(done.rows_affected())
        })
    }

    /// Delete dynamically registered clients unused since `before`.
    pub async fn delete_unused_clients(&self, before: i64) -> StoreResult<u64> {
        on_pool!(self, |pool| {
            let done = sqlx::query(
                "DELETE FROM oauth_clients WHERE registered = 1 \
                 AND COALESCE(last_used_at, created_at) < $1",
            )
            .bind(before)
            .execute(pool)
            .await?;
            Ok(done.rows_affected())
        })
    }

    // --- pending authorization requests ------------------------------------------

    pub async fn insert_pending(&self, p: &PendingRow) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO oauth_pending (id_hash, client_id, redirect_uri, state, scope, resource, \
                 code_challenge, csrf, created_at, expires_at, client_ip, browser_hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(&p.id_hash)
            .bind(&p.client_id)
            .bind(&p.redirect_uri)
            .bind(&p.state)
            .bind(&p.scope)
            .bind(&p.resource)
            .bind(&p.code_challenge)
            .bind(&p.csrf)
            .bind(p.created_at)
            .bind(p.expires_at)
            .bind(&p.client_ip)
            .bind(&p.browser_hash)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// How many live pending requests `client_ip` made.
    pub async fn count_pending_from(&self, client_ip: &str, now: i64) -> StoreResult<i64> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM oauth_pending WHERE client_ip = $1 AND expires_at > $2"
        )
        .bind(client_ip)
        .bind(now)
        .fetch_one(pool)
        .await?))
    }

    /// Count a failed sign-in against a pending request: how many it has now.
    pub async fn pending_failed(&self, id_hash: &str) -> StoreResult<i64> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar::<_, i64>(
            "UPDATE oauth_pending SET failures = failures + 1 WHERE id_hash = $1 RETURNING failures"
        )
        .bind(id_hash)
        .fetch_optional(pool)
        .await?
        .unwrap_or(i64::MAX)))
    }

    pub async fn pending(&self, id_hash: &str, now: i64) -> StoreResult<Option<PendingRow>> {
        on_pool!(self, |pool| {
            Ok(sqlx::query_as::<_, PendingRow>(
            "SELECT id_hash, client_id, redirect_uri, state, scope, resource, code_challenge, csrf, created_at, \
             expires_at, client_ip, browser_hash FROM oauth_pending WHERE id_hash = $1 AND expires_at > $2"
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(pool)
        .await?)
        })
    }

    /// Take a pending request (it completes once); false if another took it.
    pub async fn take_pending(&self, id_hash: &str) -> StoreResult<bool> {
        on_pool!(self, |pool| {
            let done = sqlx::query("DELETE FROM oauth_pending WHERE id_hash = $1")
                .bind(id_hash)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    // --- browser sessions ---------------------------------------------------------

    /// A browser signed in as `user_id`; `method` says how (`password` or a
    /// provider's name).
    pub async fn insert_browser_session(
        &self,
        id_hash: &str,
        user_id: &str,
        method: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO oauth_browser_sessions (id_hash, user_id, method, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id_hash)
            .bind(user_id)
            .bind(method)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Sign a browser out: false if it was not signed in.
    pub async fn delete_browser_session(&self, id_hash: &str) -> StoreResult<bool> {
        on_pool!(self, |pool| {
            let done = sqlx::query("DELETE FROM oauth_browser_sessions WHERE id_hash = $1")
                .bind(id_hash)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// The signed-in user of a browser session (live, user not disabled), and
    /// how they signed in.
    pub async fn browser_session(
        &self,
        id_hash: &str,
        now: i64,
    ) -> StoreResult<Option<BrowserSession>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: UserRow,
            method: Option<String>,
        }
        on_pool!(self, |pool| {
            let row = sqlx::query_as::<_, Row>(
                "SELECT u.id, u.email, u.name, u.created_at, u.disabled_at, s.method \
                 FROM oauth_browser_sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
            )
            .bind(id_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|r| BrowserSession {
                user: r.user,
                method: r.method,
            }))
        })
    }

    // --- consents -------------------------------------------------------------------

    pub async fn save_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO oauth_consents (user_id, client_id, scope, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, created_at = excluded.created_at",
            )
            .bind(user_id)
            .bind(client_id)
            .bind(scope)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// The scopes a user already granted a client.
    pub async fn consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<String>> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(
            "SELECT scope FROM oauth_consents WHERE user_id = $1 AND client_id = $2"
        )
        .bind(user_id)
        .bind(client_id)
        .fetch_optional(pool)
        .await?))
    }

    pub async fn consents(&self) -> StoreResult<Vec<ConsentRow>> {
        on_pool!(self, |pool| {
            Ok(sqlx::query_as::<_, ConsentRow>(
            "SELECT g.user_id, u.email, g.client_id, c.name AS client_name, g.scope, g.created_at \
             FROM oauth_consents g JOIN users u ON u.id = g.user_id JOIN oauth_clients c ON c.id = g.client_id \
             ORDER BY g.created_at"
        )
        .fetch_all(pool)
        .await?)
        })
    }

    /// Withdraw a user's grants (to one client, or all) and revoke their tokens.
    pub async fn revoke_grants(
        &self,
        user_id: &str,
        client_id: Option<&str>,
        now: i64,
    ) -> StoreResult<u64> {
        self.revoking(async {
            on_pool!(self, |pool| {
                // One transaction: all of it happens, or none.
                let mut tx = pool.begin().await?;
                let done = sqlx::query(
                    "DELETE FROM oauth_consents WHERE user_id = $1 AND ($2 IS NULL OR client_id = $2)",
                )
                .bind(user_id)
                .bind(client_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE oauth_families SET revoked_at = $3 \
                     WHERE user_id = $1 AND ($2 IS NULL OR client_id = $2) AND revoked_at IS NULL",
                )
                .bind(user_id)
                .bind(client_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(done.rows_affected())
            })
        })
        .await
    }

    // --- codes, families, tokens -------------------------------------------------------

    pub async fn insert_code(&self, c: &CodeRow) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO oauth_codes (code_hash, family_id, client_id, user_id, redirect_uri, scope, resource, \
                 code_challenge, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)",
            )
            .bind(&c.code_hash)
            .bind(&c.family_id)
            .bind(&c.client_id)
            .bind(&c.user_id)
            .bind(&c.redirect_uri)
            .bind(&c.scope)
            .bind(&c.resource)
            .bind(&c.code_challenge)
            .bind(c.created_at)
            .bind(c.expires_at)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Redeem a code: exactly one caller ever gets `Fresh`.
    pub async fn use_code(&self, code_hash: &str, now: i64) -> StoreResult<CodeUse> {
        const COLUMNS: &str = "code_hash, family_id, client_id, user_id, redirect_uri, scope, resource, \
                               code_challenge, created_at, expires_at, used_at";
        on_pool!(self, |pool| {
            let fresh = sqlx::query_as::<_, CodeRow>(sqlx::AssertSqlSafe(format!(
                "UPDATE oauth_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL RETURNING {COLUMNS}"
            )))
            .bind(code_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?;
            if let Some(row) = fresh {
                return Ok(CodeUse::Fresh(row));
            }
            let seen = sqlx::query_as::<_, CodeRow>(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM oauth_codes WHERE code_hash = $1"
            )))
            .bind(code_hash)
            .fetch_optional(pool)
            .await?;
            Ok(seen.map_or(CodeUse::Unknown, CodeUse::Replayed))
        })
    }

    pub async fn insert_family(&self, f: &FamilyRow) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO oauth_families (id, client_id, user_id, scope, resource, created_at, revoked_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, NULL)",
            )
            .bind(&f.id)
            .bind(&f.client_id)
            .bind(&f.user_id)
            .bind(&f.scope)
            .bind(&f.resource)
            .bind(f.created_at)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    pub async fn revoke_family(&self, id: &str, now: i64) -> StoreResult<()> {
        self.revoking(async {
            on_pool!(self, |pool| {
                sqlx::query(
                    "UPDATE oauth_families SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(id)
                .bind(now)
                .execute(pool)
                .await?;
                Ok(())
            })
        })
        .await
    }

    pub async fn insert_access_token(
        &self,
        jti: &str,
        family_id: &str,
        expires_at: i64,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO oauth_access_tokens (jti, family_id, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (jti) DO NOTHING",
            )
            .bind(jti)
            .bind(family_id)
            .bind(expires_at)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Whether a (signature-checked) access token is still good: known, not
    /// revoked, its family live, its user enabled, its client not revoked, and
    /// the token's user, client and scopes those of its grant (so a signing key
    /// alone cannot mint a token for someone else's grant).
    pub async fn access_status(
        &self,
        jti: &str,
        user_id: &str,
        client_id: &str,
        scopes: &[String],
    ) -> StoreResult<AccessStatus> {
        on_pool!(self, |pool| {
            let granted: Option<String> = sqlx::query_scalar(
                "SELECT f.scope FROM oauth_access_tokens a \
                 JOIN oauth_families f ON f.id = a.family_id \
                 JOIN users u ON u.id = f.user_id \
                 JOIN oauth_clients c ON c.id = f.client_id \
                 WHERE a.jti = $1 AND a.revoked_at IS NULL AND f.revoked_at IS NULL \
                 AND u.disabled_at IS NULL AND c.revoked_at IS NULL \
                 AND f.user_id = $2 AND f.client_id = $3",
            )
            .bind(jti)
            .bind(user_id)
            .bind(client_id)
            .fetch_optional(pool)
            .await?;
            let within = granted
                .is_some_and(|g| scopes.iter().all(|s| g.split_whitespace().any(|x| x == s)));
            Ok(if within {
                AccessStatus::Active
            } else {
                AccessStatus::Inactive
            })
        })
    }

    /// Revoke one access token; returns its family's client, if it exists.
    pub async fn revoke_access_token(&self, jti: &str, now: i64) -> StoreResult<()> {
        self.revoking(async {
            on_pool!(self, |pool| {
                sqlx::query("UPDATE oauth_access_tokens SET revoked_at = $2 WHERE jti = $1 AND revoked_at IS NULL")
                    .bind(jti)
                    .bind(now)
                    .execute(pool)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    pub async fn insert_refresh_token(
        &self,
        hash: &str,
        family_id: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO oauth_refresh_tokens (token_hash, family_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (token_hash) DO NOTHING",
            )
            .bind(hash)
            .bind(family_id)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    pub async fn refresh_token(&self, hash: &str) -> StoreResult<Option<RefreshRow>> {
        on_pool!(self, |pool| {
            Ok(sqlx::query_as::<_, RefreshRow>(
            "SELECT r.token_hash, r.family_id, r.created_at, r.expires_at, r.rotated_at, r.next_jti, r.next_iat, \
             r.next_exp, r.next_kid, f.client_id, f.user_id, f.scope, f.resource, f.revoked_at AS family_revoked_at \
             FROM oauth_refresh_tokens r JOIN oauth_families f ON f.id = r.family_id WHERE r.token_hash = $1"
        )
        .bind(hash)
        .fetch_optional(pool)
        .await?)
        })
    }

    /// Mark a refresh token exchanged, recording what the exchange issues. Only
    /// one caller wins (true); across replicas the database decides.
    pub async fn rotate_refresh_token(
        &self,
        hash: &str,
        now: i64,
        next: &Rotation,
    ) -> StoreResult<bool> {
        on_pool!(self, |pool| {
            let done = sqlx::query(
                "UPDATE oauth_refresh_tokens SET rotated_at = $2, next_jti = $3, next_iat = $4, next_exp = $5, \
                 next_kid = $6 WHERE token_hash = $1 AND rotated_at IS NULL",
            )
            .bind(hash)
            .bind(now)
            .bind(&next.jti)
            .bind(next.iat)
            .bind(next.exp)
            .bind(&next.kid)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// The family of a refresh token or an access token, for revocation.
    pub async fn family_of_token(
        &self,
        refresh_hash: Option<&str>,
        jti: Option<&str>,
    ) -> StoreResult<Option<FamilyRow>> {
        on_pool!(self, |pool| Ok(sqlx::query_as::<_, FamilyRow>(
            "SELECT f.id, f.client_id, f.user_id, f.scope, f.resource, f.created_at, f.revoked_at \
             FROM oauth_families f WHERE f.id = COALESCE( \
               (SELECT family_id FROM oauth_refresh_tokens WHERE token_hash = $1), \
               (SELECT family_id FROM oauth_access_tokens WHERE jti = $2))"
        )
        .bind(refresh_hash)
        .bind(jti)
        .fetch_optional(pool)
        .await?))
    }

    // --- keys and secrets ------------------------------------------------------------------

    pub async fn insert_signing_key(&self, k: &KeyRow) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO oauth_signing_keys (kid, alg, private_der, public_x, created_at, retired_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&k.kid)
            .bind(&k.alg)
            .bind(&k.private_der)
            .bind(&k.public_x)
            .bind(k.created_at)
            .bind(k.retired_at)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Replace a signing key's stored private key (sealing it).
    pub async fn set_signing_key_private(&self, kid: &str, private: &str) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query("UPDATE oauth_signing_keys SET private_der = $2 WHERE kid = $1")
                .bind(kid)
                .bind(private)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Every signing key, newest first.
    pub async fn signing_keys(&self) -> StoreResult<Vec<KeyRow>> {
        on_pool!(self, |pool| {
            Ok(sqlx::query_as::<_, KeyRow>(
            "SELECT kid, alg, private_der, public_x, created_at, retired_at FROM oauth_signing_keys \
             ORDER BY created_at DESC, kid DESC"
        )
        .fetch_all(pool)
        .await?)
        })
    }

    /// Retire the keys in use (they stay published until their tokens expire).
    pub async fn retire_signing_keys(&self, now: i64) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query("UPDATE oauth_signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
                .bind(now)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// A server secret: the stored one, or `candidate` if none was stored yet (the
    /// first process to start wins; every replica then reads the same value).
    pub async fn secret(&self, name: &str, candidate: &str) -> StoreResult<String> {
        on_pool!(self, |pool| {
            sqlx::query("INSERT INTO oauth_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(candidate)
                .execute(pool)
                .await?;
            Ok(
                sqlx::query_scalar("SELECT value FROM oauth_secrets WHERE name = $1")
                    .bind(name)
                    .fetch_one(pool)
                    .await?,
            )
        })
    }

    /// Delete what has expired: pending requests, codes, browser sessions, access
    /// and refresh tokens, keys retired longer ago than `keep_keys_for`.
    pub async fn sweep_oauth(&self, now: i64, keep_keys_for: i64) -> StoreResult<()> {
        on_pool!(self, |pool| {
            for sql in [
                "DELETE FROM oauth_pending WHERE expires_at <= $1",
                "DELETE FROM upstream_transactions WHERE expires_at <= $1",
                "DELETE FROM oauth_codes WHERE expires_at <= $1 - 86400000",
                "DELETE FROM oauth_browser_sessions WHERE expires_at <= $1",
                "DELETE FROM oauth_access_tokens WHERE expires_at <= $1",
                "DELETE FROM oauth_refresh_tokens WHERE expires_at <= $1",
            ] {
                sqlx::query(sql).bind(now).execute(pool).await?;
            }
            sqlx::query(
                "DELETE FROM oauth_signing_keys WHERE retired_at IS NOT NULL AND retired_at < $1",
            )
            .bind(now - keep_keys_for)
            .execute(pool)
            .await?;
            Ok(())
        })
    }
}
