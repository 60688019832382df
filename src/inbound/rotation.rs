//! Secrets Manager's rotation: one step per invocation, for a user's JSON secret. The result is
//! logged and returned; a failure is an invocation error, so that Secrets Manager marks the
//! rotation failed and tries again.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::core::deadline::within;
use crate::core::rotation::{self, Step};
use crate::error::{AwsCall, Error};
use crate::inbound::invocation::{Invocation, describe_serde_error};
use crate::inbound::metrics::Outcome;

/// One step, as Secrets Manager invokes it. `RotationToken` (a credential) is not read at all.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationEvent {
    pub step: Step,
    pub secret_id: String,
    pub client_request_token: String,
}

/// A rotation event has these three keys; no other shape does.
pub fn recognises(event: &Map<String, Value>) -> bool {
    ["Step", "SecretId", "ClientRequestToken"]
        .iter()
        .all(|key| event.contains_key(*key))
}

/// Reads the step; a malformed one names what is expected.
pub fn parse(event: Map<String, Value>) -> Result<RotationEvent, Error> {
    serde_json::from_value::<RotationEvent>(Value::Object(event)).map_err(|err| {
        Error::UnrecognisedEvent(format!(
            "malformed Secrets Manager rotation event ({}); `Step` must be createSecret, \
             setSecret, testSecret or finishSecret, and `SecretId` and `ClientRequestToken` strings",
            describe_serde_error(&err)
        ))
    })
}

pub async fn handle(invocation: &Invocation<'_>, event: Map<String, Value>) -> Result<Value, Error> {
    let event = parse(event).map_err(|err| invocation.unrecognised(err))?;
    let (step, secret_id, version) = (event.step.name(), &event.secret_id, &event.client_request_token);
    let call = AwsCall {
        action: step,
        resource: secret_id.clone(),
    };
    let outcome = if !invocation.settings.enable_rotation {
        Err(Error::RotationNotEnabled {
            step,
            secret_id: secret_id.clone(),
        })
    } else {
        within(
            invocation.deadlines.work,
            call,
            rotation::rotate(
                invocation.clients,
                invocation.settings,
                event.step,
                secret_id,
                version,
            ),
        )
        .await
    };
    let request_id = &invocation.context.request_id;
    match outcome {
        Ok(result) => {
            invocation.count("rotation", Outcome::RotationStep, 1);
            tracing::info!(request_id = %request_id, event_kind = "rotation", step, secret_id, version, result, "rotation step done");
            Ok(json!({"Step": step, "SecretId": secret_id, "Result": result}))
        }
        Err(err) => {
            invocation.count("rotation", Outcome::RotationStepFailed, 1);
            tracing::error!(request_id = %request_id, event_kind = "rotation", step, secret_id, version, result = "FAILED", retryable = err.is_retryable(), error = %err.for_log(), "rotation step failed");
            Err(err)
        }
    }
}
