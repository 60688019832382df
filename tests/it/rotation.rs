//! The rotation function, driven step by step as Secrets Manager drives it, against moto: the
//! user signs in with the new AWSCURRENT and not with the old, every step can be repeated, a
//! rotation cut short after any step completes when restarted, and nothing that did not happen
//! is ever reported.

use serde_json::{Value, json};

use crate::support::aws::{Aws, Login, Pool, rotation_event, strong_password, unique};
use crate::support::{function, function_behind_proxy, invoke};

const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];

/// A confirmed user with a password, and a rotatable secret that holds it.
struct Rotatable {
    aws: Aws,
    pool: Pool,
    user: String,
    old_password: String,
    secret: String,
}

async fn rotatable(minimum_length: i32, client_secret: bool, with_client_id: bool) -> Rotatable {
    let aws = Aws::moto().await;
    let pool = aws.pool_with(minimum_length, client_secret).await;
    let user = unique("carol");
    let old_password = format!(
        "{}{}",
        strong_password(),
        "x".repeat(minimum_length.max(0) as usize)
    );
    aws.confirmed_user(&pool, &user, &old_password).await;
    let secret = unique("cognito-set-password/carol");
    let mut value = json!({"UserPoolId": pool.id, "Username": user, "password": old_password,
        "owner": {"team": "platform"}});
    if with_client_id {
        value["ClientId"] = json!(pool.client_id);
    }
    aws.secret(&secret, &value.to_string()).await;
    aws.bind(&secret, &pool.id, &user).await;
    Rotatable {
        aws,
        pool,
        user,
        old_password,
        secret,
    }
}

fn result_of(outcome: &Result<Value, cognito_set_password::Error>) -> String {
    match outcome {
        Ok(value) => value["Result"].as_str().unwrap_or_default().to_owned(),
        Err(err) => panic!("the step failed: {err}"),
    }
}

#[tokio::test]
async fn a_rotation_gives_the_user_a_new_password_and_every_step_can_be_repeated() {
    // GIVEN a user whose secret names an app client that has a client secret
    let r = rotatable(12, true, true).await;
    let (proxy, function) = function_behind_proxy().await;
    let token = r.aws.start_rotation(&r.secret, true).await;

    // WHEN Secrets Manager runs the four steps, each delivered twice
    for step in STEPS {
        let first = invoke(&function, rotation_event(step, &r.secret, &token)).await;
        let again = invoke(&function, rotation_event(step, &r.secret, &token)).await;
        result_of(&first);
        result_of(&again);
    }

    // THEN the new AWSCURRENT works, the old password does not
    let current = r.aws.secret_json(&r.secret, "AWSCURRENT").await;
    let new_password = current["password"].as_str().unwrap();
    assert_ne!(new_password, r.old_password);
    assert_eq!(new_password.chars().count(), 32, "the default length");
    assert_eq!(
        r.aws.login(&r.pool, &r.user, new_password).await,
        Login::Authenticated
    );
    assert!(matches!(
        r.aws.login(&r.pool, &r.user, &r.old_password).await,
        Login::Refused(_)
    ));
    // AND every other key was carried over
    assert_eq!(current["UserPoolId"], r.pool.id.as_str());
    assert_eq!(current["Username"], r.user.as_str());
    assert_eq!(current["ClientId"], r.pool.client_id.as_str());
    assert_eq!(current["owner"], json!({"team": "platform"}));
    // AND Cognito holds the current version, as describe-secret shows
    let stages = r.aws.stages(&r.secret).await;
    assert!(stages[&token].contains(&"AWSCURRENT".to_owned()), "{stages:?}");
    assert!(
        stages[&token].contains(&"COGNITO_CURRENT".to_owned()),
        "{stages:?}"
    );
    // AND the password was set once, though setSecret ran twice
    assert_eq!(proxy.calls("AdminSetUserPassword"), 1);
    // AND testSecret signed in with a SECRET_HASH, since the app client has a secret
    let sign_ins = proxy.requests("AdminInitiateAuth");
    assert_eq!(sign_ins.len(), 2);
    assert!(
        sign_ins[0]["AuthParameters"]["SECRET_HASH"]
            .as_str()
            .is_some_and(|h| h.len() == 44),
        "a base64 HMAC-SHA256"
    );
    // AND each test sign-in's refresh token was revoked with the client's secret: it no longer
    // refreshes, where a token the user got by signing in does
    let revoked = proxy.requests("RevokeToken");
    assert_eq!(revoked.len(), 2, "one per testSecret: {revoked:?}");
    let own = r.aws.refresh_token(&r.pool, &r.user, new_password).await;
    assert!(r.aws.refreshes(&r.pool, &r.pool.client_id, &own).await);
    for revoke in &revoked {
        assert_eq!(revoke["ClientId"], r.pool.client_id.as_str());
        assert!(
            revoke["ClientSecret"].as_str().is_some_and(|s| !s.is_empty()),
            "{revoke}"
        );
        let token = revoke["Token"].as_str().unwrap();
        assert!(!r.aws.refreshes(&r.pool, &r.pool.client_id, token).await);
    }

    // WHEN a step arrives for a version that is already AWSCURRENT, THEN there is nothing to do
    for step in STEPS {
        let outcome = invoke(&function, rotation_event(step, &r.secret, &token)).await;
        assert!(result_of(&outcome).starts_with("nothing to do"), "{step}");
    }
}

