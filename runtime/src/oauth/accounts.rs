//! Local accounts: an email and a password (argon2id) as an identity of an
//! internal user. Used by the sign-in page, self sign-up and the `users` CLI.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use super::guards::Guards;
use crate::store::{Store, StoreError, UserRow, now_ms};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("`{0}` is not an email address")]
    InvalidEmail(String),
    #[error("the password must be between 8 and 1024 characters")]
    WeakPassword,
    #[error("an account with this email already exists")]
    EmailTaken,
    /// Every password-hashing slot is busy (503, try again).
    #[error("the server is busy checking passwords; try again in a moment")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Trimmed and lowercased, if it looks like an email address.
pub fn normalize_email(email: &str) -> Result<String, AccountError> {
    let e = email.trim().to_lowercase();
    let valid = e.len() <= 254
        && !e.chars().any(char::is_whitespace)
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if valid {
        Ok(e)
    } else {
        Err(AccountError::InvalidEmail(email.trim().to_string()))
    }
}

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password with default parameters")
        .to_string()
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Create a user with a local account, as the operator does (`users add`): the
/// email is vouched for. The new internal user id.
pub async fn create_local_user(
    store: &Store,
    email: &str,
    password: &str,
) -> Result<String, AccountError> {
    create(store, email, password, true).await
}

/// Create a user with a local account on the sign-in page (self sign-up):
/// nobody has checked that the email is theirs, so linking an upstream
/// identity to this user later ends its password (U-13). The hash is computed
/// in a hashing slot (`Guards::hashing`).
pub async fn sign_up(
    store: &Store,
    guards: &Guards,
    email: &str,
    password: &str,
) -> Result<String, AccountError> {
    let (email, password) = (normalize_email(email)?, checked_password(password)?);
    let hash = guards
        .hashing(move || hash_password(&password))
        .await
        .map_err(|_| AccountError::Busy)?;
    insert(store, &email, &hash, false).await
}

fn checked_password(password: &str) -> Result<String, AccountError> {
    let len = password.chars().count();
    if !(8..=1024).contains(&len) {
        return Err(AccountError::WeakPassword);
    }
    Ok(password.to_string())
}

async fn create(
    store: &Store,
    email: &str,
    password: &str,
    verified: bool,
) -> Result<String, AccountError> {
    let email = normalize_email(email)?;
    let password = checked_password(password)?;
    insert(store, &email, &hash_password(&password), verified).await
}

async fn insert(
    store: &Store,
    email: &str,
    hash: &str,
    verified: bool,
) -> Result<String, AccountError> {
    let id = uuid::Uuid::new_v4().to_string();
    if store
        .create_local_user(&id, email, hash, verified, now_ms())
        .await?
    {
        tracing::info!(user = %id, "account created");
        Ok(id)
    } else {
        Err(AccountError::EmailTaken)
    }
}

/// The user behind an email and password, if they match and the user is enabled.
/// Unknown emails cost the same time as wrong passwords (the dummy hash is
/// checked instead); the check runs in a hashing slot (`Guards::hashing`).
pub async fn sign_in(
    store: &Store,
    guards: &Guards,
    email: &str,
    password: &str,
) -> Result<Option<UserRow>, AccountError> {
    let normalized = normalize_email(email).ok();
    let account = match &normalized {
        Some(e) => store.local_account(e).await?,
        None => None,
    };
    let (user, hash) = match account {
        Some((user, hash)) => (Some(user), hash),
        None => (None, DUMMY_HASH.to_string()),
    };
    let password = password.to_string();
    let matches = guards
        .hashing(move || verify_password(&password, &hash))
        .await
        .map_err(|_| AccountError::Busy)?;
    Ok(user.filter(|u| matches && u.disabled_at.is_none()))
}

/// An argon2id hash of a random password, to spend the same time on unknown emails.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0Ea3/G9v+2g5vQG0gDBNe0zTT0kM1eX7L0QmWQx9yS8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_passwords() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in [
            "ada",
            "ada@",
            "@x.com",
            "a b@x.com",
            "ada@localhost",
            "a@b@c.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        let h = hash_password("correct horse");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", DUMMY_HASH));
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
