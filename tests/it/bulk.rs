//! Many users: a `Users` list (direct and CloudFormation) and an SQS batch, against moto, at a
//! rate the function holds, with every user accounted for.

use std::time::Duration;

use cognito_set_password::Settings;
use cognito_set_password::settings::SecretBinding;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};

use crate::support::aws::{Aws, Login, Pool, cfn_request, sqs_event, strong_password, unique};
use crate::support::http::ResponseUrl;
use crate::support::moto;
use crate::support::proxy::{Fault, FaultProxy};
use crate::support::runtime::{json_function, json_function_behind_proxy};
use crate::support::{context, function_at, function_behind_proxy, function_behind_proxy_with};

/// `count` users of `pool`, each with a secret holding a password: (username, secret, password).
async fn users_with_secrets(aws: &Aws, pool: &Pool, count: usize) -> Vec<(String, String, String)> {
    let mut users = Vec::with_capacity(count);
    for _ in 0..count {
        let (user, secret, password) = (unique("u"), unique("bulk/u"), strong_password());
        aws.user(pool, &user).await;
        aws.secret(&secret, &json!({"password": password}).to_string())
            .await;
        aws.bind(&secret, &pool.id, &user).await;
        users.push((user, secret, password));
    }
    users
}

/// `count` `AdminSetUserPassword` calls reached the proxy, spaced at `per_second` within 10%.
fn assert_paced(proxy: &FaultProxy, count: usize, per_second: f64) {
    assert_paced_calls(proxy, "AdminSetUserPassword", count, per_second);
}

/// `count` calls of `operation` reached the proxy, spaced at `per_second` within 10%.
fn assert_paced_calls(proxy: &FaultProxy, operation: &str, count: usize, per_second: f64) {
    let times = proxy.times(operation);
    assert_eq!(times.len(), count);
    let span = times[count - 1].duration_since(times[0]).as_secs_f64();
    let rate = (count - 1) as f64 / span;
    assert!(
        (per_second * 0.9..=per_second * 1.1).contains(&rate),
        "{operation}: {rate:.1} calls per second over {span:.2} s, expected {per_second}"
    );
}

fn entries(users: &[(String, String, String)]) -> Vec<Value> {
    users
        .iter()
        .map(|(user, secret, _)| json!({"Username": user, "PasswordSecretId": secret}))
        .collect()
}

#[tokio::test]
async fn two_hundred_users_in_one_list_all_sign_in_and_one_bad_reference_is_named() {
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let users = users_with_secrets(&aws, &pool, 200).await;
    // GIVEN a deployment whose rate limit is lifted
    let lifted = Settings {
        max_calls_per_second: 1000.0,
        ..Settings::default()
    };
    let (proxy, function) = function_behind_proxy_with(lifted).await;

    // WHEN 200 users arrive in one direct call, at that rate
    let request = json!({"UserPoolId": pool.id, "MaxCallsPerSecond": 1000, "Users": entries(&users)});
    let answer = function
        .handle(LambdaEvent::new(request, context(Duration::from_secs(60))))
        .await
        .unwrap();
    // THEN each is reported set, and each signs in
    let results = answer["Results"].as_array().unwrap();
    assert_eq!(results.len(), 200);
    assert!(results.iter().all(|r| r["Result"] == "set"), "{answer}");
    for (user, _, password) in &users {
        assert_eq!(
            aws.login(&pool, user, password).await,
            Login::Authenticated,
            "{user}"
        );
    }
    assert_eq!(proxy.calls("AdminSetUserPassword"), 200);
    assert!(
        proxy.calls("BatchGetSecretValue") >= 10,
        "secrets read 20 at a time"
    );
    assert_eq!(proxy.calls("GetSecretValue"), 0);

    // WHEN one entry's secret does not exist (direct)
    let mut with_bad = entries(&users[..50]);
    with_bad[17]["PasswordSecretId"] = json!("bulk/no-such-secret");
    let request = json!({"UserPoolId": pool.id, "MaxCallsPerSecond": 1000, "Users": with_bad});
    let before = proxy.calls("AdminSetUserPassword");
    let err = function
        .handle(LambdaEvent::new(
            request.clone(),
            context(Duration::from_secs(60)),
        ))
        .await
        .unwrap_err()
        .to_string();
    // THEN it is named with why, and the 49 others are set
    assert!(err.starts_with("1 of 50 users were not set"), "{err}");
    assert!(
        err.contains(&format!(
            "`{}`: Secrets Manager secret `bulk/no-such-secret` was not found",
            users[17].0
        )),
        "{err}"
    );
    assert_eq!(proxy.calls("AdminSetUserPassword") - before, 49);

    // WHEN the same list comes from CloudFormation, THEN the stack gets FAILED naming it
    let cfn = ResponseUrl::start();
    function
        .handle(LambdaEvent::new(
            cfn_request("Create", &cfn.url, request),
            context(Duration::from_secs(60)),
        ))
        .await
        .unwrap();
    let response = cfn.requests()[0].json();
    assert_eq!(response["Status"], "FAILED");
    assert_eq!(response["PhysicalResourceId"], format!("{}/users", pool.id));
    let reason = response["Reason"].as_str().unwrap();
    assert!(reason.starts_with("1 of 50 users were not set (`"), "{reason}");
    assert!(reason.contains("bulk/no-such-secret"), "{reason}");
}