#[tokio::test]
async fn a_rotation_cut_short_after_any_step_completes_when_restarted() {
    let function = function().await;
    for done in 1..=3 {
        // GIVEN a rotation that ran `done` steps and then stopped (a timeout, a crash)
        let r = rotatable(12, false, true).await;
        let token = r.aws.start_rotation(&r.secret, true).await;
        for step in &STEPS[..done] {
            result_of(&invoke(&function, rotation_event(step, &r.secret, &token)).await);
        }
        // WHEN Secrets Manager starts over from createSecret with the same token
        for step in STEPS {
            result_of(&invoke(&function, rotation_event(step, &r.secret, &token)).await);
        }
        // THEN it completes: the user signs in with the new AWSCURRENT
        let current = r.aws.secret_json(&r.secret, "AWSCURRENT").await;
        let new_password = current["password"].as_str().unwrap();
        assert_ne!(new_password, r.old_password, "after {done} step(s)");
        assert_eq!(
            r.aws.login(&r.pool, &r.user, new_password).await,
            Login::Authenticated,
            "after {done} step(s)"
        );
    }
}

#[tokio::test]
async fn the_pools_policy_decides_the_generated_password() {
    // GIVEN a pool that asks for 64 characters of every class
    let r = rotatable(64, false, true).await;
    let function = function().await;
    let token = r.aws.start_rotation(&r.secret, true).await;
    // WHEN the rotation runs
    for step in STEPS {
        result_of(&invoke(&function, rotation_event(step, &r.secret, &token)).await);
    }
    // THEN the password has 64 characters, every class, no whitespace, and it works
    let current = r.aws.secret_json(&r.secret, "AWSCURRENT").await;
    let password = current["password"].as_str().unwrap();
    assert_eq!(password.chars().count(), 64);
    assert!(password.chars().any(|c| c.is_ascii_uppercase()));
    assert!(password.chars().any(|c| c.is_ascii_lowercase()));
    assert!(password.chars().any(|c| c.is_ascii_digit()));
    assert!(password.chars().any(|c| c.is_ascii_punctuation()));
    assert!(!password.chars().any(char::is_whitespace));
    assert_eq!(
        r.aws.login(&r.pool, &r.user, password).await,
        Login::Authenticated
    );
}

