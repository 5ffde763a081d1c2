//! GitHub is plain OAuth 2.0, not OpenID Connect: who signed in comes from its
//! API. The user is keyed by the numeric `id`, never the `login`, which its
//! owner can change and someone else can then take (U-11). The email is only
//! ever a `primary` and `verified` entry of `/user/emails` (U-13); the public
//! `email` of `/user` is whatever the user typed.

use serde::Deserialize;
use url::Url;

use super::error::UpstreamError;
use crate::http::egress::Egress;

/// Who signed in at GitHub.
#[derive(Debug, Clone, PartialEq)]
pub struct GithubUser {
    /// The numeric id, as a string.
    pub id: String,
    pub login: String,
    pub name: Option<String>,
    /// A primary, verified email, if GitHub has one and let us see it.
    pub verified_email: Option<String>,
}

#[derive(Deserialize)]
struct User {
    id: u64,
    login: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Email {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

fn api_url(api: &Url, path: &str) -> Url {
    let mut u = api.clone();
    u.set_path(&format!("{}{path}", api.path().trim_end_matches('/')));
    u
}

/// Read `/user`.
pub fn parse_user(
    status: u16,
    body: &[u8],
) -> Result<(String, String, Option<String>), UpstreamError> {
    match status {
        200 => {
            let u: User = serde_json::from_slice(body).map_err(|e| {
                UpstreamError::unavailable(format!("GitHub's /user answer is not usable: {e}"))
            })?;
            Ok((u.id.to_string(), u.login, u.name.filter(|n| !n.is_empty())))
        }
        401 | 403 => Err(UpstreamError::invalid(format!(
            "GitHub refused the access token it had just issued (HTTP {status})"
        ))),
        s => Err(UpstreamError::unavailable(format!(
            "GitHub's /user answered HTTP {s}"
        ))),
    }
}

/// Read `/user/emails`: the primary address, if it is verified. Without the
/// `user:email` scope GitHub answers 403/404: no verified email then.
pub fn parse_emails(status: u16, body: &[u8]) -> Result<Option<String>, UpstreamError> {
    match status {
        200 => {
            let emails: Vec<Email> = serde_json::from_slice(body).map_err(|e| {
                UpstreamError::unavailable(format!(
                    "GitHub's /user/emails answer is not usable: {e}"
                ))
            })?;
            Ok(emails
                .into_iter()
                .find(|e| e.primary && e.verified)
                .map(|e| e.email))
        }
        401 | 403 | 404 => Ok(None),
        s => Err(UpstreamError::unavailable(format!(
            "GitHub's /user/emails answered HTTP {s}"
        ))),
    }
}

/// Who the access token belongs to.
pub async fn fetch_user(
    egress: &Egress,
    api: &Url,
    token: &str,
) -> Result<GithubUser, UpstreamError> {
    let auth = format!("Bearer {token}");
    let headers = [
        ("accept", "application/vnd.github+json"),
        ("x-github-api-version", "2022-11-28"),
        ("authorization", auth.as_str()),
    ];
    let res = egress.get(&api_url(api, "/user"), &headers).await?;
    let (id, login, name) = parse_user(res.status, &res.body)?;
    let res = egress.get(&api_url(api, "/user/emails"), &headers).await?;
    let verified_email = parse_emails(res.status, &res.body)?;
    Ok(GithubUser {
        id,
        login,
        name,
        verified_email,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Recorded shapes of GitHub's REST API (docs.github.com, "Get the
    // authenticated user" and "List email addresses for the authenticated user").
    #[test]
    fn user_and_emails() {
        let user = br#"{"login":"octocat","id":583231,"node_id":"MDQ6VXNlcjU4MzIzMQ==","name":"The Octocat","email":"octocat@github.com","type":"User"}"#;
        let (id, login, name) = parse_user(200, user).unwrap();
        assert_eq!(
            (id.as_str(), login.as_str(), name.as_deref()),
            ("583231", "octocat", Some("The Octocat"))
        );
        assert!(matches!(
            parse_user(401, br#"{"message":"Bad credentials"}"#),
            Err(UpstreamError::Invalid(_))
        ));
        assert!(matches!(
            parse_user(502, b""),
            Err(UpstreamError::Unavailable(_))
        ));

        let emails = br#"[
          {"email":"old@example.com","verified":true,"primary":false,"visibility":"public"},
          {"email":"octocat@github.com","verified":true,"primary":true,"visibility":"private"}
        ]"#;
        assert_eq!(
            parse_emails(200, emails).unwrap().as_deref(),
            Some("octocat@github.com")
        );
        // A primary address that is not verified is no email at all (U-13),
        // even when another, secondary one is verified.
        let unverified = br#"[
          {"email":"victim@example.com","verified":false,"primary":true,"visibility":"private"},
          {"email":"me@example.com","verified":true,"primary":false,"visibility":null}
        ]"#;
        assert_eq!(parse_emails(200, unverified).unwrap(), None);
        assert_eq!(
            parse_emails(404, br#"{"message":"Not Found"}"#).unwrap(),
            None
        );
        assert!(parse_emails(500, b"").is_err());
    }
}
