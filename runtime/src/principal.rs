//! Who is calling: the internal user id a request runs for. With `auth: none` every
//! caller is the one local user; with OAuth, the token's subject, client and scopes.

/// The caller of a request (as an `Arc<Principal>`: a request passes it
/// along without copying it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Internal user id: session owner, tool context, data key.
    pub user_id: String,
    /// The OAuth client the token was issued to.
    pub client_id: Option<String>,
    /// The token's scopes; `None` without OAuth (everything allowed).
    pub scopes: Option<Vec<String>>,
}

impl Principal {
    /// The single user of a server without sign-in.
    pub const LOCAL_USER: &'static str = "local";

    /// The caller of a server without sign-in: the local user, every scope.
    pub fn local() -> Principal {
        Principal {
            user_id: Self::LOCAL_USER.to_string(),
            client_id: None,
            scopes: None,
        }
    }
}
