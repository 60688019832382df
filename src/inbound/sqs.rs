//! An SQS queue as the way in for many requests: each record's body is the direct shape (one
//! user, or a `Users` list). The answer is `batchItemFailures` (the event source mapping's
//! `ReportBatchItemFailures`): only the records that failed go back to the queue, to be retried
//! and then dead-lettered; the others are deleted.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::core::setter::{self, RateLimiter};
use crate::core::users::{Request, UserList};
use crate::error::Error;
use crate::inbound::invocation::{Invocation, describe_serde_error};
use crate::inbound::metrics::Outcome;

/// An SQS event: `Records` whose `eventSource` is `aws:sqs`.
pub fn recognises(map: &Map<String, Value>) -> bool {
    map.get("Records")
        .and_then(Value::as_array)
        .and_then(|records| records.first())
        .and_then(|record| record.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:sqs")
}

/// Reads the batch; a malformed one names what is wrong with it.
pub fn parse(event: Map<String, Value>) -> Result<SqsEvent, Error> {
    serde_json::from_value::<SqsEvent>(Value::Object(event)).map_err(|err| {
        Error::UnrecognisedEvent(format!("malformed SQS event: {}", describe_serde_error(&err)))
    })
}

/// Each record is one request, worked on in turn at the rate limit; the answer lists the records
/// that failed (or were not reached before the deadline), so that only those are retried.
pub async fn handle(invocation: &Invocation<'_>, event: Map<String, Value>) -> Result<Value, Error> {
    let event = parse(event).map_err(|err| invocation.unrecognised(err))?;
    let (deadline, request_id) = (invocation.deadlines.work, &invocation.context.request_id);
    let rate = invocation.settings.queue_calls_per_second();
    let limiter = RateLimiter::per_second(rate);
    let mut failed = Vec::new();
    for (message_id, body) in records(event) {
        // A record the deadline leaves no time for goes back to the queue as not done.
        let body = if Instant::now() >= deadline {
            Err(Error::NotReached)
        } else {
            body.map_err(Error::BadMessage)
        };
        let outcome = match body.and_then(|b| Request::from_properties(&b)) {
            Err(err) => {
                invocation.count("SQS", Outcome::of(&err), 1);
                Err(err)
            }
            Ok(Request::One(request)) => {
                let outcome = setter::set_password(
                    invocation.clients,
                    invocation.policy(),
                    &request,
                    deadline,
                    Some(&limiter),
                )
                .await;
                let counted = outcome.as_ref().map_or_else(Outcome::of, |_| Outcome::Set);
                invocation.count("SQS", counted, 1);
                outcome.map(|_| ())
            }
            Ok(Request::Many(list)) => {
                // A message may lower its copy's share of the rate, never raise it.
                let list = UserList {
                    max_calls_per_second: Some(
                        list.max_calls_per_second.map_or(rate, |asked| asked.min(rate)),
                    ),
                    ..list
                };
                invocation
                    .run_many(&list, "SQS")
                    .await
                    .and_then(|(summary, _)| summary.into_result().map(|_| ()))
            }
        };
        match outcome {
            Ok(()) => {
                tracing::info!(request_id = %request_id, event_kind = "SQS", message_id, result = "SUCCESS", "record handled")
            }
            // Deleted, not returned: received again, then dead-lettered, the plaintext would stay
            // in the queues for days.
            Err(err @ Error::PlaintextPassword { .. }) => {
                tracing::error!(request_id = %request_id, event_kind = "SQS", message_id, result = "REFUSED", error = %err.for_log(), "record refused; it is deleted from the queue, not retried");
            }
            Err(err) => {
                tracing::error!(request_id = %request_id, event_kind = "SQS", message_id, result = "FAILED", error = %err.for_log(), "record failed; it goes back to the queue");
                failed.push(message_id);
            }
        }
    }
    serde_json::to_value(answer(failed)).map_err(|err| Error::Internal(err.to_string()))
}

/// The records to work on: (message id, the body parsed as JSON, or why it is not JSON).
fn records(event: SqsEvent) -> Vec<(String, Result<Value, String>)> {
    event
        .records
        .into_iter()
        .map(|record| {
            let id = record.message_id.unwrap_or_default();
            let body = serde_json::from_str::<Value>(record.body.as_deref().unwrap_or(""))
                .map_err(|_| "is not JSON".to_owned());
            (id, body)
        })
        .collect()
}

/// The answer: the ids of the records that failed.
fn answer(failed: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for id in failed {
        response.add_failure(id);
    }
    response
}
