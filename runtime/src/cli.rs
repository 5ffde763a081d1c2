//! The command line of every generated server: `serve` (the default) and the
//! operator's commands for users, clients, grants and signing keys. They work on
//! the store named by `DATABASE_URL`, so they act on a running deployment too.

use std::io::{IsTerminal, Read};

use clap::{Parser, Subcommand};

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
    List,
    /// Disable an account: its sign-in, grants and tokens stop working.
    Disable {
        email: String,
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
}

fn time(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

async fn user_id(store: &Store, email: &str) -> Result<String, CliError> {
    let normalized = accounts::normalize_email(email)?;
    let (user, _) = store
        .local_account(&normalized)
        .await?
        .ok_or_else(|| CliError::NoSuchUser(email.to_string()))?;
    Ok(user.id)
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
        Command::Grants(Grants::Revoke { user, client }) => {
            let id = user_id(store, &user).await?;
            let n = store
                .revoke_grants(&id, client.as_deref(), now_ms())
                .await?;
            println!("revoked {n} grant(s) of {user} and their tokens");
        }
        Command::Keys(Keys::Rotate) => {
            let kid = keys::rotate(store).await?;
            println!("new signing key {kid}; replicas pick it up within a minute");
        }
    }
    Ok(())
}
