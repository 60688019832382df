//! Sync on change: Secrets Manager's own `Secret Label Updated` event, through EventBridge (no
//! CloudTrail needed). A failure is an invocation error, so that EventBridge's retries and the
//! dead-letter queue apply.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::core::deadline::within;
use crate::core::sync::{self, Synced};
use crate::core::user_wait::{self, UserWait};
use crate::error::{AwsCall, Error};
use crate::inbound::eventbridge;
use crate::inbound::invocation::Invocation;
use crate::inbound::metrics::Outcome;

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

/// An EventBridge event from Secrets Manager, of type `Secret Label Updated`, whatever its
/// shape inside.
pub fn recognises(event: &Map<String, Value>) -> bool {
    eventbridge::recognises(event)
        && event.get("source").and_then(Value::as_str) == Some(SOURCE)
        && event.get("detail-type").and_then(Value::as_str) == Some(DETAIL_TYPE)
}

/// Reads the event; one whose `detail` is not as Secrets Manager sends it is named.
pub fn parse(event: Map<String, Value>) -> Result<LabelUpdated, Error> {
    of_envelope(eventbridge::parse(event)?)
}

fn of_envelope(event: EventBridgeEvent<Value>) -> Result<LabelUpdated, Error> {
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
        })
}

pub async fn handle(invocation: &Invocation<'_>, event: Map<String, Value>) -> Result<Value, Error> {
    let envelope = eventbridge::parse(event).map_err(|err| invocation.unrecognised(err))?;
    if let Some(refused) = eventbridge::from_another_account(invocation, &envelope, "sync") {
        return Ok(refused);
    }
    let event = of_envelope(envelope).map_err(|err| invocation.unrecognised(err))?;
    let (secret_id, label, version) = (&event.secret_id, &event.label, &event.version_id);
    let call = AwsCall {
        action: "sync",
        resource: secret_id.clone(),
    };
    let wait = UserWait {
        wait: user_wait::DEFAULT_WAIT,
        deadline: invocation.deadlines.work,
    };
    let outcome = within(
        invocation.deadlines.work,
        call,
        sync::sync(
            invocation.clients,
            invocation.policy(),
            secret_id,
            label,
            version,
            wait,
        ),
    )
    .await;
    let request_id = &invocation.context.request_id;
    match outcome {
        Ok(Synced::Set {
            user_pool_id,
            username,
        }) => {
            invocation.count("sync", Outcome::Synced, 1);
            tracing::info!(request_id = %request_id, event_kind = "sync", secret_id, label, version, user_pool_id, username, result = "SUCCESS", "password set from the new AWSCURRENT");
            Ok(
                json!({"SecretId": secret_id, "VersionId": version, "UserPoolId": user_pool_id, "Username": username, "Result": "set"}),
            )
        }
        Ok(Synced::Skipped(why)) => {
            tracing::info!(request_id = %request_id, event_kind = "sync", secret_id, label, version, result = "SKIPPED", why, "nothing to sync");
            Ok(json!({"SecretId": secret_id, "VersionId": version, "Result": why}))
        }
        Err(err) => {
            invocation.count("sync", Outcome::SyncFailed, 1);
            tracing::error!(request_id = %request_id, event_kind = "sync", secret_id, label, version, result = "FAILED", retryable = err.is_retryable(), error = %err.for_log(), "sync failed");
            Err(err)
        }
    }
}
