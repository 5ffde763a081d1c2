//! Token revocation (RFC 7009) at `/oauth/revoke`. Revoking a refresh token revokes
//! its whole family (every access and refresh token of that authorization);
//! revoking an access token revokes that token. Unknown tokens, and tokens of
//! other clients, get the same 200 (section 2.2: no information leaks).

use crate::audit::{self, Entry, Event};
use salvo::http::HeaderMap;

use super::error::OAuthError;
use super::forms::TokenQueryForm;
use super::{OAuth, secrets};
use crate::store::now_ms;

impl OAuth {
    pub(super) async fn revoke(
        &self,
        headers: &HeaderMap,
        form: &TokenQueryForm,
    ) -> Result<(), OAuthError> {
        let client = self.authenticate_client(headers, &form.client).await?;
        let token = form
            .token
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::InvalidRequest("`token` is required".into()))?;
        let now = now_ms();
        let hint = form.token_type_hint.as_deref();
        if let Some(h) = hint
            && h != "access_token"
            && h != "refresh_token"
        {
            return Err(OAuthError::UnsupportedTokenType(format!(
                "token_type_hint `{h}` is not supported"
            )));
        }
        if let Some(family) = self
            .store
            .family_of_token(Some(&secrets::hash(token)), None)
            .await?
            && family.client_id == client.id
        {
            self.store.revoke_family(&family.id, now).await?;
            tracing::info!(client = %client.id, "refresh token revoked with its family");
            audit::record(
                &self.store,
                Entry::new(Event::Revocation, "success")
                    .user(&family.user_id)
                    .client(&client.id)
                    .detail("refresh token and its grant"),
            )
            .await;
            return Ok(());
        }
        // An access token: only its signature and jti matter here (an expired one
        // is already useless).
        if let Ok(claims) = self
            .keys
            .verify(token, &self.cfg.issuer, &self.cfg.resource)
            .await
            && claims.client_id == client.id
        {
            self.store.revoke_access_token(&claims.jti, now).await?;
            tracing::info!(client = %client.id, "access token revoked");
            audit::record(
                &self.store,
                Entry::new(Event::Revocation, "success")
                    .user(&claims.sub)
                    .client(&client.id)
                    .detail("access token"),
            )
            .await;
        }
        Ok(())
    }
}
