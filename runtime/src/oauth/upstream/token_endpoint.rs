//! Talking to a provider's token endpoint: the code exchange (with the PKCE
//! verifier, U-2) and refreshes, with the client authentication the provider
//! takes. Answers are read the way real providers send them: JSON, or GitHub's
//! form encoding, and an `error` member means an error whatever the HTTP status
//! (GitHub answers errors with 200).

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_specs::UpstreamClientAuth;
use serde_json::Value;

use super::discovery::Metadata;
use super::error::UpstreamError;
use super::provider::ProviderConfig;
use crate::http::egress::Egress;

/// A successful token response.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    /// Seconds.
    pub expires_in: Option<i64>,
    pub scope: Option<String>,
}

/// Read a token endpoint's answer.
pub fn parse_token_response(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<TokenResponse, UpstreamError> {
    let essence = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let text = std::str::from_utf8(body).map_err(|_| {
        UpstreamError::unavailable("the token endpoint answered with something that is not text")
    })?;
    let fields: HashMap<String, Value> = if essence == "application/json"
        || essence.ends_with("+json")
        || text.trim_start().starts_with('{')
    {
        serde_json::from_str::<serde_json::Map<String, Value>>(text)
            .map_err(|_| {
                UpstreamError::unavailable(format!(
                    "the token endpoint answered HTTP {status} with JSON that is not an object"
                ))
            })?
            .into_iter()
            .collect()
    } else if essence == "application/x-www-form-urlencoded" {
        // GitHub, asked without `Accept: application/json`.
        url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect()
    } else {
        return Err(UpstreamError::unavailable(format!(
            "the token endpoint answered HTTP {status} with {}",
            if essence.is_empty() {
                "no content type".to_string()
            } else {
                format!("`{essence}`")
            }
        )));
    };
    let text_field = |name: &str| {
        fields
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    if let Some(error) = text_field("error") {
        return Err(UpstreamError::Refused {
            error,
            description: text_field("error_description"),
        });
    }
    if status >= 500 {
        return Err(UpstreamError::unavailable(format!(
            "the token endpoint answered HTTP {status}"
        )));
    }
    if !(200..300).contains(&status) {
        return Err(UpstreamError::Refused {
            error: format!("http_{status}"),
            description: None,
        });
    }
    let access_token = text_field("access_token")
        .ok_or_else(|| UpstreamError::invalid("the token endpoint's answer has no access_token"))?;
    if let Some(t) = text_field("token_type")
        && !t.eq_ignore_ascii_case("bearer")
    {
        return Err(UpstreamError::invalid(format!(
            "the token endpoint issued a `{t}` token, not a bearer token"
        )));
    }
    let expires_in = match fields.get("expires_in") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    Ok(TokenResponse {
        access_token,
        refresh_token: text_field("refresh_token"),
        id_token: text_field("id_token"),
        expires_in,
        scope: text_field("scope"),
    })
}

/// The client authentication to use: the spec's choice, else what the
/// provider advertises (Basic first, RFC 6749 2.3.1), else none for a client
/// without a secret.
fn auth_method(config: &ProviderConfig, metadata: &Metadata) -> UpstreamClientAuth {
    if let Some(a) = config.client_auth {
        return a;
    }
    if config.client_secret.is_none() {
        return UpstreamClientAuth::None;
    }
    let advertised = |m: &str| metadata.token_auth_methods.iter().any(|x| x == m);
    if !advertised("client_secret_basic") && advertised("client_secret_post") {
        UpstreamClientAuth::ClientSecretPost
    } else {
        UpstreamClientAuth::ClientSecretBasic
    }
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// POST a grant to the token endpoint with the client's authentication.
pub async fn request(
    egress: &Egress,
    metadata: &Metadata,
    config: &ProviderConfig,
    grant: &[(&str, &str)],
) -> Result<TokenResponse, UpstreamError> {
    let mut form: Vec<(&str, &str)> = grant.to_vec();
    let secret = config.client_secret.as_deref().unwrap_or("");
    let basic;
    let mut headers = vec![("accept", "application/json")];
    match auth_method(config, metadata) {
        UpstreamClientAuth::ClientSecretBasic => {
            basic = format!(
                "Basic {}",
                STANDARD.encode(format!(
                    "{}:{}",
                    form_encode(&config.client_id),
                    form_encode(secret)
                ))
            );
            headers.push(("authorization", &basic));
        }
        UpstreamClientAuth::ClientSecretPost => {
            form.push(("client_id", &config.client_id));
            form.push(("client_secret", secret));
        }
        UpstreamClientAuth::None => form.push(("client_id", &config.client_id)),
    }
    let res = egress
        .post_form(&metadata.token_endpoint, &form, &headers)
        .await?;
    parse_token_response(res.status, res.content_type.as_deref(), &res.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    // GitHub's quirks, on recorded bodies: errors with HTTP 200, form-encoded
    // answers without `Accept: application/json`.
    #[test]
    fn github_shaped_answers() {
        let error_200 = br#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired.","error_uri":"https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"}"#;
        let e = parse_token_response(200, Some("application/json; charset=utf-8"), error_200)
            .unwrap_err();
        assert!(
            matches!(&e, UpstreamError::Refused { error, .. } if error == "bad_verification_code"),
            "{e}"
        );
        let form_ok = b"access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&scope=read%3Auser%2Cuser%3Aemail&token_type=bearer";
        let t = parse_token_response(
            200,
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            form_ok,
        )
        .unwrap();
        assert_eq!(t.access_token, "gho_16C7e42F292c6912E7710c838347Ae178B4a");
        assert_eq!(t.scope.as_deref(), Some("read:user,user:email"));
        assert_eq!(t.id_token, None);
        let form_error = b"error=incorrect_client_credentials&error_description=The+client_id+and%2For+client_secret+passed+are+incorrect.";
        let e = parse_token_response(200, Some("application/x-www-form-urlencoded"), form_error)
            .unwrap_err();
        assert!(
            matches!(&e, UpstreamError::Refused { error, description: Some(d) } if error == "incorrect_client_credentials" && d.contains("client_secret")),
            "{e}"
        );
        // A GitHub App's expiring token, with its refresh token.
        let app = br#"{"access_token":"ghu_x","expires_in":28800,"refresh_token":"ghr_y","refresh_token_expires_in":15811200,"scope":"","token_type":"bearer"}"#;
        let t = parse_token_response(200, Some("application/json"), app).unwrap();
        assert_eq!(
            (t.expires_in, t.refresh_token.as_deref()),
            (Some(28800), Some("ghr_y"))
        );
    }

    #[test]
    fn standard_answers_and_failures() {
        let ok =
            br#"{"access_token":"a","token_type":"Bearer","expires_in":"3600","id_token":"x.y.z"}"#;
        let t = parse_token_response(200, Some("application/json"), ok).unwrap();
        assert_eq!(
            (t.expires_in, t.id_token.as_deref()),
            (Some(3600), Some("x.y.z"))
        );
        let e = parse_token_response(
            400,
            Some("application/json"),
            br#"{"error":"invalid_grant"}"#,
        )
        .unwrap_err();
        assert!(matches!(e, UpstreamError::Refused { .. }));
        let e =
            parse_token_response(502, Some("text/html"), b"<html>bad gateway</html>").unwrap_err();
        assert!(matches!(e, UpstreamError::Unavailable(_)), "{e}");
        let e = parse_token_response(503, Some("application/json"), b"{}").unwrap_err();
        assert!(matches!(e, UpstreamError::Unavailable(_)), "{e}");
        let e = parse_token_response(200, Some("application/json"), br#"{"token_type":"Bearer"}"#)
            .unwrap_err();
        assert!(matches!(e, UpstreamError::Invalid(_)), "{e}");
        let e = parse_token_response(
            200,
            Some("application/json"),
            br#"{"access_token":"a","token_type":"DPoP"}"#,
        )
        .unwrap_err();
        assert!(matches!(e, UpstreamError::Invalid(_)), "{e}");
    }
}
