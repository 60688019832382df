//! Sync on change, through the release binary under the Runtime API: Secrets Manager's own
//! `Secret Label Updated` event sets the password of the user a new AWSCURRENT names, once per
//! version (a rotation's own event and duplicate deliveries set nothing), refuses a version that
//! names another user, and never logs a password, on any of these paths or the rotation's. A plain
//! secret is synced for the user it is bound to; two syncs that race, or a sync and a rotation,
//! end in step.

use serde_json::{Value, json};

use std::time::Duration;

use crate::support::aws::{Aws, Login, label_updated_event, rotation_event, strong_password, unique};
use crate::support::proxy::Fault;
use crate::support::runtime::json_function_behind_proxy;
use crate::support::{function_behind_proxy, invoke};

#[tokio::test]
async fn a_new_current_version_is_set_once_and_never_for_another_user() {
    // GIVEN erin, confirmed with the password her secret holds, and frank in the same pool
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let (erin, frank) = (unique("erin"), unique("frank"));
    let (first, frank_password) = (strong_password(), strong_password());
    aws.confirmed_user(&pool, &erin, &first).await;
    aws.confirmed_user(&pool, &frank, &frank_password).await;
    let name = unique("cognito-set-password/erin");
    let doc = |password: &str| {
        json!({"UserPoolId": pool.id, "Username": erin, "password": password, "ClientId": pool.client_id})
            .to_string()
    };
    let arn = aws.secret(&name, &doc(&first)).await;
    aws.bind(&name, &pool.id, &erin).await;
    let (proxy, runtime, process) = json_function_behind_proxy(&[("AWS_LAMBDA_LOG_LEVEL", "TRACE")]);
    let label_moved = |label: &str, version: &str| label_updated_event(&arn, &name, label, version);
    let sets = || proxy.calls("AdminSetUserPassword");

    // WHEN a new version becomes AWSCURRENT (put-secret-value) and Secrets Manager says so
    let second = strong_password();
    let v2 = aws.secret_version(&name, &doc(&second)).await;
    let outcome = runtime.invoke_async(label_moved("AWSCURRENT", &v2)).await;
    // THEN erin signs in with it, and describe-secret shows that Cognito holds it
    assert_eq!(
        outcome.response(),
        &json!({"SecretId": arn, "VersionId": v2, "UserPoolId": pool.id, "Username": erin, "Result": "set"})
    );
    assert_eq!(aws.login(&pool, &erin, &second).await, Login::Authenticated);
    assert!(matches!(aws.login(&pool, &erin, &first).await, Login::Refused(_)));
    assert_eq!(aws.version_with(&name, "COGNITO_CURRENT").await, Some(v2.clone()));
    assert_eq!(sets(), 1);

    // WHEN the same event is delivered again, or another label moves (the function's own)
    let again = runtime.invoke_async(label_moved("AWSCURRENT", &v2)).await;
    let own = runtime.invoke_async(label_moved("COGNITO_CURRENT", &v2)).await;
    // THEN nothing is set
    assert!(
        result(&again).starts_with("Cognito already holds version"),
        "{again:?}"
    );
    assert_eq!(
        result(&own),
        "label COGNITO_CURRENT is not AWSCURRENT: nothing to do"
    );
    assert_eq!(sets(), 1);

    // WHEN a rotation runs, and its finishSecret fires the event for its version
    let token = aws.start_rotation(&name, true).await;
    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        let outcome = runtime.invoke_async(rotation_event(step, &name, &token)).await;
        assert!(
            matches!(outcome, crate::support::runtime::Outcome::Response(_)),
            "{step}: {outcome:?}"
        );
    }
    assert_eq!(sets(), 2, "the rotation's setSecret");
    let rotated_event = runtime.invoke_async(label_moved("AWSCURRENT", &token)).await;
    // THEN the sync skips it: exactly one set per version
    assert!(result(&rotated_event).starts_with("Cognito already holds version"));
    assert_eq!(sets(), 2);
    let rotated = aws.secret_json(&name, "AWSCURRENT").await["password"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(aws.login(&pool, &erin, &rotated).await, Login::Authenticated);

    // WHEN an old event arrives late, THEN the older version is not set back
    let late = runtime.invoke_async(label_moved("AWSCURRENT", &v2)).await;
    assert!(result(&late).contains("is no longer AWSCURRENT"), "{late:?}");
    assert_eq!(sets(), 2);

    // WHEN someone who may write erin's secret stores a version naming frank
    let takeover = strong_password();
    let v4 = aws
        .secret_version(
            &name,
            &json!({"UserPoolId": pool.id, "Username": frank, "password": takeover}).to_string(),
        )
        .await;
    let refused = runtime.invoke_async(label_moved("AWSCURRENT", &v4)).await;
    // THEN it is refused, naming both, frank keeps his password, and the drift shows
    let message = refused.error()["errorMessage"].as_str().unwrap();
    assert!(
        message.contains(&format!("not to user `{frank}` in user pool `{}`", pool.id)),
        "{message}"
    );
    assert!(
        message.contains(&format!("is bound to user `{erin}` in user pool `{}`", pool.id)),
        "{message}"
    );
    assert_eq!(sets(), 2);
    assert_eq!(
        aws.login(&pool, &frank, &frank_password).await,
        Login::Authenticated
    );
    assert_eq!(
        aws.version_with(&name, "COGNITO_CURRENT").await,
        Some(token.clone())
    );
    // (moto may leave AWSCURRENT on the old version too: ask about the new one)
    assert!(aws.stages(&name).await[&v4].contains(&"AWSCURRENT".to_owned()));

    // WHEN a secret under the prefix holds a plain password, THEN there is no user to sync
    let plain_name = unique("cognito-set-password/plain");
    let plain = strong_password();
    let plain_arn = aws.secret(&plain_name, &plain).await;
    let plain_version = aws.version_with(&plain_name, "AWSCURRENT").await.unwrap();
    let skipped = runtime
        .invoke_async(label_updated_event(
            &plain_arn,
            &plain_name,
            "AWSCURRENT",
            &plain_version,
        ))
        .await;
    assert!(result(&skipped).contains("names no user"), "{skipped:?}");

    // AND a rotation step that fails (the new password is refused at sign-in) is an error
    let token = aws.start_rotation(&name, true).await;
    let unset = strong_password();
    aws.secrets
        .put_secret_value()
        .secret_id(&name)
        .client_request_token(&token)
        .secret_string(doc(&unset))
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    let failed = runtime
        .invoke_async(rotation_event("testSecret", &name, &token))
        .await;
    assert!(
        failed.error()["errorMessage"]
            .as_str()
            .unwrap()
            .contains("does not work")
    );

    // AND no password, and not the RotationToken, appears in any line at TRACE or any answer
    let output = process.output();
    let lines: Vec<Value> = output
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["event_kind"] == "sync" && l["fields"]["result"] == "SUCCESS"),
        "{output}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["event_kind"] == "rotation" && l["level"] == "ERROR")
    );
    let answers = format!("{outcome:?}{again:?}{rotated_event:?}{refused:?}{failed:?}");
    for secret in [
        &first,
        &second,
        &rotated,
        &takeover,
        &frank_password,
        &plain,
        &unset,
    ] {
        assert!(!output.contains(secret.as_str()), "a password reached the log");
        assert!(!answers.contains(secret.as_str()), "a password reached an answer");
    }
    assert!(!output.contains("rotation-token-a-credential"));
}

