//! The leak test: every failure path, run by the release binary at TRACE with known passwords,
//! and everything it produced (every log line, every invocation result and error, every body
//! CloudFormation received) scanned for them.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::BINARY;
use crate::support::aws::{Aws, cfn_request, eventbridge_event, unique};
use crate::support::http::{Reply, ResponseUrl};
use crate::support::moto;
use crate::support::proxy::{Fault, FaultProxy};
use crate::support::runtime::{FunctionProcess, Outcome, RuntimeApi};

const KNOWN_STRONG: &str = "Kn0wn!Strong-Passw0rd-7Q";
const KNOWN_WEAK: &str = "known-weak-password";

#[tokio::test]
async fn no_failure_path_leaks_the_password_anywhere() {
    let aws = Aws::moto().await;
    let (pool, user) = aws.pool_with_user("heidi").await;
    let strong = unique("leak/strong");
    aws.secret(
        &strong,
        &json!({"password": KNOWN_STRONG, "other": KNOWN_WEAK}).to_string(),
    )
    .await;
    let weak = unique("leak/weak");
    aws.secret(&weak, KNOWN_WEAK).await;
    let weak_parameter = format!("/{}", unique("leak"));
    aws.secure_parameter(&weak_parameter, KNOWN_WEAK).await;
    for secret in [&strong, &weak] {
        aws.bind(secret, &pool.id, &user).await;
    }
    aws.bind_parameter(&weak_parameter, &pool.id, &user).await;

    let proxy = FaultProxy::start(moto::endpoint());
    let runtime = Arc::new(RuntimeApi::start());
    let process = FunctionProcess::spawn(
        BINARY,
        &runtime,
        &[
            ("AWS_ENDPOINT_URL", proxy.endpoint.as_str()),
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
            ("TEST_PANIC_FOR_USERNAME", "boom"),
        ],
    );
    let props = |username: &str, secret: &str| json!({"UserPoolId": pool.id, "Username": username, "PasswordSecretId": secret});
    let mut produced: Vec<String> = Vec::new();
    let mut run = async |event: Value, cfn: &ResponseUrl, budget: Duration| {
        let runtime = runtime.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            runtime.invoke_raw(&event.to_string(), budget, budget + Duration::from_secs(10))
        })
        .await
        .unwrap();
        assert_ne!(outcome, Outcome::NoAnswer);
        produced.push(format!("{outcome:?}"));
        produced.extend(cfn.requests().into_iter().map(|r| r.body));
        outcome
    };
    let long = Duration::from_secs(30);
    let short = Duration::from_secs(5);

    // Throttled four times, then success.
    proxy.fail("AdminSetUserPassword", Fault::aws("TooManyRequestsException"), 4);
    let cfn = ResponseUrl::start();
    run(cfn_request("Create", &cfn.url, props(&user, &strong)), &cfn, long).await;
    assert_eq!(
        proxy.calls("AdminSetUserPassword"),
        5,
        "throttled four times, then set"
    );
    // The password does not meet the policy.
    let cfn = ResponseUrl::start();
    run(cfn_request("Create", &cfn.url, props(&user, &weak)), &cfn, long).await;
    // No such user, waited for briefly.
    let cfn = ResponseUrl::start();
    let mut ghost = props("ghost", &strong);
    ghost["WaitForUserSeconds"] = json!(2);
    run(cfn_request("Create", &cfn.url, ghost), &cfn, long).await;
    // Access denied.
    proxy.fail("AdminSetUserPassword", Fault::aws("AccessDeniedException"), 1);
    let cfn = ResponseUrl::start();
    run(cfn_request("Create", &cfn.url, props(&user, &strong)), &cfn, long).await;
    // A 5xx that is retried, and an invalid-parameter error that is not.
    proxy.fail("AdminSetUserPassword", Fault::Status(503), 1);
    proxy.fail("AdminSetUserPassword", Fault::aws("InvalidParameterException"), 1);
    let cfn = ResponseUrl::start();
    run(cfn_request("Create", &cfn.url, props(&user, &strong)), &cfn, long).await;
    let reason = cfn.reason();
    assert!(
        reason.contains("InvalidParameterException: injected by the test proxy"),
        "{reason}"
    );
    // Errors whose message quotes the request, password and all: the message is withheld.
    proxy.fail(
        "AdminSetUserPassword",
        Fault::quoting_request("InvalidParameterException"),
        1,
    );
    let cfn = ResponseUrl::start();
    run(cfn_request("Create", &cfn.url, props(&user, &strong)), &cfn, long).await;
    let reason = cfn.reason();
    assert!(
        reason.contains("the service's message was withheld because it quoted the password"),
        "{reason}"
    );
    proxy.fail(
        "AdminSetUserPassword",
        Fault::quoting_request("InvalidPasswordException"),
        1,
    );
    let cfn = ResponseUrl::start();
    run(cfn_request("Create", &cfn.url, props(&user, &strong)), &cfn, long).await;
    let reason = cfn.reason();
    assert!(
        reason.contains("does not meet the password policy") && reason.contains("(rejected by the policy)"),
        "{reason}"
    );
    // Hung Cognito, hung Secrets Manager.
    proxy.fail("AdminSetUserPassword", Fault::Hang, 1);
    let cfn = ResponseUrl::start();
    run(
        cfn_request("Create", &cfn.url, props(&user, &strong)),
        &cfn,
        short,
    )
    .await;
    proxy.fail("GetSecretValue", Fault::Hang, 1);
    let cfn = ResponseUrl::start();
    run(
        cfn_request("Create", &cfn.url, props(&user, &strong)),
        &cfn,
        short,
    )
    .await;
    // A ResponseURL that fails twice, and one that never answers.
    let cfn = ResponseUrl::scripted(vec![Reply::Status(503), Reply::Status(500)]);
    run(cfn_request("Create", &cfn.url, props(&user, &strong)), &cfn, long).await;
    let cfn = ResponseUrl::scripted(vec![Reply::Hang; 10]);
    run(
        cfn_request("Create", &cfn.url, props(&user, &strong)),
        &cfn,
        short,
    )
    .await;
    // A panic.
    let cfn = ResponseUrl::start();
    run(
        cfn_request("Create", &cfn.url, props("boom", &strong)),
        &cfn,
        long,
    )
    .await;
    // EventBridge and direct failures, from a parameter and from a JSON key.
    let none = ResponseUrl::start();
    let event = json!({"UserPoolId": pool.id, "Username": user, "PasswordParameterName": weak_parameter});
    run(eventbridge_event(event.clone()), &none, long).await;
    let mut direct = props(&user, &strong);
    direct["PasswordSecretJsonKey"] = json!("other");
    run(direct, &none, long).await;
    let mut direct = props(&user, &strong);
    direct["PasswordSecretJsonKey"] = json!("absent");
    run(direct, &none, long).await;
    // A plaintext password given where a reference belongs.
    let mut plaintext = props(&user, &strong);
    plaintext["Password"] = json!(KNOWN_STRONG);
    run(plaintext, &none, long).await;
    // A `Users` list with a strong and a weak password, throttled once, and an SQS batch of the
    // same: the per-user messages and the batch answer.
    proxy.fail("AdminSetUserPassword", Fault::aws("TooManyRequestsException"), 1);
    let second = unique("ivan");
    aws.user(&pool, &second).await;
    let list = json!({"UserPoolId": pool.id, "MaxCallsPerSecond": 50, "Users": [
        {"Username": user, "PasswordSecretId": strong},
        {"Username": second, "PasswordSecretId": weak},
    ]});
    run(list.clone(), &none, long).await;
    let sqs = json!({"Records": [
        {"messageId": "m-1", "body": list.to_string(), "eventSource": "aws:sqs"},
        {"messageId": "m-2", "body": json!({"UserPoolId": pool.id, "Username": second,
            "PasswordParameterName": weak_parameter}).to_string(), "eventSource": "aws:sqs"},
    ]});
    let outcome = run(sqs, &none, long).await;
    assert_eq!(
        outcome.response()["batchItemFailures"].as_array().map(Vec::len),
        Some(2),
        "{outcome:?}"
    );

    let output = process.output();
    assert!(output.lines().count() > 100, "TRACE logging is on");
    assert!(output.contains("did not answer in time"), "the failure paths ran");
    assert!(output.contains("panicked"), "the failure paths ran");
    assert!(
        output.contains("/cfn-response/stack/req"),
        "the ResponseURL's place is logged"
    );
    produced.push(output);
    // The ResponseURL's query string is a credential too (anyone holding it can answer for the
    // stack): in no log line, answer or response, at TRACE, through retries, hangs and refusals.
    let signature = ResponseUrl::start()
        .url
        .split("X-Amz-Signature=")
        .nth(1)
        .unwrap()
        .to_owned();
    for (i, text) in produced.iter().enumerate() {
        if let Some(line) = text.lines().find(|line| line.contains(&signature)) {
            panic!("output {i} holds the ResponseURL's signature: {line}");
        }
        for password in [KNOWN_STRONG, KNOWN_WEAK] {
            if let Some(line) = text.lines().find(|line| line.contains(password)) {
                let shown = line.replace(password, "<PASSWORD>");
                panic!(
                    "output {i} of {} holds a password: {}",
                    produced.len(),
                    &shown[..shown.len().min(600)]
                );
            }
        }
    }
}
