//! Sync on change: when `AWSCURRENT` moves to a version of a user's secret, Cognito is made to hold
//! it, once per version: a rotation's own finishSecret moves it too, and the sync then finds the
//! version already labelled.

use crate::aws::clients::Clients;
use crate::aws::secrets::{self, AWSCURRENT, COGNITO_LABEL};
use crate::core::held::{self, Held};
use crate::core::user_secret::Parsed;
use crate::core::user_wait::UserWait;
use crate::error::Error;

/// What the sync did, for the log and the return value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Synced {
    Set {
        user_pool_id: String,
        username: String,
    },
    /// Nothing to do, and why.
    Skipped(String),
}

/// After `label` moved to version `version_id` of `secret_id`: sets the password of the user
/// that the new `AWSCURRENT` names, waiting for that user as `wait` allows (a secret and its user
/// may be created together).
pub async fn sync(
    clients: &Clients,
    secret_id: &str,
    label: &str,
    version_id: &str,
    wait: UserWait,
) -> Result<Synced, Error> {
    if label != AWSCURRENT {
        return Ok(Synced::Skipped(format!(
            "label {label} is not AWSCURRENT: nothing to do"
        )));
    }
    let versions = secrets::describe(&clients.secrets_manager_for(secret_id), secret_id).await?;
    if versions.has_label(version_id, COGNITO_LABEL) {
        return Ok(Synced::Skipped(format!(
            "Cognito already holds version `{version_id}` ({COGNITO_LABEL})"
        )));
    }
    // Events can arrive late and out of order: only the version that is current now is set.
    if !versions.has_label(version_id, AWSCURRENT) {
        return Ok(Synced::Skipped(format!(
            "version `{version_id}` is no longer AWSCURRENT: the event for the version that is sets it"
        )));
    }
    let secret = match held::read(clients, secret_id, version_id, None).await? {
        Some(Parsed::User(secret)) => secret,
        Some(Parsed::NoUser) | None => {
            return Ok(Synced::Skipped(format!(
                "version `{version_id}` names no user (it is not a JSON object with `UserPoolId`, \
                 `Username` and `password`): nothing to sync"
            )));
        }
    };
    let held = held::hold(clients, secret_id, &versions, version_id, &secret, wait).await?;
    if held != Held::Set {
        return Ok(Synced::Skipped(format!(
            "Cognito already holds this password (the version it was set from has the same value); \
             labelled version `{version_id}` {COGNITO_LABEL}"
        )));
    }
    Ok(Synced::Set {
        user_pool_id: secret.user_pool_id,
        username: secret.username,
    })
}