#[tokio::test]
async fn without_a_client_id_test_secret_checks_the_status_and_says_so() {
    // GIVEN a secret without ClientId, and a test-only rotation: AWSPENDING holds the current value
    let r = rotatable(12, false, false).await;
    let (proxy, function) = function_behind_proxy().await;
    let token = r.aws.start_rotation(&r.secret, false).await;
    // WHEN createSecret, setSecret and testSecret run
    let created = invoke(&function, rotation_event("createSecret", &r.secret, &token)).await;
    assert!(result_of(&created).starts_with("kept the value"), "{created:?}");
    result_of(&invoke(&function, rotation_event("setSecret", &r.secret, &token)).await);
    let tested = invoke(&function, rotation_event("testSecret", &r.secret, &token)).await;
    // THEN the test passes on the user's status, and says that the password was not tried
    let tested = result_of(&tested);
    assert!(tested.contains("is CONFIRMED"), "{tested}");
    assert!(tested.contains("the password itself was not tried"), "{tested}");
    assert_eq!(proxy.calls("AdminInitiateAuth"), 0);
    assert_eq!(
        r.aws.login(&r.pool, &r.user, &r.old_password).await,
        Login::Authenticated,
        "the value did not change"
    );

    // WHEN a second test-only rotation runs, Cognito already holds that password
    result_of(&invoke(&function, rotation_event("finishSecret", &r.secret, &token)).await);
    let calls = proxy.calls("AdminSetUserPassword");
    let second = r.aws.start_rotation(&r.secret, false).await;
    for step in STEPS {
        result_of(&invoke(&function, rotation_event(step, &r.secret, &second)).await);
    }
    // THEN it is not set again (a pool with password history would refuse it)
    assert_eq!(proxy.calls("AdminSetUserPassword"), calls);
    assert_eq!(
        r.aws.version_with(&r.secret, "COGNITO_CURRENT").await.as_deref(),
        Some(second.as_str())
    );
}

#[tokio::test]
async fn every_step_checks_the_secret_first() {
    let aws = Aws::moto().await;
    let function = function().await;
    let error = |outcome: Result<Value, cognito_set_password::Error>| outcome.unwrap_err().to_string();

    // Rotation not enabled
    let r = rotatable(12, false, true).await;
    let current = aws.version_with(&r.secret, "AWSCURRENT").await.unwrap();
    let message = error(
        invoke(
            &function,
            rotation_event("createSecret", &r.secret, &unique("token-1234567890-1234567890")),
        )
        .await,
    );
    assert!(
        message.starts_with(&format!(
            "rotation step createSecret of secret `{}` failed: secret `{}` cannot be rotated: rotation is not enabled",
            r.secret, r.secret
        )),
        "{message}"
    );

    // A token that is not a version of the secret
    aws.start_rotation(&r.secret, true).await;
    let stranger = unique("token-1234567890-1234567890");
    let message = error(invoke(&function, rotation_event("setSecret", &r.secret, &stranger)).await);
    assert!(
        message.contains(&format!(
            "the ClientRequestToken `{stranger}` is not a version of it"
        )),
        "{message}"
    );

    // A token that is AWSCURRENT already: nothing to do
    let outcome = invoke(&function, rotation_event("setSecret", &r.secret, &current)).await;
    assert!(result_of(&outcome).starts_with("nothing to do"));

    // A version that is neither AWSCURRENT nor AWSPENDING (the first one, now AWSPREVIOUS)
    aws.secret_version(
        &r.secret,
        &json!({"UserPoolId": r.pool.id, "Username": r.user, "password": strong_password()}).to_string(),
    )
    .await;
    aws.start_rotation(&r.secret, true).await;
    let message = error(invoke(&function, rotation_event("setSecret", &r.secret, &current)).await);
    assert!(message.contains("is not staged AWSPENDING"), "{message}");
}

