//! The way back into an installation without the API: `credstore admin set-password` and
//! `create-superuser` (AWX's `awx-manage changepassword` and `createsuperuser`). They write
//! through the store like the API does, so they are safe while servers run: a server sees
//! the new hash at its next request, and the user's login sessions end.

use crate::crypto::password;
use crate::domain::activity::{user_fields, ActivityRecord};
use crate::domain::username::check_username;
use crate::store::{Store, StoreError, UserWrite};
use secrecy::{ExposeSecret, SecretString};

/// Why an admin command failed. Never carries the password.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("there is no user `{0}`; `credstore admin create-superuser {0}` creates one")]
    NoSuchUser(String),
    #[error(
        "a user `{0}` already exists; `credstore admin set-password {0}` changes its password"
    )]
    UserExists(String),
    #[error("the user name `{name}` is not valid: {reason}")]
    BadUsername { name: String, reason: &'static str },
    #[error("the password is empty; give it as one line on standard input")]
    EmptyPassword,
    #[error("the password could not be hashed: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sets a user's password; their login sessions end (tokens stay, as in AWX).
pub async fn set_password(
    store: &Store,
    username: &str,
    password: &SecretString,
) -> Result<(), AdminError> {
    let user = store
        .user_by_name(username)
        .await?
        .ok_or_else(|| AdminError::NoSuchUser(username.to_string()))?;
    let hash = hash(password).await?;
    let mut changes = serde_json::Map::new();
    changes.insert("password".into(), serde_json::json!(["hidden", "hidden"]));
    let record = ActivityRecord::update_with(None, "user", user.id, changes);
    store
        .update_user(user.id, &user.fields(), Some(&hash), record.as_ref())
        .await?;
    Ok(())
}

/// Creates a superuser; refuses a name that is taken.
pub async fn create_superuser(
    store: &Store,
    username: &str,
    password: &SecretString,
) -> Result<i64, AdminError> {
    check_username(username).map_err(|reason| AdminError::BadUsername {
        name: username.to_string(),
        reason,
    })?;
    if store.user_by_name(username).await?.is_some() {
        return Err(AdminError::UserExists(username.to_string()));
    }
    let hash = hash(password).await?;
    let user = UserWrite {
        username: username.to_string(),
        first_name: String::new(),
        last_name: String::new(),
        email: String::new(),
        is_superuser: true,
        is_system_auditor: false,
    };
    let record =
        ActivityRecord::create(None, "user", user_fields(&user.username, "", "", "", true));
    match store.create_user(&user, &hash, &record).await {
        Err(StoreError::Unique(_)) => Err(AdminError::UserExists(username.to_string())),
        other => Ok(other?),
    }
}

async fn hash(password: &SecretString) -> Result<String, AdminError> {
    if password.expose_secret().is_empty() {
        return Err(AdminError::EmptyPassword);
    }
    password::hash_off_runtime(password.clone())
        .await
        .map_err(|e| AdminError::Hash(e.to_string()))
}