#[tokio::test]
async fn an_entry_that_pins_a_version_gets_that_version_not_the_batchs_current_one() {
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let users = users_with_secrets(&aws, &pool, 2).await;
    // GIVEN the first secret moved on to a new version, and a third user pinned to the old one
    let newer = strong_password();
    aws.secret_version(&users[0].1, &json!({"password": newer}).to_string())
        .await;
    let pinned = unique("pinned");
    aws.user(&pool, &pinned).await;
    let mut list = entries(&users);
    list.push(json!({"Username": pinned, "PasswordSecretId": users[0].1, "PasswordSecretVersionStage": "AWSPREVIOUS"}));
    // (One secret for two users: a deployment with SecretBinding None, as for shared test passwords.)
    let shared = Settings {
        secret_binding: SecretBinding::None,
        ..Settings::default()
    };
    let function = function_at(moto::endpoint(), shared).await;
    function
        .handle(LambdaEvent::new(
            json!({"UserPoolId": pool.id, "Users": list}),
            context(Duration::from_secs(30)),
        ))
        .await
        .unwrap();
    // THEN the unpinned user gets the current value, the pinned one the previous
    assert_eq!(aws.login(&pool, &users[0].0, &newer).await, Login::Authenticated);
    assert_eq!(aws.login(&pool, &pinned, &users[0].2).await, Login::Authenticated);
}

#[tokio::test]
async fn invalid_entries_are_all_named_and_nothing_is_called() {
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let (proxy, function) = function_behind_proxy().await;
    let request = json!({"UserPoolId": pool.id, "Users": [
        {"Username": "a", "PasswordSecretId": "s/a"},
        {"Username": "a", "PasswordSecretId": "s/b"},
        {"Username": "c", "PasswordSecretId": "s/c", "PasswordParameterName": "/p/c"},
    ]});
    let err = function
        .handle(LambdaEvent::new(request, context(Duration::from_secs(30))))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("the `Users` list has 2 invalid entries, so nothing was set"),
        "{err}"
    );
    assert!(err.contains("Users[1].Username: `a` is also Users[0]"), "{err}");
    assert!(
        err.contains("Users[2]: both `PasswordSecretId` and `PasswordParameterName`"),
        "{err}"
    );
    assert_eq!(
        proxy.calls("AdminSetUserPassword") + proxy.calls("GetSecretValue"),
        0
    );
}

