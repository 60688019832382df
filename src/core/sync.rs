//! Sync on change: when `AWSCURRENT` moves to a version of a bound secret, Cognito is made to hold
//! it, once per version: a rotation's own finishSecret moves it too, and the sync then finds the
//! version already labelled. A version that names no user (a plain password) is set for the user
//! the secret is bound to. Two syncs of one secret may run at once (EventBridge delivers at least
//! once, in any order): each checks after its set that `AWSCURRENT` is still what it set, and
//! otherwise sets the current version again, so that Cognito ends holding `AWSCURRENT`.

use crate::aws::clients::Clients;
use crate::aws::secrets::{self, AWSCURRENT, COGNITO_LABEL, Versions};
use crate::core::binding::{BINDING_TAG, Bound, Policy};
use crate::core::held::{self, Held};
use crate::core::password::select_from_secret;
use crate::core::user_secret::{Parsed, UserSecret};
use crate::core::user_wait::UserWait;
use crate::error::Error;

/// How often one sync follows `AWSCURRENT` when it moved while the sync ran.
const MAX_FOLLOWS: usize = 3;

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

/// After `label` moved to version `version_id` of `secret_id`: sets the password of the secret's
/// user from the new `AWSCURRENT`, waiting for that user as `wait` allows (a secret and its user
/// may be created together).
pub async fn sync(
    clients: &Clients,
    policy: Policy,
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
    let first = set_version(clients, policy, secret_id, &versions, version_id, wait, false).await;
    // Whether it worked or not (the label may have moved under it), this run may have set an
    // older version over one that another sync set: follow AWSCURRENT until it stays put.
    let mut outcome = first;
    let mut set = version_id.to_owned();
    for _ in 0..MAX_FOLLOWS {
        let now = secrets::describe(&clients.secrets_manager_for(secret_id), secret_id).await?;
        if now.has_label(&set, AWSCURRENT) {
            break;
        }
        let Some(current) = now.carrying(AWSCURRENT) else {
            break;
        };
        let current = current.to_owned();
        tracing::info!(
            secret_id,
            set = %set,
            current = %current,
            "AWSCURRENT moved while this sync ran: setting the current version again"
        );
        outcome = set_version(clients, policy, secret_id, &now, &current, wait, true).await;
        set = current;
    }
    outcome
}

/// Sets version `version_id` for the user it names, or, when it names none, for the user the
/// secret is bound to.
async fn set_version(
    clients: &Clients,
    policy: Policy,
    secret_id: &str,
    versions: &Versions,
    version_id: &str,
    wait: UserWait,
    again: bool,
) -> Result<Synced, Error> {
    let Some(value) = secrets::read(
        &clients.secrets_manager_for(secret_id),
        secret_id,
        Some(version_id),
        None,
    )
    .await?
    else {
        return Ok(Synced::Skipped(format!("version `{version_id}` has no value")));
    };
    let source_name = held::source(secret_id, version_id).source_name();
    let secret = match UserSecret::parse_any(&source_name, value.clone())? {
        Parsed::User(secret) => secret,
        Parsed::NoUser => {
            let Some(bound) = versions.tag(BINDING_TAG).and_then(Bound::parse) else {
                return Ok(Synced::Skipped(format!(
                    "version `{version_id}` names no user and the secret is bound to none (no tag \
                     {BINDING_TAG}): nothing to sync"
                )));
            };
            let password = select_from_secret(secret_id, value, None, (&bound.user_pool_id, &bound.user))?;
            UserSecret::of_bound_user(bound.user_pool_id, bound.user, password)
        }
    };
    let version = held::Version {
        secret_id,
        versions,
        version_id,
    };
    let (held, user) = held::hold(clients, policy, version, &secret, wait, again).await?;
    if held != Held::Set {
        return Ok(Synced::Skipped(format!(
            "Cognito already holds this password (the version it was set from has the same value); \
             labelled version `{version_id}` {COGNITO_LABEL}"
        )));
    }
    Ok(Synced::Set {
        user_pool_id: secret.user_pool_id,
        username: user.username,
    })
}
