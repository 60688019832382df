//! An EventBridge rule (`source: cognito-set-password`, or any event a rule forwards): the
//! properties are the event's `detail`, answered as a direct invocation is. An event from another
//! account than the function's own is refused (a bus policy may let a whole organisation put
//! events on the bus). So is one that carries a plaintext password, without a retry.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::inbound::direct;
use crate::inbound::invocation::{Invocation, describe_serde_error};
use crate::inbound::metrics::Outcome;

/// An EventBridge envelope always has `detail-type` and `detail`.
pub fn recognises(event: &Map<String, Value>) -> bool {
    event.contains_key("detail-type") && event.contains_key("detail")
}

/// Reads the envelope; a malformed one names what is wrong with it.
pub fn parse(event: Map<String, Value>) -> Result<EventBridgeEvent<Value>, Error> {
    serde_json::from_value::<EventBridgeEvent<Value>>(Value::Object(event)).map_err(|err| {
        Error::UnrecognisedEvent(format!(
            "malformed EventBridge event: {}",
            describe_serde_error(&err)
        ))
    })
}

pub async fn handle(invocation: &Invocation<'_>, event: Map<String, Value>) -> Result<Value, Error> {
    let event = parse(event).map_err(|err| invocation.unrecognised(err))?;
    if let Some(refused) = from_another_account(invocation, &event, "EventBridge") {
        return Ok(refused);
    }
    match direct::answer(invocation, &event.detail, "EventBridge").await {
        // Ended normally (it is logged at ERROR): an invocation error would have Lambda retry it
        // and then copy the whole event, plaintext included, into the failed-invocations queue.
        Err(err @ Error::PlaintextPassword { .. }) => Ok(json!({"Result": format!("refused: {err}")})),
        answer => answer,
    }
}

/// The answer to an event whose `account` is not the invoked function's: logged at ERROR, and
/// ended normally, since retrying cannot help. `None` when the event is the function's own.
pub fn from_another_account(
    invocation: &Invocation<'_>,
    event: &EventBridgeEvent<Value>,
    kind: &'static str,
) -> Option<Value> {
    let own = invocation.function_arn().map(|arn| arn.account);
    let sent = event.account.as_deref();
    if own.is_some() && sent == own {
        return None;
    }
    let (sent, own) = (sent.unwrap_or("none"), own.unwrap_or("unknown"));
    tracing::error!(
        request_id = %invocation.context.request_id, event_kind = kind, account = sent, function_account = own,
        result = "REFUSED", "an event from another account than the function's own: nothing was set"
    );
    invocation.count(kind, Outcome::Refused, 1);
    Some(json!({
        "Result": format!(
            "refused: the event comes from account {sent}, and this function serves account {own} only; \
             nothing was set. Put the event on a bus in account {own}"
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_envelope_is_recognised_and_read() {
        let event = json!({"version": "0", "id": "1", "detail-type": "t", "source": "s", "account": "1",
            "time": "2026-11-26T00:00:00Z", "region": "us-east-1", "resources": [], "detail": {}});
        let event = event.as_object().unwrap().clone();
        assert!(recognises(&event));
        assert_eq!(parse(event).unwrap().detail_type, "t");
        let broken = json!({"detail-type": 5, "detail": {}})
            .as_object()
            .unwrap()
            .clone();
        assert!(
            parse(broken)
                .unwrap_err()
                .to_string()
                .contains("malformed EventBridge event")
        );
    }
}
