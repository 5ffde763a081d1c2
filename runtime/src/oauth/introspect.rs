//! Token introspection (RFC 7662) at `/oauth/introspect`, only for the
//! confidential clients the spec declares (resource servers the operator set up
//! with a secret): a client that registered itself, even with a secret, learns
//! nothing about other clients' tokens. Anything not currently valid is
//! `{"active": false}` and nothing more.

use salvo::http::HeaderMap;
use serde_json::{Value, json};

use super::error::OAuthError;
use super::forms::TokenQueryForm;
use super::{OAuth, secrets};
use crate::store::{AccessStatus, now_ms};

impl OAuth {
    pub(super) async fn introspect(
        &self,
        headers: &HeaderMap,
        form: &TokenQueryForm,
    ) -> Result<Value, OAuthError> {
        let client = self.authenticate_client(headers, &form.client).await?;
        if client.secret_hash.is_none() || client.registered != 0 {
            return Err(OAuthError::InvalidClient(
                "introspection is for the confidential clients declared in the spec".into(),
            ));
        }
        let token = form
            .token
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::InvalidRequest("`token` is required".into()))?;
        if let Ok(c) = self
            .keys
            .verify(token, &self.cfg.issuer, &self.cfg.resource)
            .await
            && self
                .store
                .access_status(
                    &c.jti,
                    &c.sub,
                    &c.client_id,
                    &c.scope
                        .split_whitespace()
                        .map(str::to_string)
                        .collect::<Vec<_>>(),
                )
                .await?
                == AccessStatus::Active
        {
            return Ok(json!({
                "active": true, "token_type": "Bearer", "scope": c.scope, "client_id": c.client_id,
                "sub": c.sub, "aud": c.aud, "iss": c.iss, "exp": c.exp, "iat": c.iat, "jti": c.jti,
            }));
        }
        if let Some(r) = self.store.refresh_token(&secrets::hash(token)).await?
            && r.rotated_at.is_none()
            && r.family_revoked_at.is_none()
            && r.expires_at > now_ms()
        {
            return Ok(json!({
                "active": true, "token_type": "refresh_token", "scope": r.scope, "client_id": r.client_id,
                "sub": r.user_id, "aud": r.resource, "iss": self.cfg.issuer, "exp": r.expires_at / 1000,
            }));
        }
        Ok(json!({ "active": false }))
    }
}
