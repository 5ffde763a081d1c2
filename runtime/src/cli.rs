//! The command line of every generated server: `serve` (the default) and the
//! operator's commands for users, clients, grants and signing keys. They work on
//! the store named by `DATABASE_URL`, so they act on a running deployment too.

use std::io::{IsTerminal, Read};

use clap::{Parser, Subcommand};

use crate::oauth::sealing::Sealer;
use crate::oauth::{accounts, keys};
use crate::store::{Store, StoreError, now_ms};

#[derive(Debug, Parser)]
#[command(
    about = "An MCP server built with gatehouse. Configuration comes from the environment \
                   (GATEHOUSE_LISTEN, GATEHOUSE_PUBLIC_URL, DATABASE_URL, RUST_LOG)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve (what runs without a command).
    Serve,
    /// Local user accounts.
    #[command(subcommand)]
    Users(Users),
    /// OAuth clients (pre-registered and dynamically registered).
    #[command(subcommand)]
    Clients(Clients),
    /// What users have allowed which clients to do.
    #[command(subcommand)]
    Grants(Grants),
    /// Token signing keys.
    #[command(subcommand)]
    Keys(Keys),
    /// Access tokens for trying the server by hand.
    #[command(subcommand)]
    Tokens(Tokens),
    /// Sign-in providers (`sign_in.providers` in the spec).
    #[command(subcommand)]
    Providers(Providers),
    /// The audit log: sign-ins, registrations, consents, tokens, revocations.
    #[command(subcommand)]
    Audit(Audit),
}

