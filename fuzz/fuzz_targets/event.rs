//! Any bytes as an event: parsing, shape recognition, property validation and the response body
//! must never panic, and the body must stay within CloudFormation's limit.
#![no_main]

use cognito_set_password::SetPasswordRequest;
use cognito_set_password::cfn::{CfnRequestIds, CfnResponse, MAX_BODY_BYTES};
use cognito_set_password::event::Invocation;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(invocation) = Invocation::recognise(value) else {
        return;
    };
    let (ids, properties) = match &invocation {
        Invocation::CloudFormation(request) => (CfnRequestIds::of(request), invocation.properties()),
        Invocation::MalformedCloudFormation { raw, .. } => (CfnRequestIds::of_raw(raw), None),
        _ => (CfnRequestIds::default(), invocation.properties()),
    };
    let reason = match properties.map(SetPasswordRequest::from_properties) {
        Some(Ok(request)) => request.physical_resource_id(),
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
