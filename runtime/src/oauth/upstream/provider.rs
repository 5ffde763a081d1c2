//! A provider as the spec declares it plus what the environment supplies: the
//! client's credentials, where the provider is, and what gatehouse checks of
//! its answers. A provider whose variables are unset is not offered (the
//! server says so at start-up).

use gatehouse_specs::providers::MICROSOFT_CONSUMERS_TENANT;
use gatehouse_specs::{Provider, ProviderKind, SignIn, UpstreamClientAuth};
use url::Url;

use crate::config::Env;
use crate::http::egress::check_url;

/// Where a provider is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// OpenID Connect: found by discovery, whose `issuer` must pass `issuer`
    /// (U-5).
    Discovered {
        discovery_url: Url,
        issuer: IssuerRule,
    },
    /// GitHub (plain OAuth 2.0): fixed endpoints; `issuer` keys identities.
    Github {
        issuer: String,
        authorization_endpoint: Url,
        token_endpoint: Url,
        api: Url,
    },
}

/// What the issuer of a provider's tokens must be (U-5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerRule {
    /// Exactly this string.
    Exact(String),
    /// Microsoft Entra `common` / `organizations`: the issuer names the user's
    /// directory (`https://login.microsoftonline.com/{tenantid}/v2.0`); the
    /// token's `tid` is put in and must be allowed.
    MicrosoftTemplate {
        template: String,
        /// Allowed directory ids; `*` allows any.
        tenants: Vec<String>,
    },
}

impl IssuerRule {
    /// What discovery's `issuer` must be, exactly.
    pub fn discovery_issuer(&self) -> &str {
        match self {
            IssuerRule::Exact(s) => s,
            IssuerRule::MicrosoftTemplate { template, .. } => template,
        }
    }

    /// The issuer a token with this `tid` must carry, if its directory is
    /// allowed.
    pub fn token_issuer(&self, tid: Option<&str>) -> Result<String, String> {
        match self {
            IssuerRule::Exact(s) => Ok(s.clone()),
            IssuerRule::MicrosoftTemplate { template, tenants } => {
                let tid = tid.ok_or("the ID token names no directory (tid)")?;
                if !gatehouse_specs::providers::is_guid(tid) {
                    return Err(format!(
                        "the ID token's directory `{tid}` is not a directory id"
                    ));
                }
                if !tenants
                    .iter()
                    .any(|t| t == "*" || t.eq_ignore_ascii_case(tid))
                {
                    return Err(format!(
                        "the directory {tid} is not allowed to sign in here"
                    ));
                }
                Ok(template.replace("{tenantid}", tid))
            }
        }
    }
}

/// A provider ready to use.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// The spec's name: the path segment of the callback.
    pub name: String,
    pub kind: ProviderKind,
    pub label: String,
    pub icon: Option<String>,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// As the spec says; `None`: what the provider advertises.
    pub client_auth: Option<UpstreamClientAuth>,
    pub scopes: Vec<String>,
    pub claims: Vec<String>,
    /// Extra parameters of the authorization request.
    pub authorization_params: Vec<(String, String)>,
    pub location: Location,
    /// `{public URL}/oauth/callback/{name}`: the one redirect URI (U-4).
    pub redirect_uri: String,
    pub sign_up: bool,
    pub link_by_email: bool,
    pub store_tokens: bool,
}

/// Why a declared provider is not offered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotOffered {
    #[error("environment variables unset: {}", .0.join(", "))]
    Unset(Vec<String>),
    #[error("{var} `{value}` is not usable: {reason}")]
    Invalid {
        var: String,
        value: String,
        reason: String,
    },
}

fn url_from(var: &str, value: &str) -> Result<Url, NotOffered> {
    let invalid = |reason: String| NotOffered::Invalid {
        var: var.to_string(),
        value: value.to_string(),
        reason,
    };
    let url = Url::parse(value).map_err(|e| invalid(e.to_string()))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not have a query or fragment".into()));
    }
    check_url(&url).map_err(|_| {
        invalid("only https, or http to a loopback address for local development (U-10)".into())
    })?;
    Ok(url)
}