#[tokio::test]
async fn the_rate_limit_is_held_and_the_deadline_leaves_no_user_unaccounted_for() {
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let users = users_with_secrets(&aws, &pool, 40).await;
    let (proxy, function) = function_behind_proxy().await;

    // WHEN 40 users are set at 20 calls per second
    let request = json!({"UserPoolId": pool.id, "MaxCallsPerSecond": "20", "Users": entries(&users)});
    function
        .handle(LambdaEvent::new(request, context(Duration::from_secs(30))))
        .await
        .unwrap();
    // THEN the calls arrive at 20 per second, within 10%
    assert_paced(&proxy, 40, 20.0);

    // WHEN 40 users at 5 per second meet a 5 s deadline
    let request = json!({"UserPoolId": pool.id, "MaxCallsPerSecond": 5, "Users": entries(&users)});
    let err = function
        .handle(LambdaEvent::new(request, context(Duration::from_secs(5))))
        .await
        .unwrap_err()
        .to_string();
    // THEN the users not reached are reported as not done, by name
    let not_done = err.matches("not done before the deadline").count();
    assert!(err.contains("users were not set"), "{err}");
    assert!(not_done >= 20, "{not_done}: {err}");
    let set = proxy.calls("AdminSetUserPassword") - 40;
    // The error lists at most 20 by name and counts the rest; every user is either set or counted.
    let counted: usize = err
        .split(" of 40 users were not set")
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    assert_eq!(set + counted, 40, "{err}");
}

#[tokio::test]
async fn an_sqs_batch_answers_exactly_the_records_that_failed() {
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let users = users_with_secrets(&aws, &pool, 8).await;
    let (runtime, _process) = json_function(moto::endpoint(), &[]);
    // GIVEN 10 records: 8 good (one of them a Users list of two), a body that is not JSON, and
    // a reference to a secret that does not exist
    let mut bodies: Vec<String> = users[..6]
        .iter()
        .map(|(user, secret, _)| {
            json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret}).to_string()
        })
        .collect();
    bodies.push(json!({"UserPoolId": pool.id, "Users": entries(&users[6..8])}).to_string());
    bodies.insert(3, "not json".into());
    bodies.push(
        json!({"UserPoolId": pool.id, "Username": users[0].0, "PasswordSecretId": "bulk/missing"})
            .to_string(),
    );
    bodies.push(
        json!({"UserPoolId": pool.id, "Username": users[1].0, "PasswordSecretId": users[1].1}).to_string(),
    );
    assert_eq!(bodies.len(), 10);
    // WHEN the batch arrives
    let outcome = runtime.invoke_async(sqs_event(&bodies)).await;
    // THEN exactly the two bad records are reported, and the users of the others sign in
    assert_eq!(
        outcome.response(),
        &json!({"batchItemFailures": [{"itemIdentifier": "msg-3"}, {"itemIdentifier": "msg-8"}]})
    );
    for (user, _, password) in &users {
        assert_eq!(
            aws.login(&pool, user, password).await,
            Login::Authenticated,
            "{user}"
        );
    }
}

#[tokio::test]
async fn a_request_cannot_raise_the_rate_the_deployment_keeps_to() {
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let users = users_with_secrets(&aws, &pool, 11).await;
    let list = json!({"UserPoolId": pool.id, "MaxCallsPerSecond": 10000, "Users": entries(&users)});
    for way_in in ["direct", "SQS"] {
        // GIVEN the function deployed at 5 calls per second (one copy working the queue)
        let (proxy, runtime, _process) = json_function_behind_proxy(&[("MAX_CALLS_PER_SECOND", "5")]);

        // WHEN a list asks for 10000 calls per second, directly or as an SQS message
        let event = match way_in {
            "direct" => list.clone(),
            _ => sqs_event(&[list.to_string()]),
        };
        let outcome = runtime.invoke_async(event).await;

        // THEN every user is set, at 5 calls per second (within 10%)
        let answer = outcome.response();
        match way_in {
            "direct" => assert_eq!(answer["Results"].as_array().map(Vec::len), Some(11), "{answer}"),
            _ => assert_eq!(answer, &json!({"batchItemFailures": []})),
        }
        assert_paced(&proxy, 11, 5.0);
    }
}

