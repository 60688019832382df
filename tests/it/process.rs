//! The built binary as a real process under the Lambda Runtime API, configured only through the
//! environment as Lambda configures it (`AWS_ENDPOINT_URL` pointing at moto), logging JSON at
//! TRACE: every outcome, one process serving one invocation after another, no password in any line.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::BINARY;
use crate::support::aws::{Aws, Login, cfn_request, eventbridge_event, strong_password, unique};
use crate::support::http::ResponseUrl;
use crate::support::moto;
use crate::support::runtime::{FunctionProcess, Outcome, RuntimeApi};

fn start_function(log_level: &str) -> (RuntimeApi, FunctionProcess) {
    let runtime = RuntimeApi::start();
    let process = FunctionProcess::spawn(
        BINARY,
        &runtime,
        &[
            ("AWS_ENDPOINT_URL", moto::endpoint()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", log_level),
        ],
    );
    (runtime, process)
}

/// The JSON log lines whose fields include `field` = `value`.
fn lines_with(output: &str, field: &str, value: &str) -> Vec<Value> {
    output
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"][field] == value || line[field] == value)
        .collect()
}

#[tokio::test]
async fn one_process_serves_every_event_shape_and_never_logs_the_password() {
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let (alice, bob) = (unique("alice"), unique("bob"));
    aws.user(&pool, &alice).await;
    aws.user(&pool, &bob).await;
    let (alice_password, bob_password) = (strong_password(), strong_password());
    let alice_secret = unique("proc/alice");
    aws.secret(&alice_secret, &json!({"password": alice_password}).to_string())
        .await;
    let bob_parameter = format!("/{}/bob", unique("proc"));
    aws.secure_parameter(&bob_parameter, &bob_password).await;
    let weak_secret = unique("proc/weak");
    let weak_password = "weak-but-secret";
    aws.secret(&weak_secret, weak_password).await;
    aws.bind(&alice_secret, &pool.id, &alice).await;
    aws.bind_parameter(&bob_parameter, &pool.id, &bob).await;
    aws.bind(&weak_secret, &pool.id, &bob).await;

    let (runtime, mut process) = start_function("TRACE");

    // WHEN CloudFormation creates the resource
    let cfn = ResponseUrl::start();
    let create = cfn_request(
        "Create",
        &cfn.url,
        json!({"UserPoolId": pool.id, "Username": alice, "PasswordSecretId": alice_secret}),
    );
    let (runtime, outcome) = blocking(runtime, Event(create)).await;
    assert_eq!(outcome.response()["Status"], "SUCCESS");
    let delivered = cfn.wait_for(1, Duration::from_secs(5));
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].json()["Status"], "SUCCESS");
    assert_eq!(
        delivered[0].json()["PhysicalResourceId"],
        format!("{}/{}", pool.id, alice)
    );
    assert_eq!(
        aws.login(&pool, &alice, &alice_password).await,
        Login::Authenticated
    );

    // WHEN garbage arrives, it is refused and the process keeps serving
    let (runtime, outcome) = blocking(runtime, Raw("this is not JSON".into())).await;
    assert!(matches!(outcome, Outcome::Error(_)), "{outcome:?}");
    let (runtime, outcome) = blocking(runtime, Event(json!([1, 2]))).await;
    assert_eq!(outcome.error()["errorType"], "NonRetryable");
    assert!(
        outcome.error()["errorMessage"]
            .as_str()
            .unwrap()
            .contains("expected a JSON object, got an array")
    );

    // WHEN EventBridge delivers a request for a parameter-held password
    let event = eventbridge_event(
        json!({"UserPoolId": pool.id, "Username": bob, "PasswordParameterName": bob_parameter}),
    );
    let (runtime, outcome) = blocking(runtime, Event(event)).await;
    assert_eq!(
        outcome.response(),
        &json!({"UserPoolId": pool.id, "Username": bob, "Permanent": true})
    );
    assert_eq!(aws.login(&pool, &bob, &bob_password).await, Login::Authenticated);

    // WHEN a direct call fails on the pool's policy, it is an invocation error
    let direct = json!({"UserPoolId": pool.id, "Username": bob, "PasswordSecretId": weak_secret});
    let (_runtime, outcome) = blocking(runtime, Event(direct)).await;
    assert_eq!(outcome.error()["errorType"], "NonRetryable");
    assert!(
        outcome.error()["errorMessage"]
            .as_str()
            .unwrap()
            .contains("does not meet the password policy"),
        "{outcome:?}"
    );

    assert!(process.is_running(), "the process is still serving");
    let output = process.output();
    // THEN one outcome line per invocation, with what an operator searches by
    let created = lines_with(&output, "event_kind", "CloudFormation Create");
    assert_eq!(created.len(), 1, "{output}");
    assert_eq!(created[0]["fields"]["result"], "SUCCESS");
    assert_eq!(created[0]["fields"]["user_pool_id"], pool.id.as_str());
    assert_eq!(created[0]["fields"]["username"], alice.as_str());
    assert!(
        created[0]["fields"]["request_id"]
            .as_str()
            .unwrap()
            .starts_with("req-")
    );
    assert_eq!(lines_with(&output, "event_kind", "EventBridge").len(), 1);
    let failed = lines_with(&output, "event_kind", "direct");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["level"], "ERROR");
    // AND no password, in any form, in any line at TRACE
    assert!(output.lines().count() > 20, "TRACE logging is on: {output}");
    for secret in [alice_password.as_str(), bob_password.as_str(), weak_password] {
        assert!(!output.contains(secret), "a password reached the log");
    }
}

enum Input {
    Event(Value),
    Raw(String),
}
use Input::{Event, Raw};

/// The Runtime API waits synchronously; keep it off the async test's thread.
async fn blocking(runtime: RuntimeApi, input: Input) -> (RuntimeApi, Outcome) {
    tokio::task::spawn_blocking(move || {
        let outcome = match input {
            Input::Event(event) => runtime.invoke(&event),
            Input::Raw(body) => runtime.invoke_raw(&body, Duration::from_secs(30), Duration::from_secs(40)),
        };
        (runtime, outcome)
    })
    .await
    .unwrap()
}