/// `base` + `path` (keeping `base`'s own path).
fn join(base: &Url, path: &str) -> Url {
    let mut u = base.clone();
    let joined = format!("{}{}", base.path().trim_end_matches('/'), path);
    u.set_path(&joined);
    u
}

/// Resolve a declared provider against the environment.
pub fn resolve(
    name: &str,
    p: &Provider,
    sign_in: &SignIn,
    env: &Env,
    public_base: &str,
) -> Result<ProviderConfig, NotOffered> {
    let mut unset = Vec::new();
    let mut read = |var: Option<String>| -> Option<(String, String)> {
        let var = var?;
        match env.get(&var) {
            Some(v) => Some((var, v.trim().to_string())),
            None => {
                unset.push(var);
                None
            }
        }
    };
    let client_id = read(Some(p.client_id_var(name)));
    let client_secret = read(p.client_secret_var(name));
    let issuer = read(p.issuer_var(name));
    let project = read(p.project_url_var(name));
    let enterprise = p
        .url_env
        .as_ref()
        .and_then(|v| env.get(v))
        .map(|v| (v.to_string(), v.trim().to_string()));
    if !unset.is_empty() {
        return Err(NotOffered::Unset(unset));
    }
    let location = match p.kind {
        ProviderKind::Oidc => {
            let (var, value) = issuer.expect("read above");
            let url = url_from(&var, &value)?;
            discovered(&url, IssuerRule::Exact(value))
        }
        ProviderKind::Google => {
            let url = Url::parse("https://accounts.google.com").expect("a URL");
            discovered(
                &url,
                IssuerRule::Exact("https://accounts.google.com".into()),
            )
        }
        ProviderKind::Microsoft => {
            let tenant = p.tenant.clone().unwrap_or_else(|| "common".into());
            let tenant = if tenant == "consumers" {
                MICROSOFT_CONSUMERS_TENANT.to_string()
            } else {
                tenant
            };
            let base = Url::parse(&format!("https://login.microsoftonline.com/{tenant}/v2.0"))
                .expect("a URL");
            let rule = if matches!(tenant.as_str(), "common" | "organizations") {
                IssuerRule::MicrosoftTemplate {
                    template: "https://login.microsoftonline.com/{tenantid}/v2.0".into(),
                    tenants: p.tenants.clone(),
                }
            } else {
                IssuerRule::Exact(base.as_str().to_string())
            };
            discovered(&base, rule)
        }
        ProviderKind::Supabase => {
            let (var, value) = project.expect("read above");
            let url = url_from(&var, value.trim_end_matches('/'))?;
            let issuer = format!("{}/auth/v1", url.as_str().trim_end_matches('/'));
            let url = Url::parse(&issuer).expect("a URL");
            discovered(&url, IssuerRule::Exact(issuer))
        }
        ProviderKind::Github => {
            let (issuer, web, api) = match &enterprise {
                Some((_, value)) => {
                    let var = p.url_env.clone().unwrap_or_default();
                    let base = url_from(&var, value.trim_end_matches('/'))?;
                    let issuer = base.as_str().trim_end_matches('/').to_string();
                    (issuer, base.clone(), join(&base, "/api/v3"))
                }
                None => (
                    "https://github.com".to_string(),
                    Url::parse("https://github.com").expect("a URL"),
                    Url::parse("https://api.github.com").expect("a URL"),
                ),
            };
            Location::Github {
                issuer,
                authorization_endpoint: join(&web, "/login/oauth/authorize"),
                token_endpoint: join(&web, "/login/oauth/access_token"),
                api,
            }
        }
    };
    let client_auth = match (p.kind, p.client_auth) {
        (_, Some(a)) => Some(a),
        // GitHub takes the secret in the form body.
        (ProviderKind::Github, None) => Some(UpstreamClientAuth::ClientSecretPost),
        (_, None) => None,
    };
    let mut authorization_params: Vec<(String, String)> = p
        .authorization_params
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // Google gives a refresh token only to requests for offline access.
    if p.kind == ProviderKind::Google
        && p.store_tokens
        && !p.authorization_params.contains_key("access_type")
    {
        authorization_params.push(("access_type".into(), "offline".into()));
    }
    Ok(ProviderConfig {
        name: name.to_string(),
        kind: p.kind,
        label: p.label_or_default(name),
        icon: p.icon.clone(),
        client_id: client_id.expect("read above").1,
        client_secret: client_secret.map(|(_, v)| v),
        client_auth,
        scopes: p.scopes_or_default(),
        claims: p.claims.clone(),
        authorization_params,
        location,
        redirect_uri: format!(
            "{}/oauth/callback/{name}",
            public_base.trim_end_matches('/')
        ),
        sign_up: p.sign_up_allowed(sign_in),
        link_by_email: p.link_by_email,
        store_tokens: p.store_tokens,
    })
}