#[tokio::test]
async fn a_step_that_did_not_happen_is_never_reported() {
    // GIVEN a pending version that Cognito was never given (setSecret skipped)
    let r = rotatable(12, false, true).await;
    let function = function().await;
    let token = r.aws.start_rotation(&r.secret, true).await;
    let unset = strong_password();
    r.aws
        .secrets
        .put_secret_value()
        .secret_id(&r.secret)
        .client_request_token(&token)
        .secret_string(json!({"UserPoolId": r.pool.id, "Username": r.user, "password": unset, "ClientId": r.pool.client_id}).to_string())
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    // WHEN testSecret runs, THEN it fails: the sign-in was refused
    let message = invoke(&function, rotation_event("testSecret", &r.secret, &token))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with(&format!(
            "rotation step testSecret of secret `{}` failed: the new password of user `{}`",
            r.secret, r.user
        )),
        "{message}"
    );
    assert!(message.contains("does not work"), "{message}");
    assert!(!message.contains(&unset));
    // WHEN finishSecret runs, THEN it refuses to promote what Cognito does not hold
    let message = invoke(&function, rotation_event("finishSecret", &r.secret, &token))
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains("Cognito does not hold version"), "{message}");
    let current = r.aws.secret_json(&r.secret, "AWSCURRENT").await;
    assert_eq!(
        current["password"],
        r.old_password.as_str(),
        "AWSCURRENT did not move"
    );
}

#[tokio::test]
async fn a_pending_version_that_names_another_user_is_refused() {
    // GIVEN carol's secret, and dave in the same pool
    let r = rotatable(12, false, true).await;
    let dave = unique("dave");
    let dave_password = strong_password();
    r.aws.confirmed_user(&r.pool, &dave, &dave_password).await;
    let (proxy, function) = function_behind_proxy().await;
    let token = r.aws.start_rotation(&r.secret, true).await;
    // WHEN someone who may write carol's secret stages a version naming dave
    let takeover = strong_password();
    r.aws
        .secrets
        .put_secret_value()
        .secret_id(&r.secret)
        .client_request_token(&token)
        .secret_string(json!({"UserPoolId": r.pool.id, "Username": dave, "password": takeover}).to_string())
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    let message = invoke(&function, rotation_event("setSecret", &r.secret, &token))
        .await
        .unwrap_err()
        .to_string();
    // THEN it is refused, naming both users, and nothing is set
    assert!(
        message.contains(&format!("not to user `{dave}` in user pool `{}`", r.pool.id)),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "is bound to user `{}` in user pool `{}`",
            r.user, r.pool.id
        )),
        "{message}"
    );
    assert!(!message.contains(&takeover));
    assert_eq!(proxy.calls("AdminSetUserPassword"), 0);
    assert_eq!(
        r.aws.login(&r.pool, &dave, &dave_password).await,
        Login::Authenticated
    );
}

#[tokio::test]
async fn a_set_whose_label_did_not_move_is_recognised_on_a_pool_with_password_history() {
    use crate::support::proxy::Fault;
    // GIVEN setSecret set the password, then failed to move the label
    let r = rotatable(12, false, true).await;
    let (proxy, function) = function_behind_proxy().await;
    let token = r.aws.start_rotation(&r.secret, true).await;
    result_of(&invoke(&function, rotation_event("createSecret", &r.secret, &token)).await);
    proxy.fail(
        "UpdateSecretVersionStage",
        Fault::aws("InvalidRequestException"),
        1,
    );
    let first = invoke(&function, rotation_event("setSecret", &r.secret, &token)).await;
    assert!(first.is_err(), "{first:?}");
    // WHEN Secrets Manager retries, and the pool refuses the same password twice
    proxy.fail(
        "AdminSetUserPassword",
        Fault::aws("PasswordHistoryPolicyViolationException"),
        1,
    );
    let again = invoke(&function, rotation_event("setSecret", &r.secret, &token)).await;
    // THEN a sign-in shows Cognito holds it: the label moves and the step succeeds
    assert!(
        result_of(&again).starts_with("Cognito already holds this password"),
        "{again:?}"
    );
    assert_eq!(proxy.calls("AdminInitiateAuth"), 1);
    // AND that sign-in left no session behind
    assert_eq!(proxy.calls("RevokeToken"), 1);
    assert_eq!(
        r.aws.version_with(&r.secret, "COGNITO_CURRENT").await.as_deref(),
        Some(token.as_str())
    );
    for step in ["testSecret", "finishSecret"] {
        result_of(&invoke(&function, rotation_event(step, &r.secret, &token)).await);
    }
}

