//! The token endpoint: `authorization_code` (single use, PKCE S256, bound to its
//! client, redirect URI and resource; a replay revokes everything issued from the
//! code) and `refresh_token` (rotated on every use; reuse of an old one revokes the
//! whole family, except a concurrent retry within the grace window, which gets the
//! same new pair on any replica because the store decides who rotated first and
//! the pair can be re-derived).

use crate::audit::{self, Entry, Event};
use salvo::http::HeaderMap;
use serde_json::{Value, json};

use super::error::OAuthError;
use super::forms::TokenForm;
use super::keys::AccessClaims;
use super::{OAuth, secrets};
use crate::store::{ClientRow, CodeUse, FamilyRow, RefreshRow, Rotation, now_ms};

fn required<'a>(value: &'a Option<String>, key: &str) -> Result<&'a str, OAuthError> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest(format!("`{key}` is required")))
}

/// RFC 7636 4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
pub(super) fn valid_pkce_value(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

impl OAuth {
    /// `POST /oauth/token`: the JSON of a successful token response.
    pub(super) async fn token(
        &self,
        headers: &HeaderMap,
        form: &TokenForm,
    ) -> Result<Value, OAuthError> {
        let grant_type = required(&form.grant_type, "grant_type")?;
        if grant_type != "authorization_code" && grant_type != "refresh_token" {
            return Err(OAuthError::UnsupportedGrantType(grant_type.to_string()));
        }
        let client = self.authenticate_client(headers, &form.client).await?;
        let grants: Vec<String> = serde_json::from_str(&client.grant_types).unwrap_or_default();
        if !grants.iter().any(|g| g == grant_type) {
            return Err(OAuthError::UnauthorizedClient(format!(
                "this client did not register the {grant_type} grant"
            )));
        }
        if let Some(resource) = &form.resource
            && !self.cfg.is_our_resource(resource)
        {
            return Err(OAuthError::InvalidTarget(format!(
                "`{resource}` is not a resource of this server"
            )));
        }
        let (event, result) = match grant_type {
            "authorization_code" => (Event::CodeExchange, self.exchange_code(&client, form).await),
            _ => (Event::Refresh, self.refresh(&client, form).await),
        };
        if let Err(e) = &result {
            audit::record(
                &self.store,
                Entry::new(event, "failure")
                    .client(&client.id)
                    .detail(e.code()),
            )
            .await;
        }
        result
    }

    async fn exchange_code(
        &self,
        client: &ClientRow,
        form: &TokenForm,
    ) -> Result<Value, OAuthError> {
        let code = required(&form.code, "code")?;
        let verifier = required(&form.code_verifier, "code_verifier")?;
        let now = now_ms();
        let grant = match self.store.use_code(&secrets::hash(code), now).await? {
            CodeUse::Fresh(row) => row,
            CodeUse::Replayed(row) => {
                // A code is single-use: someone replayed it, so everything issued
                // from it is presumed stolen.
                self.store.revoke_family(&row.family_id, now).await?;
                tracing::warn!(client = %row.client_id, "authorization code replayed; its tokens are revoked");
                return Err(OAuthError::InvalidGrant(
                    "the code was already used; tokens issued from it are revoked".into(),
                ));
            }
            CodeUse::Unknown => return Err(OAuthError::InvalidGrant("unknown code".into())),
        };
        if grant.expires_at <= now {
            return Err(OAuthError::InvalidGrant("the code has expired".into()));
        }
        if grant.client_id != client.id {
            return Err(OAuthError::InvalidGrant(
                "the code was issued to another client".into(),
            ));
        }
        if let Some(uri) = &form.redirect_uri
            && uri != &grant.redirect_uri
        {
            return Err(OAuthError::InvalidGrant(
                "redirect_uri differs from the authorization request's".into(),
            ));
        }
        if !valid_pkce_value(verifier)
            || !secrets::equal(&secrets::s256(verifier), &grant.code_challenge)
        {
            return Err(OAuthError::InvalidGrant(
                "code_verifier does not match the code_challenge".into(),
            ));
        }
        if let Some(resource) = &form.resource
            && resource.trim_end_matches('/') != grant.resource.trim_end_matches('/')
            && !(self.cfg.is_our_resource(resource) && self.cfg.is_our_resource(&grant.resource))
        {
            return Err(OAuthError::InvalidTarget(
                "resource differs from the authorization request's".into(),
            ));
        }
        // The family id was chosen with the code, so a replay can revoke it.
        let family = FamilyRow {
            id: grant.family_id.clone(),
            client_id: client.id.clone(),
            user_id: grant.user_id.clone(),
            scope: grant.scope.clone(),
            resource: grant.resource.clone(),
            created_at: now,
            revoked_at: None,
        };
        self.store.insert_family(&family).await?;
        let issued = self.issue(client, &family, &family.scope, None).await?;
        audit::record(
            &self.store,
            Entry::new(Event::CodeExchange, "success")
                .user(&family.user_id)
                .client(&client.id)
                .detail(format!("scope: {}", family.scope)),
        )
        .await;
        Ok(issued)
    }

    async fn refresh(&self, client: &ClientRow, form: &TokenForm) -> Result<Value, OAuthError> {
        let token = required(&form.refresh_token, "refresh_token")?;
        let hash = secrets::hash(token);
        let now = now_ms();
        let row = self
            .store
            .refresh_token(&hash)
            .await?
            .ok_or_else(|| OAuthError::InvalidGrant("unknown refresh token".into()))?;
        if row.client_id != client.id {
            return Err(OAuthError::InvalidGrant(
                "the refresh token was issued to another client".into(),
            ));
        }
        if row.family_revoked_at.is_some() {
            return Err(OAuthError::InvalidGrant(
                "the refresh token has been revoked".into(),
            ));
        }
        if row.expires_at <= now {
            return Err(OAuthError::InvalidGrant(
                "the refresh token has expired".into(),
            ));
        }
        let scope = match &form.scope {
            Some(requested) => {
                let granted: Vec<&str> = row.scope.split_whitespace().collect();
                if let Some(extra) = requested.split_whitespace().find(|s| !granted.contains(s)) {
                    return Err(OAuthError::InvalidScope(format!(
                        "scope `{extra}` was not granted"
                    )));
                }
                requested.split_whitespace().collect::<Vec<_>>().join(" ")
            }
            None => row.scope.clone(),
        };
        let family = FamilyRow {
            id: row.family_id.clone(),
            client_id: row.client_id.clone(),
            user_id: row.user_id.clone(),
            scope: row.scope.clone(),
            resource: row.resource.clone(),
            created_at: row.created_at,
            revoked_at: None,
        };
        if row.rotated_at.is_none() {
            let next = Rotation {
                jti: secrets::random_token(),
                iat: now / 1000,
                exp: now / 1000 + self.cfg.access_lifetime.as_secs() as i64,
                kid: self.keys.active_kid().unwrap_or_default(),
            };
            if self.store.rotate_refresh_token(&hash, now, &next).await? {
                let issued = self
                    .issue(client, &family, &scope, Some((token, &next)))
                    .await?;
                audit::record(
                    &self.store,
                    Entry::new(Event::Refresh, "success")
                        .user(&family.user_id)
                        .client(&client.id),
                )
                .await;
                return Ok(issued);
            }
        }
        // Rotated already (by us a moment ago, or by another replica).
        let row: RefreshRow = self
            .store
            .refresh_token(&hash)
            .await?
            .ok_or_else(|| OAuthError::InvalidGrant("unknown refresh token".into()))?;
        let within_grace = row
            .rotated_at
            .is_some_and(|t| now - t <= self.cfg.settings.refresh_grace.as_millis() as i64);
        match (
            within_grace,
            row.next_jti,
            row.next_iat,
            row.next_exp,
            row.next_kid,
        ) {
            (true, Some(jti), Some(iat), Some(exp), Some(kid)) => {
                let next = Rotation { jti, iat, exp, kid };
                self.issue(client, &family, &scope, Some((token, &next)))
                    .await
            }
            _ => {
                self.store.revoke_family(&row.family_id, now).await?;
                tracing::warn!(client = %client.id, "refresh token reused after rotation; its family is revoked");
                audit::record(
                    &self.store,
                    Entry::new(Event::RefreshReuse, "revoked")
                        .user(&family.user_id)
                        .client(&client.id)
                        .detail("the grant's tokens are revoked"),
                )
                .await;
                Err(OAuthError::InvalidGrant(
                    "the refresh token was already used; all tokens of this grant are revoked"
                        .into(),
                ))
            }
        }
    }

    /// An access token for a user, issued by the operator (`tokens issue`) to the
    /// built-in `gatehouse-cli` client: for trying the server with curl.
    pub async fn issue_for_operator(
        &self,
        user_id: &str,
        scope: Option<&str>,
    ) -> Result<Value, OAuthError> {
        let now = now_ms();
        let scope = match scope {
            Some(s) => {
                if let Some(bad) = s
                    .split_whitespace()
                    .find(|x| !self.cfg.scopes.contains_key(*x))
                {
                    return Err(OAuthError::InvalidScope(format!(
                        "scope `{bad}` is not declared"
                    )));
                }
                s.split_whitespace().collect::<Vec<_>>().join(" ")
            }
            None => self
                .cfg
                .scopes
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(" "),
        };
        let client = ClientRow {
            id: "gatehouse-cli".into(),
            secret_hash: None,
            name: "gatehouse command line".into(),
            redirect_uris: "[]".into(),
            grant_types: r#"["authorization_code"]"#.into(),
            scope: None,
            token_endpoint_auth_method: "none".into(),
            metadata_hash: None,
            registered: 0,
            auto_approve: 0,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        self.store.upsert_client(&client).await?;
        let family = FamilyRow {
            id: secrets::random_token(),
            client_id: client.id.clone(),
            user_id: user_id.to_string(),
            scope: scope.clone(),
            resource: self.cfg.resource.clone(),
            created_at: now,
            revoked_at: None,
        };
        self.store.insert_family(&family).await?;
        self.issue(&client, &family, &scope, None).await
    }

    /// Issue an access token (and a refresh token when the client uses them).
    /// `rotation`: the refresh token being exchanged and what its exchange issues;
    /// the same input always yields the same pair.
    async fn issue(
        &self,
        client: &ClientRow,
        family: &FamilyRow,
        scope: &str,
        rotation: Option<(&str, &Rotation)>,
    ) -> Result<Value, OAuthError> {
        let now = now_ms();
        let (jti, iat, exp, kid) = match rotation {
            Some((_, r)) => (r.jti.clone(), r.iat, r.exp, r.kid.clone()),
            None => (
                secrets::random_token(),
                now / 1000,
                now / 1000 + self.cfg.access_lifetime.as_secs() as i64,
                self.keys.active_kid().unwrap_or_default(),
            ),
        };
        let claims = AccessClaims {
            iss: self.cfg.issuer.clone(),
            sub: family.user_id.clone(),
            aud: family.resource.clone(),
            client_id: client.id.clone(),
            scope: scope.to_string(),
            iat,
            exp,
            jti: jti.clone(),
        };
        let access_token = self.keys.sign(&kid, &claims).ok_or_else(|| {
            OAuthError::TemporarilyUnavailable("no signing key is available".into())
        })?;
        self.store
            .insert_access_token(&jti, &family.id, exp * 1000)
            .await?;
        let mut body = json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": (exp - now / 1000).max(0),
            "scope": scope,
        });
        let grants: Vec<String> = serde_json::from_str(&client.grant_types).unwrap_or_default();
        if grants.iter().any(|g| g == "refresh_token") {
            let refresh = match rotation {
                Some((old, _)) => secrets::derive(&self.refresh_key, old, "rotated refresh token"),
                None => secrets::random_token(),
            };
            let expires = now + self.cfg.refresh_lifetime.as_millis() as i64;
            self.store
                .insert_refresh_token(&secrets::hash(&refresh), &family.id, now, expires)
                .await?;
            body["refresh_token"] = json!(refresh);
        }
        self.store.touch_client(&client.id, now).await?;
        Ok(body)
    }
}