fn result(outcome: &crate::support::runtime::Outcome) -> String {
    outcome.response()["Result"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_plain_bound_secret_is_synced_for_its_user() {
    // GIVEN gus, and a plain-password secret bound to him
    let aws = Aws::moto().await;
    let (pool, gus, secret, _) = aws.seeded("gus").await;
    let (_proxy, function) = function_behind_proxy().await;
    // WHEN a new password is stored and becomes AWSCURRENT
    let new_password = strong_password();
    let version = aws.secret_version(&secret, &new_password).await;
    let answer = invoke(
        &function,
        label_updated_event(&secret, &secret, "AWSCURRENT", &version),
    )
    .await
    .unwrap();
    // THEN it is set for gus, and the drift marker follows
    assert_eq!(answer["Result"], "set", "{answer}");
    assert_eq!(answer["Username"], gus.as_str(), "{answer}");
    assert_eq!(aws.login(&pool, &gus, &new_password).await, Login::Authenticated);
    assert_eq!(aws.version_with(&secret, "COGNITO_CURRENT").await, Some(version));
}

#[tokio::test]
async fn two_syncs_that_race_end_with_cognito_holding_the_current_version() {
    // GIVEN hana, confirmed with the password her bound JSON secret holds
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let hana = unique("hana");
    let first = strong_password();
    aws.confirmed_user(&pool, &hana, &first).await;
    let name = unique("cognito-set-password/hana");
    let doc =
        |password: &str| json!({"UserPoolId": pool.id, "Username": hana, "password": password}).to_string();
    aws.secret(&name, &doc(&first)).await;
    aws.bind(&name, &pool.id, &hana).await;
    let (proxy, function) = function_behind_proxy().await;

    // WHEN version V becomes current and its sync (A) is held at AdminSetUserPassword, while W
    // becomes current and its sync (B) runs to the end; then A's set lands
    let (v_password, w_password) = (strong_password(), strong_password());
    let v = aws.secret_version(&name, &doc(&v_password)).await;
    proxy.fail("AdminSetUserPassword", Fault::Delay(Duration::from_secs(2)), 1);
    let sync_a = invoke(&function, label_updated_event(&name, &name, "AWSCURRENT", &v));
    let sync_b = async {
        while proxy.calls("AdminSetUserPassword") == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let w = aws.secret_version(&name, &doc(&w_password)).await;
        let answer = invoke(&function, label_updated_event(&name, &name, "AWSCURRENT", &w)).await;
        (w, answer)
    };
    let (a, (w, b)) = tokio::join!(sync_a, sync_b);
    b.unwrap();
    let _ = a;

    // THEN Cognito holds W, which is AWSCURRENT and labelled COGNITO_CURRENT: in step
    assert_eq!(aws.login(&pool, &hana, &w_password).await, Login::Authenticated);
    assert!(matches!(
        aws.login(&pool, &hana, &v_password).await,
        Login::Refused(_)
    ));
    assert!(aws.stages(&name).await[&w].contains(&"AWSCURRENT".to_owned()));
    assert_eq!(aws.version_with(&name, "COGNITO_CURRENT").await, Some(w));
    assert!(
        proxy.calls("AdminSetUserPassword") >= 3,
        "A set V over W, and then W again"
    );
}

#[tokio::test]
async fn a_sync_that_races_a_rotation_ends_with_cognito_holding_the_current_version() {
    // GIVEN ivy, confirmed with the password her bound JSON secret holds
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let ivy = unique("ivy");
    let first = strong_password();
    aws.confirmed_user(&pool, &ivy, &first).await;
    let name = unique("cognito-set-password/ivy");
    let doc =
        |password: &str| json!({"UserPoolId": pool.id, "Username": ivy, "password": password}).to_string();
    aws.secret(&name, &doc(&first)).await;
    aws.bind(&name, &pool.id, &ivy).await;
    let (proxy, function) = function_behind_proxy().await;

    // WHEN version V becomes current and its sync is held at AdminSetUserPassword, while a
    // rotation runs its four steps to the end; then the sync's set of V lands
    let v_password = strong_password();
    let v = aws.secret_version(&name, &doc(&v_password)).await;
    proxy.fail("AdminSetUserPassword", Fault::Delay(Duration::from_secs(2)), 1);
    let sync = invoke(&function, label_updated_event(&name, &name, "AWSCURRENT", &v));
    let rotation = async {
        while proxy.calls("AdminSetUserPassword") == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let token = aws.start_rotation(&name, true).await;
        for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
            let outcome = invoke(&function, rotation_event(step, &name, &token)).await;
            assert!(outcome.is_ok(), "{step}: {outcome:?}");
        }
        token
    };
    let (synced, rotated) = tokio::join!(sync, rotation);
    let _ = synced;
    assert!(
        proxy.calls("AdminSetUserPassword") >= 3,
        "the rotation set R while V was held, V landed, and R was set again"
    );

    // THEN Cognito holds the rotated version, which is AWSCURRENT and labelled COGNITO_CURRENT
    let stages = aws.stages(&name).await;
    assert!(stages[&rotated].contains(&"AWSCURRENT".to_owned()), "{stages:?}");
    assert_eq!(aws.version_with(&name, "COGNITO_CURRENT").await, Some(rotated));
    let current = aws.secret_json(&name, "AWSCURRENT").await;
    assert_eq!(
        aws.login(&pool, &ivy, current["password"].as_str().unwrap())
            .await,
        Login::Authenticated
    );
    assert!(matches!(
        aws.login(&pool, &ivy, &v_password).await,
        Login::Refused(_)
    ));
}