fn discovered(issuer_url: &Url, issuer: IssuerRule) -> Location {
    // OpenID Connect Discovery 1.0 section 4: the issuer's path, then the
    // well-known suffix.
    Location::Discovered {
        discovery_url: join(issuer_url, "/.well-known/openid-configuration"),
        issuer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(yaml: &str) -> Provider {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn env(vars: &[(&str, &str)]) -> Env {
        let mut e = Env::default();
        for (k, v) in vars {
            e.set(*k, *v);
        }
        e
    }

    const BASE: &str = "https://mcp.example.com";

    #[test]
    fn unset_variables_mean_not_offered() {
        let p = provider("kind: oidc");
        let e = resolve("sso", &p, &SignIn::default(), &env(&[]), BASE).unwrap_err();
        assert_eq!(
            e,
            NotOffered::Unset(vec![
                "SSO_CLIENT_ID".into(),
                "SSO_CLIENT_SECRET".into(),
                "SSO_ISSUER".into()
            ])
        );
        let public = provider("kind: oidc\nclient_auth: none");
        let e = resolve("sso", &public, &SignIn::default(), &env(&[]), BASE).unwrap_err();
        assert_eq!(
            e,
            NotOffered::Unset(vec!["SSO_CLIENT_ID".into(), "SSO_ISSUER".into()])
        );
    }

    // U-10: an issuer must be https (loopback http only for development).
    #[test]
    fn issuers_must_be_https() {
        let p = provider("kind: oidc");
        let vars = |issuer: &str| {
            env(&[
                ("SSO_ISSUER", issuer),
                ("SSO_CLIENT_ID", "id"),
                ("SSO_CLIENT_SECRET", "secret"),
            ])
        };
        for bad in [
            "http://idp.example.com",
            "https://idp.example.com/?x=1",
            "nope",
        ] {
            let e = resolve("sso", &p, &SignIn::default(), &vars(bad), BASE).unwrap_err();
            assert!(matches!(e, NotOffered::Invalid { .. }), "{bad}: {e}");
        }
        let c = resolve(
            "sso",
            &p,
            &SignIn::default(),
            &vars("https://idp.example.com/realms/x"),
            BASE,
        )
        .unwrap();
        assert_eq!(
            c.location,
            Location::Discovered {
                discovery_url: Url::parse(
                    "https://idp.example.com/realms/x/.well-known/openid-configuration"
                )
                .unwrap(),
                issuer: IssuerRule::Exact("https://idp.example.com/realms/x".into()),
            }
        );
        assert_eq!(c.redirect_uri, "https://mcp.example.com/oauth/callback/sso");
        assert_eq!(c.scopes, ["openid", "email", "profile"]);
        assert_eq!(c.label, "Continue with sso");
        let local = resolve(
            "sso",
            &p,
            &SignIn::default(),
            &vars("http://127.0.0.2:9000"),
            BASE,
        );
        assert!(local.is_ok(), "loopback http for development");
    }

    #[test]
    fn presets() {
        let google = provider("kind: google\nclient_id_env: G_ID\nclient_secret_env: G_SECRET");
        let c = resolve(
            "google",
            &google,
            &SignIn::default(),
            &env(&[("G_ID", "gid"), ("G_SECRET", "gs")]),
            BASE,
        )
        .unwrap();
        assert_eq!(c.label, "Continue with Google");
        assert!(c.authorization_params.is_empty());
        let keeping = provider(
            "kind: google\nstore_tokens: true\nclient_id_env: G_ID\nclient_secret_env: G_SECRET",
        );
        let k = resolve(
            "google",
            &keeping,
            &SignIn::default(),
            &env(&[("G_ID", "gid"), ("G_SECRET", "gs")]),
            BASE,
        )
        .unwrap();
        assert_eq!(
            k.authorization_params,
            [("access_type".to_string(), "offline".to_string())]
        );
        assert_eq!(
            c.location,
            Location::Discovered {
                discovery_url: Url::parse(
                    "https://accounts.google.com/.well-known/openid-configuration"
                )
                .unwrap(),
                issuer: IssuerRule::Exact("https://accounts.google.com".into()),
            }
        );
        let creds = env(&[
            ("X_CLIENT_ID", "id"),
            ("X_CLIENT_SECRET", "s"),
            ("X_URL", "https://abcd.supabase.co/"),
        ]);
        let supa = resolve(
            "x",
            &provider("kind: supabase"),
            &SignIn::default(),
            &creds,
            BASE,
        )
        .unwrap();
        assert_eq!(
            supa.location,
            Location::Discovered {
                discovery_url: Url::parse(
                    "https://abcd.supabase.co/auth/v1/.well-known/openid-configuration"
                )
                .unwrap(),
                issuer: IssuerRule::Exact("https://abcd.supabase.co/auth/v1".into()),
            }
        );
        let gh = resolve(
            "x",
            &provider("kind: github"),
            &SignIn::default(),
            &creds,
            BASE,
        )
        .unwrap();
        assert_eq!(gh.scopes, ["read:user", "user:email"]);
        assert_eq!(gh.client_auth, Some(UpstreamClientAuth::ClientSecretPost));
        assert_eq!(
            gh.location,
            Location::Github {
                issuer: "https://github.com".into(),
                authorization_endpoint: Url::parse("https://github.com/login/oauth/authorize")
                    .unwrap(),
                token_endpoint: Url::parse("https://github.com/login/oauth/access_token").unwrap(),
                api: Url::parse("https://api.github.com").unwrap(),
            }
        );
        let ghes = provider("kind: github\nurl_env: GHE_URL");
        let mut with_url = creds.clone();
        with_url.set("GHE_URL", "https://github.example.com");
        let c = resolve("x", &ghes, &SignIn::default(), &with_url, BASE).unwrap();
        assert!(
            matches!(c.location, Location::Github { ref api, .. } if api.as_str() == "https://github.example.com/api/v3")
        );
    }

    // Entra `common`: the token's directory goes into the issuer and must be allowed.
    #[test]
    fn microsoft_tenants() {
        let creds = env(&[("MS_CLIENT_ID", "id"), ("MS_CLIENT_SECRET", "s")]);
        let allowed = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let p = provider(&format!(
            "kind: microsoft\ntenant: common\ntenants: [{allowed}]"
        ));
        let c = resolve("ms", &p, &SignIn::default(), &creds, BASE).unwrap();
        let Location::Discovered {
            issuer,
            discovery_url,
        } = &c.location
        else {
            panic!()
        };
        assert_eq!(
            discovery_url.as_str(),
            "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
        );
        assert_eq!(
            issuer.discovery_issuer(),
            "https://login.microsoftonline.com/{tenantid}/v2.0"
        );
        assert_eq!(
            issuer.token_issuer(Some(allowed)).unwrap(),
            format!("https://login.microsoftonline.com/{allowed}/v2.0")
        );
        assert!(
            issuer
                .token_issuer(Some("00000000-0000-0000-0000-000000000000"))
                .is_err()
        );
        assert!(issuer.token_issuer(None).is_err());
        assert!(issuer.token_issuer(Some("{tenantid}")).is_err());
        let one = provider(&format!("kind: microsoft\ntenant: {allowed}"));
        let c = resolve("ms", &one, &SignIn::default(), &creds, BASE).unwrap();
        let Location::Discovered { issuer, .. } = &c.location else {
            panic!()
        };
        assert_eq!(
            issuer,
            &IssuerRule::Exact(format!("https://login.microsoftonline.com/{allowed}/v2.0"))
        );
    }
}
