//! From "the provider says this is (issuer, subject)" to one of the server's own
//! users (U-11..U-13). Tokens, sessions and tools only ever see the internal
//! user id (U-12); the upstream subject stays in `identities`.
//!
//! In order:
//! 1. a known identity signs its user in (its email and name refreshed);
//! 2. a new identity whose email the provider verified joins the one user with
//!    that email, where the provider links by email; that user's local
//!    accounts that never proved their email stop taking passwords (no
//!    pre-account-takeover);
//! 3. otherwise, where sign-up is allowed, a new user is made; an email the
//!    provider did not verify is kept on the identity only and never links;
//! 4. otherwise there is no account.
//!
//! A verified email that belongs to an existing user while linking is off
//! signs nobody in: a second account with someone's address would confuse
//! more than it helps.

use super::provider::ProviderConfig;
use crate::store::{Store, StoreError, UpstreamProfile};

/// The outcome of a sign-in through a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    /// Signed in as this internal user.
    User(String),
    /// Nobody to sign in as.
    NoAccount(NoAccount),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAccount {
    /// No user yet, and this provider may not create one.
    SignUpClosed,
    /// The verified email is another user's, and this provider does not link.
    EmailInUse,
    /// The user is disabled.
    Disabled,
}

/// Map a profile to a user (see the module's rules).
pub async fn map(
    store: &Store,
    config: &ProviderConfig,
    profile: &UpstreamProfile,
    now: i64,
) -> Result<Mapped, StoreError> {
    // Two tries: a concurrent first sign-in of the same identity may win the
    // insert; the second pass then finds it.
    for _ in 0..2 {
        if let Some(identity) = store.identity(&profile.provider, &profile.subject).await? {
            let user = store.user(&identity.user_id).await?;
            if user.as_ref().is_none_or(|u| u.disabled_at.is_some()) {
                return Ok(Mapped::NoAccount(NoAccount::Disabled));
            }
            store.refresh_upstream_identity(profile, now).await?;
            return Ok(Mapped::User(identity.user_id));
        }
        if let Some(email) = profile.email.as_deref().filter(|_| profile.email_verified) {
            let owners = store.users_with_email(email).await?;
            match owners.as_slice() {
                [] => {}
                [owner] if config.link_by_email => {
                    if owner.disabled_at.is_some() {
                        return Ok(Mapped::NoAccount(NoAccount::Disabled));
                    }
                    if store
                        .link_upstream_identity(&owner.id, profile, now)
                        .await?
                    {
                        tracing::info!(user = %owner.id, provider = %config.name, "identity linked by verified email");
                        return Ok(Mapped::User(owner.id.clone()));
                    }
                    continue;
                }
                _ => return Ok(Mapped::NoAccount(NoAccount::EmailInUse)),
            }
        }
        if !config.sign_up {
            return Ok(Mapped::NoAccount(NoAccount::SignUpClosed));
        }
        let user_id = uuid::Uuid::new_v4().to_string();
        if store.create_upstream_user(&user_id, profile, now).await? {
            tracing::info!(user = %user_id, provider = %config.name, "account created at first sign-in");
            return Ok(Mapped::User(user_id));
        }
    }
    // The identity was inserted and removed again between our two reads.
    Ok(Mapped::NoAccount(NoAccount::SignUpClosed))
}
