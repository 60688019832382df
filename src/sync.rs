//! Sync on change: Secrets Manager's own `Secret Label Updated` event (EventBridge, no CloudTrail
//! needed). When `AWSCURRENT` moves to a version that names a user, Cognito is made to hold it,
//! once per version: a rotation's own finishSecret fires this event too, and finds the version
//! already labelled.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;
use crate::handler::Clients;
use crate::held::{self, Held};
use crate::secrets::{self, AWSCURRENT, AWSPREVIOUS, COGNITO_LABEL};
use crate::user_secret::Parsed;
use crate::user_wait::UserWait;

pub const SOURCE: &str = "aws.secretsmanager";
pub const DETAIL_TYPE: &str = "Secret Label Updated";

/// The event: which label moved to which version of which secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelUpdated {
    /// The secret's ARN (from `resources`), else its name.
    pub secret_id: String,
    pub label: String,
    pub version_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    name: String,
    label_updated: String,
    version_id: String,
}

impl LabelUpdated {
    /// `Some` for Secrets Manager's `Secret Label Updated` events, whatever their shape inside.
    pub fn recognise(event: &EventBridgeEvent<Value>) -> Option<Result<Self, Error>> {
        if event.source != SOURCE || event.detail_type != DETAIL_TYPE {
            return None;
        }
        Some(
            Detail::deserialize(&event.detail)
                .map(|detail| LabelUpdated {
                    secret_id: event
                        .resources
                        .as_ref()
                        .and_then(|r| r.first().cloned())
                        .unwrap_or(detail.name),
                    label: detail.label_updated,
                    version_id: detail.version_id,
                })
                .map_err(|_| {
                    Error::UnrecognisedEvent(
                        "a `Secret Label Updated` event whose `detail` lacks the strings `name`, \
                         `labelUpdated` and `versionId`"
                            .into(),
                    )
                }),
        )
    }
}

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

/// Sets the password of the user that the new `AWSCURRENT` names, waiting for that user as
/// `wait` allows (a secret and its user may be created together).
pub async fn sync(clients: &Clients, event: &LabelUpdated, wait: UserWait) -> Result<Synced, Error> {
    let (secret_id, version_id) = (event.secret_id.as_str(), event.version_id.as_str());
    if event.label != AWSCURRENT {
        return Ok(Synced::Skipped(format!(
            "label {} is not AWSCURRENT: nothing to do",
            event.label
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
    let held = held::hold(
        clients,
        secret_id,
        &versions,
        version_id,
        &secret,
        AWSPREVIOUS,
        wait,
    )
    .await?;
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