/// A rotation run to its end through the function as a process, the secret naming the app client
/// `client_id`; `fault` is what RevokeToken meets at the proxy, if anything.
async fn rotated_through(
    r: &Rotatable,
    client_id: &str,
    fault: Option<crate::support::proxy::Fault>,
) -> (
    crate::support::proxy::FaultProxy,
    crate::support::runtime::FunctionProcess,
    String,
) {
    let value = json!({"UserPoolId": r.pool.id, "Username": r.user, "ClientId": client_id,
        "password": r.old_password});
    r.aws
        .secrets
        .put_secret_value()
        .secret_id(&r.secret)
        .secret_string(value.to_string())
        .send()
        .await
        .unwrap();
    let (proxy, runtime, process) = crate::support::runtime::json_function_behind_proxy(&[]);
    if let Some(fault) = fault {
        proxy.always("RevokeToken", fault);
    }
    let token = r.aws.start_rotation(&r.secret, true).await;
    let mut tested = String::new();
    for step in STEPS {
        let outcome = runtime
            .invoke_async(rotation_event(step, &r.secret, &token))
            .await;
        let result = outcome.response()["Result"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(!result.is_empty(), "{step}: {outcome:?}");
        if step == "testSecret" {
            tested = result;
        }
    }
    (proxy, process, tested)
}

#[tokio::test]
async fn a_refresh_token_that_cannot_be_revoked_is_reported_and_never_fails_test_secret() {
    // GIVEN an app client with token revocation turned off
    let r = rotatable(12, false, false).await;
    let client_id = r.aws.app_client(&r.pool.id, "no-revocation", false, false).await;

    // WHEN a rotation runs whose secret names it
    let (proxy, process, tested) = rotated_through(&r, &client_id, None).await;

    // THEN testSecret passed: the password was proven
    assert!(tested.starts_with("signed in as"), "{tested}");
    // AND the revoke was tried once, and a WARN names the client and what to turn on
    assert_eq!(proxy.calls("RevokeToken"), 1);
    let warnings: Vec<_> = process
        .output()
        .lines()
        .filter(|line| line.contains(r#""level":"WARN""#) && line.contains("was not revoked"))
        .map(str::to_owned)
        .collect();
    assert_eq!(warnings.len(), 1, "{}", process.output());
    assert!(warnings[0].contains(&client_id), "{}", warnings[0]);
    assert!(
        warnings[0].contains("UnsupportedOperationException"),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].contains("EnableTokenRevocation"), "{}", warnings[0]);
    // AND the user holds the new password
    let current = r.aws.secret_json(&r.secret, "AWSCURRENT").await;
    assert_eq!(
        r.aws
            .login(&r.pool, &r.user, current["password"].as_str().unwrap())
            .await,
        Login::Authenticated
    );
}

#[tokio::test]
async fn a_revoke_that_never_answers_is_given_up_and_reported() {
    use crate::support::proxy::Fault;
    // GIVEN RevokeToken never answers
    let r = rotatable(12, false, false).await;
    let client_id = r.pool.client_id.clone();
    let (proxy, process, tested) = rotated_through(&r, &client_id, Some(Fault::Hang)).await;
    // THEN testSecret still passed, after one try, and the WARN says it had no answer
    assert!(tested.starts_with("signed in as"), "{tested}");
    assert_eq!(proxy.calls("RevokeToken"), 1);
    assert!(
        process
            .output()
            .lines()
            .any(|line| line.contains(r#""level":"WARN""#) && line.contains("no answer within 2 s")),
        "{}",
        process.output()
    );
}
