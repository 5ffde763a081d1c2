//! What each OAuth endpoint and page reads from its query or form, as typed
//! structs (issue 12, item 10). Every field is optional text: which ones are
//! required, and the exact error when one is missing, stays with the handler
//! that knows (RFC 6749 names a different error for each endpoint). Parameters
//! a struct does not name are ignored (RFC 6749 section 3.1); a parameter given
//! twice is refused before any struct is filled (`params::typed`).

use serde::Deserialize;

/// `client_id` and `client_secret` in a form (`client_secret_post`, or a
/// public client naming itself).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ClientFields {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// `POST /oauth/token` (RFC 6749 sections 4.1.3 and 6; RFC 8707 `resource`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TokenForm {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub code_verifier: Option<String>,
    pub redirect_uri: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
    #[serde(flatten)]
    pub client: ClientFields,
}

/// `POST /oauth/revoke` (RFC 7009) and `POST /oauth/introspect` (RFC 7662).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TokenQueryForm {
    pub token: Option<String>,
    pub token_type_hint: Option<String>,
    #[serde(flatten)]
    pub client: ClientFields,
}

/// `GET /oauth/authorize` (RFC 6749 section 4.1.1, RFC 7636, RFC 8707).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuthorizeQuery {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub state: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub response_type: Option<String>,
    /// Not used, but bounded like the rest: OpenID clients send it.
    pub nonce: Option<String>,
}

impl AuthorizeQuery {
    /// Each parameter with its value, for the length limits.
    pub(crate) fn values(&self) -> [(&'static str, Option<&str>); 9] {
        [
            ("client_id", self.client_id.as_deref()),
            ("redirect_uri", self.redirect_uri.as_deref()),
            ("state", self.state.as_deref()),
            ("scope", self.scope.as_deref()),
            ("resource", self.resource.as_deref()),
            ("code_challenge", self.code_challenge.as_deref()),
            (
                "code_challenge_method",
                self.code_challenge_method.as_deref(),
            ),
            ("response_type", self.response_type.as_deref()),
            ("nonce", self.nonce.as_deref()),
        ]
    }
}

/// Links between this server's own pages: `?request=…` (and the sign-in
/// page's `mode`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    pub request: Option<String>,
    pub mode: Option<String>,
}

/// A sign-in provider's answer at `/oauth/callback/{provider}` (RFC 6749
/// sections 4.1.2 and 4.1.2.1, RFC 9207 `iss`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CallbackQuery {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub iss: Option<String>,
}

/// The sign-in page's form.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SignInForm {
    pub request: Option<String>,
    pub csrf: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    /// `sign_up` when the sign-up button was pressed.
    pub action: Option<String>,
}

/// The consent page's form, and the sign-out form (which has no decision).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ConsentForm {
    pub request: Option<String>,
    pub csrf: Option<String>,
    pub decision: Option<String>,
}
