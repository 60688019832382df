//! A user that is being created: the function waits for it, within bounds, through the release
//! binary under the Runtime API, and says in its answer what to fix when the user never comes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::aws::{Aws, Login, cfn_request, strong_password, unique};
use crate::support::http::ResponseUrl;
use crate::support::moto;
use crate::support::runtime::{FunctionProcess, Outcome, RuntimeApi, json_function};

fn start() -> (Arc<RuntimeApi>, FunctionProcess) {
    let (runtime, process) = json_function(moto::endpoint(), &[("AWS_LAMBDA_LOG_LEVEL", "INFO")]);
    (runtime, process)
}

/// Invokes with `budget` until the deadline, timing the answer.
async fn invoke(runtime: &Arc<RuntimeApi>, event: Value, budget: Duration) -> (Outcome, Duration) {
    let runtime = runtime.clone();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let outcome = runtime.invoke_raw(&event.to_string(), budget, budget + Duration::from_secs(10));
        (outcome, started.elapsed())
    })
    .await
    .unwrap()
}

fn reason(cfn: &ResponseUrl) -> String {
    let delivered = cfn.wait_for(1, Duration::from_secs(5));
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].json()["Status"], "FAILED", "{:?}", delivered[0].body);
    delivered[0].json()["Reason"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_user_created_a_moment_after_the_create_is_waited_for() {
    // GIVEN a secret for a user that does not exist yet
    let aws = Aws::moto().await;
    let (pool, user, secret, password) = aws.seeded_without_user("gina").await;
    let (runtime, process) = start();
    let cfn = ResponseUrl::start();
    let create = cfn_request(
        "Create",
        &cfn.url,
        json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret}),
    );

    // WHEN the Create arrives, and the user is created 3 s later (no DependsOn)
    let (answer, _) = tokio::join!(invoke(&runtime, create, Duration::from_secs(30)), async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        aws.user(&pool, &user).await;
    });

    // THEN CloudFormation gets SUCCESS and the user signs in
    assert_eq!(answer.0.response()["Status"], "SUCCESS", "{:?}", answer.0);
    assert_eq!(aws.login(&pool, &user, &password).await, Login::Authenticated);
    // AND the log says once that it waited, and once how it ended
    let output = process.output();
    let started: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("waiting for it to be created"))
        .collect();
    let ended: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("the user was found after"))
        .collect();
    assert_eq!((started.len(), ended.len()), (1, 1), "{output}");
    assert!(started[0].contains(&user), "{}", started[0]);
}

#[tokio::test]
async fn a_user_that_never_comes_fails_naming_the_missing_depends_on() {
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let secret = unique("wait/ghost");
    aws.secret(&secret, &strong_password()).await;
    let (runtime, process) = start();
    let props = |ghost: &str, wait: Value| json!({"UserPoolId": pool.id, "Username": ghost, "PasswordSecretId": secret, "WaitForUserSeconds": wait});

    // WHEN the user never appears within a 4 s wait
    let cfn = ResponseUrl::start();
    let ghost = unique("ghost");
    aws.bind(&secret, &pool.id, &ghost).await;
    let (outcome, took) = invoke(
        &runtime,
        cfn_request("Create", &cfn.url, props(&ghost, json!("4"))),
        Duration::from_secs(30),
    )
    .await;
    // THEN FAILED after the wait, well before the deadline, naming the likely fix
    assert_eq!(outcome.response()["Status"], "FAILED");
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(8),
        "{took:?}"
    );
    let message = reason(&cfn);
    assert!(
        message.starts_with(&format!(
            "user `{ghost}` does not exist in user pool `{}` and did not appear within 4 s",
            pool.id
        )),
        "{message}"
    );
    assert!(
        message.contains("a `DependsOn` on the user resource is probably missing"),
        "{message}"
    );
    assert!(process.output().contains("it did not appear"));

    // WHEN waiting is turned off, THEN it fails at once, as before
    let cfn = ResponseUrl::start();
    let (outcome, took) = invoke(
        &runtime,
        cfn_request("Create", &cfn.url, props(&ghost, json!(0))),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(outcome.response()["Status"], "FAILED");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(reason(&cfn).starts_with(&format!("user `{ghost}` does not exist in user pool")));

    // WHEN the pool itself does not exist, THEN nothing is waited for
    let cfn = ResponseUrl::start();
    let mut missing_pool = props(&ghost, json!(30));
    missing_pool["UserPoolId"] = json!("us-east-1_NoSuchPool0");
    aws.bind(&secret, "us-east-1_NoSuchPool0", &ghost).await;
    let (_, took) = invoke(
        &runtime,
        cfn_request("Create", &cfn.url, missing_pool),
        Duration::from_secs(30),
    )
    .await;
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(reason(&cfn).starts_with("user pool `us-east-1_NoSuchPool0` was not found"));

    // WHEN the Lambda deadline is 5 s and the wait 30 s, THEN FAILED is answered before it
    aws.bind(&secret, &pool.id, &ghost).await;
    let cfn = ResponseUrl::start();
    let (outcome, took) = invoke(
        &runtime,
        cfn_request("Create", &cfn.url, props(&ghost, json!(30))),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(outcome.response()["Status"], "FAILED", "{outcome:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let message = reason(&cfn);
    // The wait was cut short to answer in time, and says how long it lasted.
    let waited: u64 = message
        .split("did not appear within ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{message}"));
    assert!((1..=3).contains(&waited), "{message}");
    assert!(message.contains("`DependsOn`"), "{message}");
}

#[tokio::test]
async fn direct_calls_and_bad_settings() {
    let aws = Aws::moto().await;
    let (pool, user, secret, password) = aws.seeded_without_user("hank").await;
    let (runtime, _process) = start();
    // A direct call waits too
    let direct = json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret});
    let (answer, _) = tokio::join!(invoke(&runtime, direct.clone(), Duration::from_secs(30)), async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        aws.user(&pool, &user).await;
    });
    assert_eq!(answer.0.response()["Username"], user.as_str(), "{:?}", answer.0);
    assert_eq!(aws.login(&pool, &user, &password).await, Login::Authenticated);
    // A bad WaitForUserSeconds is named
    let mut bad = direct;
    bad["WaitForUserSeconds"] = json!("a minute");
    let (outcome, _) = invoke(&runtime, bad, Duration::from_secs(30)).await;
    assert_eq!(
        outcome.error()["errorMessage"],
        "property `WaitForUserSeconds` must be a whole number of seconds from 0 to 900, got \"a minute\""
    );
}
