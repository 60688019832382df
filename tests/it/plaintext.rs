//! A plaintext password is refused on every way in, whatever its property is called, and never
//! echoed; an asynchronous caller's event is not retried into a queue for it, and a stack that
//! carried one before keeps updating and rolling back.

use serde_json::{Value, json};

use crate::support::aws::{Aws, Login, cfn_request, eventbridge_event, sqs_event, unique};
use crate::support::http::ResponseUrl;
use crate::support::runtime::{Outcome, json_function_behind_proxy};

const PLAINTEXT: &str = "Plain-Text-Passw0rd!";

#[tokio::test]
async fn a_plaintext_password_is_refused_on_every_way_in_and_never_echoed() {
    let aws = Aws::moto().await;
    let (pool, user, secret, password) = aws.seeded("pat").await;
    let (proxy, runtime, process) = json_function_behind_proxy(&[]);
    let with = |key: &str| json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret, key: PLAINTEXT});
    let mut answers = Vec::new();

    // WHEN a stack creates the resource with a password under any spelling
    for key in ["Password", "password", "PASSWORD", "TemporaryPassword"] {
        let cfn = ResponseUrl::start();
        runtime
            .invoke_async(cfn_request("Create", &cfn.url, with(key)))
            .await;
        // THEN it fails naming the property
        let response = cfn.requests()[0].json();
        assert_eq!(response["Status"], "FAILED");
        assert!(
            response["Reason"]
                .as_str()
                .unwrap()
                .starts_with(&format!("property `{key}` is refused")),
            "{response}"
        );
        answers.push(response.to_string());
    }
    // WHEN it comes directly (synchronous: Terraform, the CLI), THEN it is an invocation error
    let direct = runtime.invoke_async(with("password")).await;
    assert!(
        matches!(&direct, Outcome::Error(e) if e["errorMessage"].as_str().unwrap().contains("property `password` is refused")),
        "{direct:?}"
    );
    answers.push(format!("{direct:?}"));
    // WHEN a Users entry carries one, THEN the whole list is refused, naming the entry
    let list = json!({"UserPoolId": pool.id, "Users": [
        {"Username": user, "PasswordSecretId": secret},
        {"Username": "other", "PasswordSecretId": secret, "TemporaryPassword": PLAINTEXT}]});
    let refused = runtime.invoke_async(list.clone()).await;
    assert!(
        format!("{refused:?}").contains("property `Users[1].TemporaryPassword` is refused"),
        "{refused:?}"
    );
    answers.push(format!("{refused:?}"));
    // (also when the list itself is malformed: the plaintext is what is refused, so that the
    // rule and the queue end it normally)
    let malformed = runtime
        .invoke_async(json!({"UserPoolId": pool.id, "Users": {}, "Password": PLAINTEXT}))
        .await;
    assert!(
        format!("{malformed:?}").contains("property `Password` is refused"),
        "{malformed:?}"
    );
    answers.push(format!("{malformed:?}"));
    // WHEN it comes through the rule (asynchronous), THEN it ends normally: no retry, no copy of
    // the event in the failed-invocations queue
    let outcome = runtime.invoke_async(eventbridge_event(with("Password"))).await;
    let result = outcome.response()["Result"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        result.starts_with("refused: property `Password` is refused"),
        "{outcome:?}"
    );
    answers.push(result);
    // WHEN it comes through the bulk queue, THEN its record is not returned (only the failing one is)
    let batch = sqs_event(&[
        with("password").to_string(),
        json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": unique("no/such")}).to_string(),
    ]);
    let outcome = runtime.invoke_async(batch).await;
    assert_eq!(
        outcome.response(),
        &json!({"batchItemFailures": [{"itemIdentifier": "msg-1"}]}),
        "{outcome:?}"
    );

    // AND nothing was set, and the value is in no answer and no log line
    assert_eq!(proxy.calls("AdminSetUserPassword"), 0);
    assert_ne!(aws.login(&pool, &user, &password).await, Login::Authenticated);
    for text in answers.iter().chain([&process.output()]) {
        assert!(!text.contains(PLAINTEXT), "{text}");
    }
    let refusals = process
        .output()
        .lines()
        .filter(|line| {
            line.contains(r#""level":"ERROR""#)
                && line.contains("is refused: its name says it holds a password")
        })
        .count();
    assert!(refusals >= 8, "{}", process.output());
}

#[tokio::test]
async fn a_stack_that_had_a_plaintext_property_still_updates_rolls_back_and_deletes() {
    let aws = Aws::moto().await;
    let (pool, user, secret, password) = aws.seeded("quinn").await;
    let (proxy, runtime, process) = json_function_behind_proxy(&[]);
    let props = |value: &str| json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret, "Password": value});
    let update = |new: Value, old: Value| {
        let cfn = ResponseUrl::start();
        let mut request = cfn_request("Update", &cfn.url, new);
        request["PhysicalResourceId"] = json!(format!("{}/{user}", pool.id));
        request["OldResourceProperties"] = old;
        (cfn, request)
    };

    // WHEN an Update (or its rollback) carries the same plaintext value the resource had
    let (cfn, request) = update(props(PLAINTEXT), props(PLAINTEXT));
    runtime.invoke_async(request).await;
    // THEN it succeeds, setting the password from the secret, and the log says to remove it
    assert_eq!(
        cfn.requests()[0].json()["Status"],
        "SUCCESS",
        "{:?}",
        cfn.requests()[0].json()
    );
    assert_eq!(aws.login(&pool, &user, &password).await, Login::Authenticated);
    assert!(
        process
            .output()
            .lines()
            .any(|line| line.contains(r#""level":"ERROR""#)
                && line.contains("plaintext password property it had before")
                && line.contains("Password")),
        "{}",
        process.output()
    );

    // WHEN the Update changes the value, THEN it is refused and nothing is set
    let sets = proxy.calls("AdminSetUserPassword");
    let (cfn, request) = update(props("Another-Plain-1!"), props(PLAINTEXT));
    runtime.invoke_async(request).await;
    assert_eq!(cfn.requests()[0].json()["Status"], "FAILED");
    assert_eq!(proxy.calls("AdminSetUserPassword"), sets);

    // WHEN the stack is deleted, THEN the Delete succeeds
    let cfn = ResponseUrl::start();
    let mut delete = cfn_request("Delete", &cfn.url, props(PLAINTEXT));
    delete["PhysicalResourceId"] = json!(format!("{}/{user}", pool.id));
    runtime.invoke_async(delete).await;
    assert_eq!(cfn.requests()[0].json()["Status"], "SUCCESS");
    assert!(!process.output().contains(PLAINTEXT));
    assert!(!process.output().contains("Another-Plain-1!"));
}