#[derive(Debug, Subcommand)]
pub enum Audit {
    /// Events, oldest first: time, event, outcome, user, client, address,
    /// user agent, detail.
    List {
        /// Only this user's events (by email).
        #[arg(long)]
        user: Option<String>,
        /// Only events this recent (`1h`, `7d`; default: 1 day).
        #[arg(long, default_value = "1d", value_parser = humantime::parse_duration)]
        since: std::time::Duration,
        /// At most this many (the newest).
        #[arg(long, default_value_t = 1000)]
        limit: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum Providers {
    /// Which providers the spec declares, which are offered (their variables
    /// set), the redirect URI to register with each, and whether it answers.
    List,
}

#[derive(Debug, Subcommand)]
pub enum Tokens {
    /// Print an access token for a user (all scopes unless --scope), e.g. for curl.
    Issue {
        email: String,
        #[arg(long)]
        scope: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum Users {
    /// Create an account (the password is asked for when --password is absent).
    Add {
        email: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Every user with their identities (local account, providers).
    List,
    /// Disable an account: its sign-in, grants and tokens stop working.
    Disable { email: String },
    /// Let a user sign in with a provider account: the provider's subject (its
    /// user id) is linked to the user with this email.
    Link {
        email: String,
        /// The provider's name in the spec.
        #[arg(long)]
        provider: String,
        /// The user's id at the provider (`sub`; GitHub: the numeric id;
        /// Microsoft: the object id).
        #[arg(long)]
        subject: String,
        /// The issuer, when the provider cannot tell it (Microsoft `common`),
        /// or its variables are not set here.
        #[arg(long)]
        issuer: Option<String>,
    },
    /// Remove a user's identities at a provider (one subject, or all).
    Unlink {
        email: String,
        #[arg(long)]
        provider: String,
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        issuer: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum Clients {
    List,
    /// Revoke a client and every token issued to it.
    Revoke {
        client_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum Grants {
    List {
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        client: Option<String>,
    },
    /// Withdraw a user's grants (to one client, or all) and revoke their tokens.
    Revoke {
        #[arg(long)]
        user: String,
        #[arg(long)]
        client: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum Keys {
    /// Sign new tokens with a new key; the old one stays published until its tokens expire.
    Rotate,
    /// Seal the stored private keys (and providers' tokens) with the current
    /// GATEHOUSE_SECRET_KEY; values sealed with the old one need it in
    /// GATEHOUSE_PREVIOUS_SECRET_KEY.
    Rewrap,
}

/// A command's failure, as one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Account(#[from] accounts::AccountError),
    #[error("no account has the email {0}")]
    NoSuchUser(String),
    #[error("several users have the email {0}; link by hand in the database")]
    AmbiguousUser(String),
    #[error("the spec declares no sign-in provider `{0}`")]
    NoSuchProvider(String),
    #[error("provider `{name}` is not offered here ({reason}); set its variables or pass --issuer")]
    ProviderNotOffered { name: String, reason: String },
    #[error(
        "provider `{0}` signs people in from many directories: pass --issuer https://login.microsoftonline.com/<tenant id>/v2.0"
    )]
    IssuerNeeded(String),
    #[error("`{issuer}` is not an issuer of provider `{name}`")]
    WrongIssuer { name: String, issuer: String },
    #[error("that identity belongs to a user already")]
    IdentityTaken,
    #[error("no client {0}")]
    NoSuchClient(String),
    #[error("could not read the password: {0}")]
    Password(std::io::Error),
    #[error("this server does not use OAuth (`auth: none`); it needs no token")]
    NoOAuth,
    #[error(transparent)]
    OAuthStart(#[from] crate::oauth::OAuthStartError),
    #[error("{0}")]
    OAuth(#[from] crate::oauth::error::OAuthError),
    #[error(transparent)]
    Keys(#[from] keys::KeysError),
    #[error(transparent)]
    Upstream(#[from] crate::oauth::upstream::tokens::UpstreamTokenError),
    #[error("set GATEHOUSE_SECRET_KEY to the secret to seal with (at least 32 characters)")]
    NoSecretKey,
}

fn time(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// The user with this email: their local account's, else the one user whose
/// email it is (people who sign in through a provider).
async fn user_id(store: &Store, email: &str) -> Result<String, CliError> {
    let normalized = accounts::normalize_email(email)?;
    if let Some((user, _)) = store.local_account(&normalized).await? {
        return Ok(user.id);
    }
    let mut users = store.users_with_email(&normalized).await?;
    match users.len() {
        0 => Err(CliError::NoSuchUser(email.to_string())),
        1 => Ok(users.remove(0).id),
        _ => Err(CliError::AmbiguousUser(email.to_string())),
    }
}

/// The issuer that keys a provider's identities (U-11).
fn provider_issuer(
    spec: &gatehouse_specs::Spec,
    config: &crate::Config,
    name: &str,
    given: Option<&str>,
) -> Result<String, CliError> {
    use crate::oauth::upstream::provider::{IssuerRule, Location, resolve};
    let p = spec
        .sign_in
        .providers
        .get(name)
        .ok_or_else(|| CliError::NoSuchProvider(name.to_string()))?;
    let resolved = resolve(
        name,
        p,
        &spec.sign_in,
        &config.env,
        config.public_url.as_str(),
    );
    match (resolved, given) {
        (Ok(c), given) => {
            let known = match &c.location {
                Location::Github { issuer, .. } => Some(issuer.clone()),
                Location::Discovered {
                    issuer: IssuerRule::Exact(i),
                    ..
                } => Some(i.clone()),
                Location::Discovered {
                    issuer: rule @ IssuerRule::MicrosoftTemplate { .. },
                    ..
                } => {
                    return match given {
                        Some(g) if rule.accepts_response_iss(g) => Ok(g.to_string()),
                        Some(g) => Err(CliError::WrongIssuer {
                            name: name.into(),
                            issuer: g.into(),
                        }),
                        None => Err(CliError::IssuerNeeded(name.into())),
                    };
                }
            };
            match (known, given) {
                (Some(k), Some(g)) if k != g => Err(CliError::WrongIssuer {
                    name: name.into(),
                    issuer: g.into(),
                }),
                (Some(k), _) => Ok(k),
                (None, _) => Err(CliError::IssuerNeeded(name.into())),
            }
        }
        (Err(_), Some(g)) => Ok(g.to_string()),
        (Err(reason), None) => Err(CliError::ProviderNotOffered {
            name: name.to_string(),
            reason: reason.to_string(),
        }),
    }
}

fn read_password() -> Result<String, CliError> {
    if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password: ").map_err(CliError::Password)
    } else {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(CliError::Password)?;
        Ok(s.trim_end_matches(['\n', '\r']).to_string())
    }
}

/// Run an operator command; what it prints is for people, one line per item.
/// `spec` and `config` are those of the server the command administers.
pub async fn run(
    store: &Store,
    spec: &gatehouse_specs::Spec,
    config: &crate::Config,
    command: Command,
) -> Result<(), CliError> {
    match command {
        Command::Tokens(Tokens::Issue { email, scope }) => {
            if spec.auth == gatehouse_specs::Auth::None {
                return Err(CliError::NoOAuth);
            }
            let id = user_id(store, &email).await?;
            let oauth = crate::oauth::OAuth::start(spec, config, store.clone()).await?;
            let tokens = oauth.issue_for_operator(&id, scope.as_deref()).await?;
            println!("{}", tokens["access_token"].as_str().unwrap_or_default());
        }
        Command::Serve => unreachable!("serving is handled by the caller"),
        Command::Users(Users::Add { email, password }) => {
            let password = match password {
                Some(p) => p,
                None => read_password()?,
            };
            let id = accounts::create_local_user(store, &email, &password).await?;
            println!("created {} (user {id})", accounts::normalize_email(&email)?);
        }
        Command::Users(Users::List) => {
            let identities = store.identities().await?;
            for u in store.users().await? {
                let state = if u.disabled_at.is_some() {
                    "disabled"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}\tcreated {}",
                    u.id,
                    u.email.unwrap_or_default(),
                    state,
                    time(u.created_at)
                );
                for i in identities.iter().filter(|i| i.user_id == u.id) {
                    let what = if i.provider == "local" {
                        format!(
                            "local\t{}\t{}",
                            i.subject,
                            if i.has_password {
                                "password"
                            } else {
                                "password disabled"
                            }
                        )
                    } else {
                        format!(
                            "{}\t{}\t{}\t{}{}",
                            i.provider_name.as_deref().unwrap_or("?"),
                            i.provider,
                            i.subject,
                            i.email.as_deref().unwrap_or("-"),
                            if i.email.is_some() && i.email_verified == 1 {
                                " (verified)"
                            } else {
                                ""
                            }
                        )
                    };
                    println!("  identity\t{what}");
                }
            }
        }
        Command::Users(Users::Link {
            email,
            provider,
            subject,
            issuer,
        }) => {
            let id = user_id(store, &email).await?;
            let issuer = provider_issuer(spec, config, &provider, issuer.as_deref())?;
            if !store
                .link_identity_by_operator(&id, &issuer, &subject, &provider, now_ms())
                .await?
            {
                return Err(CliError::IdentityTaken);
            }
            println!("linked {provider} {subject} ({issuer}) to {email}");
        }
        Command::Users(Users::Unlink {
            email,
            provider,
            subject,
            issuer,
        }) => {
            let id = user_id(store, &email).await?;
            let issuer = provider_issuer(spec, config, &provider, issuer.as_deref())?;
            let n = store
                .unlink_identities(&id, &issuer, subject.as_deref())
                .await?;
            println!(
                "unlinked {n} {provider} identit{} of {email}",
                if n == 1 { "y" } else { "ies" }
            );
        }
        Command::Providers(Providers::List) => {
            if spec.sign_in.providers.is_empty() {
                println!("no sign-in providers are declared (sign_in.providers)");
            }
            let cfg = crate::oauth::OAuthConfig::new(spec, config);
            let upstream = crate::oauth::upstream::Upstream::start(
                spec,
                config,
                store.clone(),
                &cfg.issuer,
                cfg.settings.pending_lifetime,
            )
            .await?;
            for u in upstream.unoffered() {
                println!("{}\t{}\tnot offered\t{}", u.name, u.kind.as_str(), u.reason);
            }
            for c in upstream.offered() {
                let offered = upstream.get(&c.name).expect("offered");
                let answer = match upstream.metadata(offered).await {
                    Ok(m) if c.kind.is_oidc() => format!("discovery answers (issuer {})", m.issuer),
                    Ok(_) => "no discovery (GitHub)".to_string(),
                    Err(e) => format!("discovery FAILED: {e}"),
                };
                println!(
                    "{}\t{}\toffered\tredirect URI {}\t{answer}",
                    c.name,
                    c.kind.as_str(),
                    c.redirect_uri
                );
            }
        }
        Command::Users(Users::Disable { email }) => {
            let id = user_id(store, &email).await?;
            store.disable_user(&id, now_ms()).await?;
            println!("disabled {email}");
        }
        Command::Clients(Clients::List) => {
            for c in store.clients().await? {
                let kind = if c.registered == 1 {
                    "registered"
                } else {
                    "pre-registered"
                };
                let state = if c.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                let auth = if c.secret_hash.is_some() {
                    "confidential"
                } else {
                    "public"
                };
                println!(
                    "{}\t{}\t{kind}\t{auth}\t{state}\t{}",
                    c.id, c.name, c.redirect_uris
                );
            }
        }
        Command::Clients(Clients::Revoke { client_id }) => {
            if !store.revoke_client(&client_id, now_ms()).await? {
                return Err(CliError::NoSuchClient(client_id));
            }
            println!("revoked {client_id} and its tokens");
        }
        Command::Grants(Grants::List { user, client }) => {
            let user_filter = match &user {
                Some(email) => Some(user_id(store, email).await?),
                None => None,
            };
            for g in store.consents().await? {
                if user_filter.as_ref().is_some_and(|u| u != &g.user_id)
                    || client.as_ref().is_some_and(|c| c != &g.client_id)
                {
                    continue;
                }
                println!(
                    "{}\t{}\t{}\t{}\tsince {}",
                    g.email.unwrap_or_default(),
                    g.client_id,
                    g.client_name,
                    g.scope,
                    time(g.created_at)
                );
            }
        }
        Command::Audit(Audit::List { user, since, limit }) => {
            let user_filter = match &user {
                Some(email) => Some(user_id(store, email).await?),
                None => None,
            };
            let since = now_ms() - since.as_millis() as i64;
            let emails: std::collections::HashMap<String, String> = store
                .users()
                .await?
                .into_iter()
                .map(|u| (u.id, u.email.unwrap_or_default()))
                .collect();
            for e in store
                .audit_events(user_filter.as_deref(), since, limit.max(1))
                .await?
            {
                let who = e
                    .user_id
                    .as_ref()
                    .map(|id| emails.get(id).cloned().unwrap_or_else(|| id.clone()))
                    .or(e.subject)
                    .unwrap_or_else(|| "-".into());
                // Debug formatting escapes what a caller sent (no forged lines).
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{:?}\t{:?}",
                    time(e.at),
                    e.event,
                    e.outcome,
                    who.escape_debug(),
                    e.client_id.as_deref().unwrap_or("-").escape_debug(),
                    e.address.as_deref().unwrap_or("-"),
                    e.user_agent.unwrap_or_default(),
                    e.detail.unwrap_or_default(),
                );
            }
        }
        Command::Grants(Grants::Revoke { user, client }) => {
            let id = user_id(store, &user).await?;
            let n = store
                .revoke_grants(&id, client.as_deref(), now_ms())
                .await?;
            println!("revoked {n} grant(s) of {user} and their tokens");
        }
        Command::Keys(Keys::Rotate) => {
            let sealer = config.secret_key.as_deref().map(Sealer::from_secret);
            // The stored keys must open with this secret (a rotation under
            // another one would leave keys no start can read).
            if let Some(s) = &sealer {
                keys::rewrap(store, s, &[]).await?;
            }
            let kid = keys::rotate(store, sealer.as_ref()).await?;
            println!("new signing key {kid}; replicas pick it up within a minute");
        }
        Command::Keys(Keys::Rewrap) => {
            let to = config
                .secret_key
                .as_deref()
                .map(Sealer::from_secret)
                .ok_or(CliError::NoSecretKey)?;
            // What the values may be sealed with now: the previous secret, or
            // (for providers' tokens) the key kept in the store when no secret
            // was set.
            let mut from: Vec<Sealer> = config
                .env
                .get("GATEHOUSE_PREVIOUS_SECRET_KEY")
                .map(Sealer::from_secret)
                .into_iter()
                .collect();
            from.push(Sealer::load(store, None).await?);
            let signing = keys::rewrap(store, &to, &from).await?;
            let tokens = crate::oauth::upstream::tokens::rewrap(store, &to, &from).await?;
            println!(
                "sealed {signing} signing key(s) and {tokens} provider token set(s) with the current GATEHOUSE_SECRET_KEY"
            );
        }
    }
    Ok(())
}
