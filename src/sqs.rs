//! An SQS queue as the way in for many requests: each record's body is the direct shape (one
//! user, or a `Users` list). The answer is `batchItemFailures` (the event source mapping's
//! `ReportBatchItemFailures`): only the records that failed go back to the queue, to be retried
//! and then dead-lettered; the others are deleted.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde_json::{Map, Value};

/// An SQS event: `Records` whose `eventSource` is `aws:sqs`.
pub fn is_one(map: &Map<String, Value>) -> bool {
    map.get("Records")
        .and_then(Value::as_array)
        .and_then(|records| records.first())
        .and_then(|record| record.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:sqs")
}

/// The records to work on: (message id, the body parsed as JSON, or why it is not JSON).
pub fn records(event: SqsEvent) -> Vec<(String, Result<Value, String>)> {
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
pub fn answer(failed: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for id in failed {
        response.add_failure(id);
    }
    response
}
