//! The release binary under the Runtime API, fed hostile input and a panic: a clear error every
//! time, in bounded time and memory, and the process keeps serving.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::BINARY;
use crate::support::aws::{Aws, Login, cfn_request, strong_password, unique};
use crate::support::http::ResponseUrl;
use crate::support::moto;
use crate::support::runtime::{FunctionProcess, Outcome, RuntimeApi};

fn start(extra: &[(&str, &str)]) -> (RuntimeApi, FunctionProcess) {
    let runtime = RuntimeApi::start();
    let mut env = vec![("AWS_ENDPOINT_URL", moto::endpoint())];
    env.extend_from_slice(extra);
    let process = FunctionProcess::spawn(BINARY, &runtime, &env);
    (runtime, process)
}

/// Invokes off the async thread (the Runtime API waits synchronously); returns the outcome and
/// how long it took.
async fn invoke_raw(runtime: &std::sync::Arc<RuntimeApi>, body: String) -> (Outcome, Duration) {
    let runtime = runtime.clone();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let outcome = runtime.invoke_raw(&body, Duration::from_secs(30), Duration::from_secs(40));
        (outcome, started.elapsed())
    })
    .await
    .unwrap()
}

async fn invoke(runtime: &std::sync::Arc<RuntimeApi>, event: &Value) -> (Outcome, Duration) {
    invoke_raw(runtime, event.to_string()).await
}

fn message(outcome: &Outcome) -> String {
    outcome.error()["errorMessage"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn hostile_input_gets_a_clear_error_in_bounded_time_and_memory() {
    let (runtime, mut process) = start(&[]);
    let runtime = std::sync::Arc::new(runtime);
    let valid = json!({"UserPoolId": "us-east-1_Abc123", "Username": "alice", "PasswordSecretId": "s"});

    // Deeply nested JSON: refused by the parser's depth limit, not by a stack overflow.
    let (outcome, took) = invoke_raw(&runtime, "[".repeat(200_000)).await;
    assert!(matches!(outcome, Outcome::Error(_)), "{outcome:?}");
    assert!(took < Duration::from_secs(2));
    // Nested as deep as the parser allows (128 levels): a plain type error.
    let mut deep = json!("x");
    for _ in 0..120 {
        deep = json!({ "a": deep });
    }
    let (outcome, _) = invoke(
        &runtime,
        &json!({"UserPoolId": deep, "Username": "a", "PasswordSecretId": "s"}),
    )
    .await;
    assert_eq!(
        message(&outcome),
        "property `UserPoolId` must be a string, got an object"
    );

    // Huge strings.
    let mut huge = valid.clone();
    huge["Username"] = json!("u".repeat(4_000_000));
    let (outcome, took) = invoke(&runtime, &huge).await;
    assert_eq!(
        message(&outcome),
        "property `Username` must be 1 to 128 characters long, got 4000000"
    );
    assert!(took < Duration::from_secs(2));
    let mut huge = valid.clone();
    huge["UserPoolId"] = json!("p".repeat(1_000_000));
    let (outcome, _) = invoke(&runtime, &huge).await;
    assert!(
        message(&outcome).starts_with("property `UserPoolId` must look like"),
        "{outcome:?}"
    );
    assert!(
        message(&outcome).len() < 400,
        "the message quotes only the start of the value"
    );

    // A wrong type in every property names that property.
    for field in [
        "UserPoolId",
        "Username",
        "PasswordSecretId",
        "PasswordParameterName",
        "PasswordSecretJsonKey",
        "PasswordSecretVersionStage",
        "PasswordSecretVersionId",
    ] {
        for wrong in [json!(12345), json!([1]), json!({"k": "v"}), json!(true)] {
            let mut event = valid.clone();
            event[field] = wrong.clone();
            let (outcome, _) = invoke(&runtime, &event).await;
            assert!(
                message(&outcome).starts_with(&format!("property `{field}` must be a string, got ")),
                "{field} = {wrong}: {outcome:?}"
            );
        }
    }
    let mut event = valid.clone();
    event["Permanent"] = json!([true]);
    let (outcome, _) = invoke(&runtime, &event).await;
    assert!(message(&outcome).starts_with("property `Permanent` must be true or false"));

    // Control characters.
    let mut event = valid.clone();
    event["Username"] = json!("alice\u{0}\u{1b}[31m");
    let (outcome, _) = invoke(&runtime, &event).await;
    assert!(
        message(&outcome).contains("must not contain control characters (found U+0000)"),
        "{outcome:?}"
    );

    // A ResponseURL that is not a URL: no one to answer, and not CloudFormation's. Retrying cannot
    // fix the URL, so the invocation ends normally (an error would make Lambda run it again),
    // saying why.
    for url in ["not a url\u{7f}", "file:///etc/passwd"] {
        let request = cfn_request("Create", url, valid.clone());
        let (outcome, _) = invoke(&runtime, &request).await;
        assert!(
            outcome.response()["Result"]
                .as_str()
                .unwrap_or_default()
                .starts_with("refused: the ResponseURL is not a CloudFormation response URL"),
            "{outcome:?}"
        );
    }

    assert!(process.is_running());
    let peak = process.peak_rss_kib();
    assert!(
        peak > 0 && peak < 128 * 1024,
        "fits Lambda's 128 MB: peak {peak} KiB"
    );
}

#[tokio::test]
async fn unicode_usernames_work_end_to_end() {
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let user = format!("zoë.ñandú+{}@例え", unique("u"));
    aws.user(&pool, &user).await;
    let password = strong_password();
    let secret = unique("unicode/zoe");
    aws.secret(&secret, &password).await;
    // A tag cannot hold these characters: the secret is bound by the user's sub.
    let sub = aws.sub(&pool, &user).await;
    aws.bind(&secret, &pool.id, &sub).await;
    let (runtime, _process) = start(&[]);
    let runtime = std::sync::Arc::new(runtime);
    let cfn = ResponseUrl::start();

    let request = cfn_request(
        "Create",
        &cfn.url,
        json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret}),
    );
    let (outcome, _) = invoke(&runtime, &request).await;

    assert_eq!(outcome.response()["Status"], "SUCCESS");
    assert_eq!(
        cfn.requests()[0].json()["PhysicalResourceId"],
        format!("{}/{user}", pool.id)
    );
    assert_eq!(aws.login(&pool, &user, &password).await, Login::Authenticated);
}

