//! Who may reach the function and where it may write, tried through the release binary as an
//! attacker would: an event another account put on the bus, a ResponseURL that points anywhere
//! but CloudFormation, and a rotation step on a deployment that does not rotate. Each is refused,
//! and nothing is set or sent. Also what the deployment says of itself at a cold start.

use std::time::Duration;

use serde_json::json;

use crate::support::aws::{Aws, Login, cfn_request, eventbridge_event, label_updated_event, rotation_event};
use crate::support::http::ResponseUrl;
use crate::support::moto;
use crate::support::runtime::{json_function, json_function_behind_proxy};

const ANOTHER_ACCOUNT: &str = "111122223333";

#[tokio::test]
async fn an_event_from_another_account_is_refused_and_sets_nothing() {
    let aws = Aws::moto().await;
    let (pool, user, secret, password) = aws.seeded("olga").await;
    let (proxy, runtime, process) = json_function_behind_proxy(&[]);
    let request =
        eventbridge_event(json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret}));

    // WHEN the rule forwards a request, and a Secret Label Updated, that another account put on the bus
    let mut foreign = request.clone();
    foreign["account"] = json!(ANOTHER_ACCOUNT);
    let mut sync = label_updated_event(&secret, &secret, "AWSCURRENT", "v-1");
    sync["account"] = json!(ANOTHER_ACCOUNT);
    for event in [foreign, sync] {
        let outcome = runtime.invoke_async(event).await;

        // THEN each ends normally, naming the account, and nothing is read or set
        let result = outcome.response()["Result"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            result.starts_with(&format!(
                "refused: the event comes from account {ANOTHER_ACCOUNT}"
            )),
            "{outcome:?}"
        );
    }
    let touched = ["GetSecretValue", "DescribeSecret", "AdminSetUserPassword"].map(|op| proxy.calls(op));
    assert_eq!(touched, [0, 0, 0]);
    assert_eq!(aws.status(&pool, &user).await, "FORCE_CHANGE_PASSWORD");
    assert_ne!(aws.login(&pool, &user, &password).await, Login::Authenticated);
    let refusals = process
        .output()
        .lines()
        .filter(|line| line.contains(r#""level":"ERROR""#) && line.contains(ANOTHER_ACCOUNT))
        .count();
    assert_eq!(refusals, 2, "{}", process.output());

    // WHEN the same request comes from the function's own account, THEN it is served
    let outcome = runtime.invoke_async(request).await;
    assert_eq!(outcome.response()["Username"], user.as_str(), "{outcome:?}");
    assert_eq!(aws.login(&pool, &user, &password).await, Login::Authenticated);
}

#[tokio::test]
async fn a_response_url_that_is_not_cloudformations_receives_nothing() {
    let aws = Aws::moto().await;
    let (pool, user, secret, password) = aws.seeded("pavel").await;
    // GIVEN a local run's function, which accepts ResponseURLs on 127.0.0.1 only
    let (proxy, runtime, process) = json_function_behind_proxy(&[]);
    let props = json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret});

    // WHEN a caller names another loopback address, and the instance metadata service
    let elsewhere = ResponseUrl::start_on("127.0.0.2");
    let metadata = "http://169.254.169.254/latest/meta-data/iam/security-credentials/";
    for response_url in [elsewhere.url.as_str(), metadata] {
        let outcome = runtime
            .invoke_async(cfn_request("Create", response_url, props.clone()))
            .await;

        // THEN the answer is a refusal that names no status, host or path
        let answer = outcome.response().to_string();
        assert!(
            answer.contains("refused: the ResponseURL is not a CloudFormation response URL"),
            "{answer}"
        );
        for leak in [
            "127.0.0.2",
            "169.254",
            "cfn-response",
            "meta-data",
            "200",
            "Status",
        ] {
            assert!(!answer.contains(leak), "{leak} in {answer}");
        }
    }
    // AND nothing was sent there, nothing was read or set, and each refusal is logged
    std::thread::sleep(Duration::from_millis(200));
    assert!(elsewhere.requests().is_empty());
    let touched = ["GetSecretValue", "AdminSetUserPassword"].map(|op| proxy.calls(op));
    assert_eq!(touched, [0, 0]);
    assert_ne!(aws.login(&pool, &user, &password).await, Login::Authenticated);
    let refusals = process
        .output()
        .lines()
        .filter(|line| line.contains(r#""level":"ERROR""#) && line.contains("not CloudFormation's"))
        .count();
    assert_eq!(refusals, 2, "{}", process.output());

    // WHEN the ResponseURL is the allowed one, THEN the stack gets its answer
    let cfn = ResponseUrl::start();
    let outcome = runtime.invoke_async(cfn_request("Create", &cfn.url, props)).await;
    assert_eq!(outcome.response()["Status"], "SUCCESS", "{outcome:?}");
    assert_eq!(cfn.requests().len(), 1);
}

#[tokio::test]
async fn a_rotation_step_is_refused_where_rotation_is_not_enabled() {
    let aws = Aws::moto().await;
    let (pool, user, secret, password) = aws
        .seeded_with("ruth", |password| {
            json!({"UserPoolId": "placeholder", "Username": "ruth", "password": password}).to_string()
        })
        .await;
    // GIVEN a deployment with EnableRotation false (the default), whose role has no rotation grants
    let (proxy, runtime, process) = json_function_behind_proxy(&[("ENABLE_ROTATION", "false")]);
    let token = aws.start_rotation(&secret, false).await;
    let stages_before = aws.stages(&secret).await;

    // WHEN Secrets Manager invokes each step
    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        let outcome = runtime.invoke_async(rotation_event(step, &secret, &token)).await;

        // THEN each fails (Secrets Manager marks the rotation failed), naming the parameter
        let message = outcome.error()["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            message.contains(&format!("step {step} of secret `{secret}` was refused"))
                && message.contains("set the stack parameter EnableRotation to true"),
            "{message}"
        );
    }
    // AND nothing was read, written or set: the secret's versions are as they were
    let touched = [
        "DescribeSecret",
        "GetSecretValue",
        "PutSecretValue",
        "GetRandomPassword",
        "UpdateSecretVersionStage",
        "AdminSetUserPassword",
        "AdminInitiateAuth",
    ]
    .map(|op| proxy.calls(op));
    assert_eq!(touched, [0; 7]);
    assert_eq!(aws.stages(&secret).await, stages_before);
    assert_eq!(aws.status(&pool, &user).await, "FORCE_CHANGE_PASSWORD");
    assert_ne!(aws.login(&pool, &user, &password).await, Login::Authenticated);
    let failures = process
        .output()
        .lines()
        .filter(|line| line.contains(r#""level":"ERROR""#) && line.contains("EnableRotation"))
        .count();
    assert_eq!(failures, 4, "{}", process.output());
}

#[tokio::test]
async fn a_reserved_concurrency_the_bulk_queue_can_fill_is_reported_at_every_cold_start() {
    for (reserved, copies, reported) in [("2", "2", true), ("1", "2", true), ("3", "2", false)] {
        // GIVEN a deployment whose reserved concurrency is `reserved`, the queue's copies `copies`
        let (runtime, process) = json_function(
            moto::endpoint(),
            &[
                ("RESERVED_CONCURRENCY", reserved),
                ("BULK_QUEUE_MAXIMUM_CONCURRENCY", copies),
            ],
        );
        // WHEN it starts (and serves a request, so that its start is complete)
        let outcome = runtime.invoke_async(json!({"nothing": "here"})).await;
        assert!(
            matches!(outcome, crate::support::runtime::Outcome::Error(_)),
            "{outcome:?}"
        );

        // THEN a reserved concurrency not above the copies is an ERROR naming both parameters
        let errors: Vec<_> = process
            .output()
            .lines()
            .filter(|line| line.contains(r#""level":"ERROR""#) && line.contains("ReservedConcurrency"))
            .map(str::to_owned)
            .collect();
        assert_eq!(
            errors.len(),
            usize::from(reported),
            "{reserved}/{copies}: {}",
            process.output()
        );
        if reported {
            assert!(errors[0].contains("BulkQueueMaximumConcurrency"), "{}", errors[0]);
        }
    }
}
