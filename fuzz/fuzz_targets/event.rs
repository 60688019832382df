//! Any bytes as an event: parsing, each way in's recognition and reading, property validation and
//! the response body must never panic, and the body must stay within CloudFormation's limit.
#![no_main]

use cognito_set_password::core::users::Request;
use cognito_set_password::inbound::cloudformation::request::{self, resource_properties};
use cognito_set_password::inbound::cloudformation::response::{CfnRequestIds, CfnResponse, MAX_BODY_BYTES};
use cognito_set_password::inbound::{eventbridge, rotation, sqs, sync};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<Map<String, Value>>(data) else {
        return;
    };
    // Every reader, whichever way in would take the event: none may panic.
    let _ = sync::recognises(&event).then(|| sync::parse(event.clone()));
    let _ = sqs::recognises(&event).then(|| sqs::parse(event.clone()));
    let _ = rotation::recognises(&event).then(|| rotation::parse(event.clone()));
    let detail = eventbridge::recognises(&event)
        .then(|| eventbridge::parse(event.clone()).ok())
        .flatten()
        .map(|event| event.detail);
    let cfn = request::recognises(&event).then(|| request::parse(event.clone()));
    let (ids, properties) = match &cfn {
        Some(Ok(request)) => (CfnRequestIds::of(request), resource_properties(request).cloned()),
        Some(Err(malformed)) => (CfnRequestIds::of_raw(&malformed.raw), None),
        None => (CfnRequestIds::default(), detail.or(Some(Value::Object(event)))),
    };
    let reason = match properties.as_ref().map(Request::from_properties) {
        Some(Ok(Request::One(request))) => request.physical_resource_id(),
        Some(Ok(Request::Many(list))) => list.user_pool_id,
        Some(Err(err)) => err.to_string(),
        None => String::new(),
    };
    let physical_id = ids.physical_resource_id_or_stand_in();
    let data = HashMap::from([("Username".to_owned(), reason.clone())]);
    let body = CfnResponse::failed(&ids, physical_id.clone(), reason.repeat(8), data.clone()).body();
    // Only when the ids and data alone (an empty Reason) exceed the limit may the body: no
    // CloudFormation request carries such ids.
    let floor = CfnResponse::failed(&ids, physical_id, String::new(), data).body().len();
    assert!(body.len() <= MAX_BODY_BYTES || floor > MAX_BODY_BYTES, "body of {} bytes", body.len());
});
