//! Our own code on the hot path, apart from AWS round trips: recognising an event, validating its
//! properties, and building the CloudFormation response body. `cargo bench` prints the figures.

use std::collections::HashMap;
use std::hint::black_box;

use cognito_set_password::core::request::SetPasswordRequest;
use cognito_set_password::inbound::cloudformation::request::{self, resource_properties};
use cognito_set_password::inbound::cloudformation::response::{CfnRequestIds, CfnResponse};
use cognito_set_password::inbound::eventbridge;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value};

const CREATE: &str = include_str!("../events/cloudformation-create.json");
const EVENTBRIDGE: &str = include_str!("../events/eventbridge.json");

fn object(text: &str) -> Map<String, Value> {
    serde_json::from_str(text).unwrap()
}

fn hot_path(c: &mut Criterion) {
    c.bench_function("recognise a CloudFormation Create", |b| {
        b.iter(|| {
            let event = object(black_box(CREATE));
            assert!(request::recognises(&event));
            request::parse(event).unwrap()
        })
    });
    c.bench_function("recognise an EventBridge event", |b| {
        b.iter(|| {
            let event = object(black_box(EVENTBRIDGE));
            assert!(eventbridge::recognises(&event));
            eventbridge::parse(event).unwrap()
        })
    });
    let request = request::parse(object(CREATE)).unwrap();
    let properties = resource_properties(&request).unwrap().clone();
    c.bench_function("validate the properties", |b| {
        b.iter(|| SetPasswordRequest::from_properties(black_box(&properties)).unwrap())
    });
    let ids = CfnRequestIds::of(&request);
    let data = HashMap::from([
        ("UserPoolId".to_owned(), "us-east-1_Example1".to_owned()),
        ("Username".to_owned(), "alice".to_owned()),
    ]);
    c.bench_function("build the response body", |b| {
        b.iter(|| {
            CfnResponse::success(
                black_box(&ids),
                "us-east-1_Example1/alice".into(),
                "done".into(),
                data.clone(),
            )
            .body()
        })
    });
    c.bench_function("build a response body whose Reason must be cut", |b| {
        let reason = "é".repeat(5000);
        b.iter(|| CfnResponse::failed(black_box(&ids), "p".into(), reason.clone(), HashMap::new()).body())
    });
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