#[tokio::test]
async fn the_copies_working_the_queue_share_the_rate() {
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let users = users_with_secrets(&aws, &pool, 21).await;
    let proxy = FaultProxy::start(moto::endpoint());
    // GIVEN the function at 20 calls per second, with a queue that runs two copies at once
    let (runtime, _process) = json_function(
        proxy.endpoint.as_str(),
        &[
            ("MAX_CALLS_PER_SECOND", "20"),
            ("BULK_QUEUE_MAXIMUM_CONCURRENCY", "2"),
        ],
    );
    let bodies: Vec<String> = users
        .iter()
        .map(|(user, secret, _)| {
            json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret}).to_string()
        })
        .collect();

    // WHEN one copy works a batch of 21 records
    let outcome = runtime.invoke_async(sqs_event(&bodies)).await;

    // THEN it keeps to its share, 10 calls per second (within 10%), and every user is set
    assert_eq!(outcome.response(), &json!({"batchItemFailures": []}));
    assert_paced(&proxy, 21, 10.0);
    for (user, _, password) in &users {
        assert_eq!(aws.login(&pool, user, password).await, Login::Authenticated);
    }
}

#[tokio::test]
async fn a_stack_retries_only_the_users_denied_while_iam_propagates() {
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let users = users_with_secrets(&aws, &pool, 3).await;
    let (proxy, function) = function_behind_proxy().await;
    let denied = Fault::aws("AccessDeniedException");

    // WHEN a stack's Create of a Users list is denied for two of its three users (the role's
    // policy is still propagating)
    proxy.fail("AdminSetUserPassword", denied.clone(), 2);
    let cfn = ResponseUrl::start();
    let create = cfn_request(
        "Create",
        &cfn.url,
        json!({"UserPoolId": pool.id, "Users": entries(&users)}),
    );
    function
        .handle(LambdaEvent::new(create, context(Duration::from_secs(30))))
        .await
        .unwrap();

    // THEN the two are tried again, the third is not set twice, and every user signs in
    let answer = cfn.requests()[0].json();
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(proxy.calls("AdminSetUserPassword"), 3 + 2);
    for (user, _, password) in &users {
        assert_eq!(aws.login(&pool, user, password).await, Login::Authenticated);
    }

    // AND a direct call is not a stack creating its own role: denied is final at once
    proxy.fail("AdminSetUserPassword", denied, 1);
    let before = proxy.calls("AdminSetUserPassword");
    let direct = function
        .handle(LambdaEvent::new(
            json!({"UserPoolId": pool.id, "Users": entries(&users)}),
            context(Duration::from_secs(30)),
        ))
        .await;
    assert!(format!("{direct:?}").contains("access denied"), "{direct:?}");
    assert_eq!(proxy.calls("AdminSetUserPassword"), before + 3);
}

#[tokio::test]
async fn every_name_is_looked_up_first_at_the_read_rate_which_the_sets_do_not_share() {
    // GIVEN 30 users, a deployment reading at 20 per second and setting at a lifted rate
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let users = users_with_secrets(&aws, &pool, 30).await;
    let (proxy, function) = function_behind_proxy_with(Settings {
        max_reads_per_second: 20.0,
        max_calls_per_second: 1000.0,
        ..crate::support::rotating()
    })
    .await;

    // WHEN one list names them all
    let request = json!({"UserPoolId": pool.id, "Users": entries(&users)});
    function
        .handle(LambdaEvent::new(request, context(Duration::from_secs(30))))
        .await
        .unwrap();

    // THEN the 30 lookups arrive at 20 per second, all before the first set; the sets keep to
    // their own rate, far above it
    assert_paced_calls(&proxy, "AdminGetUser", 30, 20.0);
    let (reads, sets) = (proxy.times("AdminGetUser"), proxy.times("AdminSetUserPassword"));
    assert_eq!(sets.len(), 30);
    assert!(
        reads[29] < sets[0],
        "a password was set before every name was looked up"
    );
    let sets_span = sets[29].duration_since(sets[0]).as_secs_f64();
    assert!(
        sets_span < 29.0 / 20.0 / 2.0,
        "the sets took {sets_span:.2} s: held to the read rate?"
    );
    for (username, _, password) in &users {
        assert_eq!(aws.login(&pool, username, password).await, Login::Authenticated);
    }
}