#[tokio::test]
async fn a_panic_is_still_answered_and_the_process_keeps_serving() {
    let aws = Aws::moto().await;
    let (pool, user, secret, password) = aws.seeded("grace").await;
    let (runtime, mut process) = start(&[("TEST_PANIC_FOR_USERNAME", "boom")]);
    let runtime = std::sync::Arc::new(runtime);

    // WHEN handling a CloudFormation request panics
    let cfn = ResponseUrl::start();
    let boom = cfn_request(
        "Create",
        &cfn.url,
        json!({"UserPoolId": pool.id, "Username": "boom", "PasswordSecretId": secret}),
    );
    let (outcome, _) = invoke(&runtime, &boom).await;
    // THEN CloudFormation still gets FAILED
    assert_eq!(outcome.response()["Status"], "FAILED");
    let answered = cfn.requests();
    assert_eq!(answered.len(), 1);
    let reason = answered[0].json()["Reason"].as_str().unwrap().to_owned();
    assert!(
        reason.starts_with("the function failed unexpectedly (it panicked)"),
        "{reason}"
    );
    assert_eq!(
        answered[0].json()["PhysicalResourceId"],
        format!("failed-{}", boom["RequestId"].as_str().unwrap())
    );

    // WHEN a direct call panics, THEN it is an invocation error
    let (outcome, _) = invoke(
        &runtime,
        &json!({"UserPoolId": pool.id, "Username": "boom", "PasswordSecretId": secret}),
    )
    .await;
    assert!(matches!(outcome, Outcome::Error(_)), "{outcome:?}");

    // AND the same process goes on to serve the next request
    let cfn = ResponseUrl::start();
    let request = cfn_request(
        "Create",
        &cfn.url,
        json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret}),
    );
    let (outcome, _) = invoke(&runtime, &request).await;
    assert_eq!(outcome.response()["Status"], "SUCCESS");
    assert_eq!(aws.login(&pool, &user, &password).await, Login::Authenticated);
    assert!(process.is_running());
}
