//! The outcomes, counted as CloudWatch metrics: one Embedded Metric Format line per outcome,
//! printed beside the log, which CloudWatch Logs turns into metrics with no API call and no extra
//! permission. Each line carries its outcome's `level` and a `timestamp` (INFO for what succeeded,
//! ERROR for what was refused or failed), so that Lambda's log-level filter keeps the failures at
//! every `LogLevel`; successes are counted at INFO and below. The dimensions are the function and
//! the way in only, never a pool, user or secret: each distinct value would be a metric, billed.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde_json::{Value, json};

use crate::error::Error;

/// The metrics' namespace in CloudWatch.
pub const NAMESPACE: &str = "cognito-set-password";

/// What became of a request, a user of a list, a rotation step or a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A password was set.
    Set,
    /// Refused before anything was changed: invalid input, a plaintext password, an event from
    /// another account, a ResponseURL that is not CloudFormation's.
    Refused,
    /// Tried, and failed (AWS answered an error, or the deadline came first).
    Failed,
    RotationStep,
    RotationStepFailed,
    /// The sync set the new `AWSCURRENT`.
    Synced,
    SyncFailed,
}

impl Outcome {
    /// The metric's name in CloudWatch.
    pub fn metric(self) -> &'static str {
        match self {
            Outcome::Set => "PasswordsSet",
            Outcome::Refused => "PasswordsRefused",
            Outcome::Failed => "PasswordsFailed",
            Outcome::RotationStep => "RotationSteps",
            Outcome::RotationStepFailed => "RotationStepsFailed",
            Outcome::Synced => "Syncs",
            Outcome::SyncFailed => "SyncsFailed",
        }
    }

    fn is_failure(self) -> bool {
        !matches!(self, Outcome::Set | Outcome::RotationStep | Outcome::Synced)
    }

    /// A request's error: refused when the function turned the request down before any change.
    pub fn of(err: &Error) -> Self {
        match err {
            Error::UnrecognisedEvent(_)
            | Error::BadMessage(_)
            | Error::InvalidProperty { .. }
            | Error::InvalidUsers { .. }
            | Error::PlaintextPassword { .. }
            | Error::TwoPasswordSources
            | Error::NoPasswordSource { .. }
            | Error::PasswordContract { .. }
            | Error::Unbound { .. }
            | Error::BoundToAnother { .. }
            | Error::FederatedUser { .. }
            | Error::SameUserTwice { .. }
            | Error::VersionSelectorRefused { .. } => Outcome::Refused,
            _ => Outcome::Failed,
        }
    }
}

/// Prints the line for `count` outcomes of `way_in` in invocation `request_id` (nothing for none; a
/// success only when INFO is logged).
pub fn emit(function_name: &str, request_id: &str, way_in: &str, outcome: Outcome, count: usize) {
    if count == 0 || (!outcome.is_failure() && !tracing::enabled!(tracing::Level::INFO)) {
        return;
    }
    let mut document = line(function_name, way_in, outcome, count, SystemTime::now());
    // A property, not a dimension: it ties the count to the invocation's other lines.
    document["requestId"] = json!(request_id);
    println!("{document}");
}

/// One Embedded Metric Format document, as CloudWatch Logs reads it.
pub fn line(function_name: &str, way_in: &str, outcome: Outcome, count: usize, at: SystemTime) -> Value {
    let millis = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
    let timestamp = DateTime::from(at).fmt(Format::DateTime).unwrap_or_default();
    let mut document = json!({
        "_aws": {
            "Timestamp": millis,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["FunctionName", "WayIn"]],
                "Metrics": [{"Name": outcome.metric(), "Unit": "Count"}],
            }],
        },
        "timestamp": timestamp,
        "level": if outcome.is_failure() { "ERROR" } else { "INFO" },
        "FunctionName": function_name,
        "WayIn": way_in,
    });
    document[outcome.metric()] = json!(count);
    document
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_an_emf_document_with_its_level() {
        let at = UNIX_EPOCH + std::time::Duration::from_millis(1_764_000_000_123);
        let set = line("f", "CloudFormation Create", Outcome::Set, 1, at);
        assert_eq!(
            set,
            json!({
                "_aws": {"Timestamp": 1_764_000_000_123u64, "CloudWatchMetrics": [{
                    "Namespace": "cognito-set-password", "Dimensions": [["FunctionName", "WayIn"]],
                    "Metrics": [{"Name": "PasswordsSet", "Unit": "Count"}]}]},
                "timestamp": "2025-11-24T16:00:00.123Z", "level": "INFO",
                "FunctionName": "f", "WayIn": "CloudFormation Create", "PasswordsSet": 1,
            })
        );
        let failed = line("f", "SQS", Outcome::of(&Error::NotReached), 3, at);
        assert_eq!(
            (failed["level"].as_str(), failed["PasswordsFailed"].as_u64()),
            (Some("ERROR"), Some(3))
        );
        assert_eq!(
            Outcome::of(&Error::PlaintextPassword {
                key: "Password".into()
            }),
            Outcome::Refused
        );
    }
}
