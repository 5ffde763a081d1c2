//! What is known about each kind of upstream identity provider before anything
//! is fetched: display names, default scopes, the environment variables a
//! provider's deployment values come from, and the naming rules the checker and
//! the runtime share (IDENTITY.md U-1..U-16).

use crate::model::{Provider, ProviderKind, SignIn, UpstreamClientAuth};

/// The authorization request's parameters gatehouse sets itself (U-1..U-4):
/// `authorization_params` may not replace them.
pub const RESERVED_AUTHORIZATION_PARAMS: [&str; 10] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "claims",
    "response_mode",
];

/// Microsoft's personal-accounts tenant (`consumers`): its id is fixed.
pub const MICROSOFT_CONSUMERS_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

impl ProviderKind {
    /// How the provider is called on buttons and pages.
    pub fn display_name(self) -> &'static str {
        match self {
            ProviderKind::Oidc => "single sign-on",
            ProviderKind::Google => "Google",
            ProviderKind::Microsoft => "Microsoft",
            ProviderKind::Supabase => "Supabase",
            ProviderKind::Github => "GitHub",
        }
    }

    /// OpenID Connect (ID tokens, discovery), or GitHub's plain OAuth 2.0.
    pub fn is_oidc(self) -> bool {
        self != ProviderKind::Github
    }

    /// The scopes asked for when the spec names none.
    pub fn default_scopes(self) -> &'static [&'static str] {
        match self {
            // `user:email` is what lets /user/emails say which address is
            // verified (U-13).
            ProviderKind::Github => &["read:user", "user:email"],
            _ => &["openid", "email", "profile"],
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Oidc => "oidc",
            ProviderKind::Google => "google",
            ProviderKind::Microsoft => "microsoft",
            ProviderKind::Supabase => "supabase",
            ProviderKind::Github => "github",
        }
    }
}

/// The prefix of a provider's default environment variables: `sso` → `SSO`,
/// `my-idp` → `MY_IDP`.
pub fn env_prefix(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

impl Provider {
    /// The variable holding the client id.
    pub fn client_id_var(&self, name: &str) -> String {
        self.client_id_env
            .clone()
            .unwrap_or_else(|| format!("{}_CLIENT_ID", env_prefix(name)))
    }

    /// The variable holding the client secret (none for a public client).
    pub fn client_secret_var(&self, name: &str) -> Option<String> {
        if self.client_auth == Some(UpstreamClientAuth::None) {
            return None;
        }
        Some(
            self.client_secret_env
                .clone()
                .unwrap_or_else(|| format!("{}_CLIENT_SECRET", env_prefix(name))),
        )
    }

    /// `oidc`: the variable holding the issuer URL.
    pub fn issuer_var(&self, name: &str) -> Option<String> {
        (self.kind == ProviderKind::Oidc).then(|| {
            self.issuer_env
                .clone()
                .unwrap_or_else(|| format!("{}_ISSUER", env_prefix(name)))
        })
    }

    /// `supabase`: the variable holding the project URL.
    pub fn project_url_var(&self, name: &str) -> Option<String> {
        (self.kind == ProviderKind::Supabase).then(|| {
            self.project_url_env
                .clone()
                .unwrap_or_else(|| format!("{}_URL", env_prefix(name)))
        })
    }

    /// The button's text.
    pub fn label_or_default(&self, name: &str) -> String {
        self.label.clone().unwrap_or_else(|| match self.kind {
            ProviderKind::Oidc => format!("Continue with {name}"),
            kind => format!("Continue with {}", kind.display_name()),
        })
    }

    /// The scopes asked for.
    pub fn scopes_or_default(&self) -> Vec<String> {
        self.scopes.clone().unwrap_or_else(|| {
            self.kind
                .default_scopes()
                .iter()
                .map(|s| s.to_string())
                .collect()
        })
    }

    /// Whether a first sign-in creates a user.
    pub fn sign_up_allowed(&self, sign_in: &SignIn) -> bool {
        self.sign_up.unwrap_or(sign_in.self_signup)
    }
}

/// A provider name is a path segment: 1 to 32 of `a-z 0-9 _ -`, starting with
/// a letter or digit.
pub fn check_provider_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "provider name `{name}` must be 1 to 32 of a-z, 0-9, `_` and `-` (it is a path segment of the callback URL)"
        ))
    }
}

/// An environment variable name like `MY_CLIENT_SECRET`.
pub fn check_env_name(var: &str) -> Result<(), String> {
    let valid = var.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
        && var
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{var}` is not an environment variable name like MY_CLIENT_SECRET"
        ))
    }
}

/// A Microsoft tenant: a directory id (GUID), or `common`, `organizations` or
/// `consumers`. Domain names are refused: the issuer of their tokens names the
/// directory id, so the issuer could not be checked exactly (U-5).
pub fn check_microsoft_tenant(tenant: &str) -> Result<(), String> {
    if matches!(tenant, "common" | "organizations" | "consumers") || is_guid(tenant) {
        Ok(())
    } else {
        Err(format!(
            "tenant `{tenant}` must be a directory (tenant) id such as 72f988bf-86f1-41af-91ab-2d7cd011db47, or common, organizations or consumers"
        ))
    }
}

/// `8-4-4-4-12` hexadecimal digits.
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A button icon must be an image data URI (the pages load nothing from
/// elsewhere: `img-src 'self' data:`).
pub fn check_icon(icon: &str) -> Result<(), String> {
    let ok = [
        "data:image/png;base64,",
        "data:image/svg+xml,",
        "data:image/svg+xml;base64,",
    ]
    .iter()
    .any(|p| icon.starts_with(p))
        && icon.len() <= 16 * 1024;
    if ok {
        Ok(())
    } else {
        Err("an icon must be a data:image/png;base64,… or data:image/svg+xml,… URI of at most 16 KB".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_variables() {
        assert_eq!(env_prefix("my-idp"), "MY_IDP");
        assert!(check_provider_name("sso").is_ok());
        assert!(check_provider_name("my-idp_2").is_ok());
        for bad in ["", "SSO", "-x", "a/b", "a.b", &"x".repeat(33)] {
            assert!(check_provider_name(bad).is_err(), "{bad}");
        }
        assert!(check_env_name("SSO_ISSUER").is_ok());
        assert!(check_env_name("sso").is_err());
        assert!(check_microsoft_tenant("common").is_ok());
        assert!(check_microsoft_tenant("72f988bf-86f1-41af-91ab-2d7cd011db47").is_ok());
        assert!(check_microsoft_tenant("contoso.onmicrosoft.com").is_err());
        assert!(check_icon("data:image/svg+xml,<svg/>").is_ok());
        assert!(check_icon("https://example.com/x.png").is_err());
        assert!(check_icon("javascript:alert(1)").is_err());
    }
}
