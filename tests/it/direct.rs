//! EventBridge events and direct invocations, in process, against moto: a return value on
//! success, an invocation error (so retries and dead-letter queues apply) on failure.

use serde_json::json;

use crate::support::aws::{Aws, Login, eventbridge_event, strong_password, unique};
use crate::support::{function, invoke};

#[tokio::test]
async fn eventbridge_detail_sets_the_password() {
    let aws = Aws::moto().await;
    let (pool, user, secret, password) = aws.seeded("dave").await;

    let event =
        eventbridge_event(json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret}));
    let returned = invoke(&function().await, event).await.unwrap();

    assert_eq!(
        returned,
        json!({"UserPoolId": pool.id, "Username": user, "Permanent": true})
    );
    assert_eq!(aws.status(&pool, &user).await, "CONFIRMED");
    assert_eq!(aws.login(&pool, &user, &password).await, Login::Authenticated);
}

#[tokio::test]
async fn direct_invocation_sets_a_temporary_password() {
    let aws = Aws::moto().await;
    let (pool, user, secret, password) = aws.seeded_json("erin").await;

    let event =
        json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret, "Permanent": false});
    let returned = invoke(&function().await, event).await.unwrap();

    assert_eq!(
        returned,
        json!({"UserPoolId": pool.id, "Username": user, "Permanent": false})
    );
    assert_eq!(aws.status(&pool, &user).await, "FORCE_CHANGE_PASSWORD");
    assert_eq!(
        aws.login(&pool, &user, &password).await,
        Login::NewPasswordRequired
    );
}

#[tokio::test]
async fn failures_are_invocation_errors_that_say_what_to_fix() {
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let secret = unique("direct/nobody");
    aws.secret(&secret, &strong_password()).await;
    aws.bind(&secret, &pool.id, "nobody").await;

    let err = invoke(
        &function().await,
        json!({"UserPoolId": pool.id, "Username": "nobody", "PasswordSecretId": secret, "WaitForUserSeconds": 0}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "user `nobody` does not exist in user pool `{}`: check `Username`; if the user is created in the \
             same stack, add `DependsOn` on it to the custom resource",
            pool.id
        )
    );
    assert!(!err.is_retryable());

    let err = invoke(&function().await, eventbridge_event(json!({"Username": "x"})))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("property `UserPoolId` is required but missing"),
        "{err}"
    );
}

#[tokio::test]
async fn events_of_no_known_shape_are_refused_clearly() {
    let function = function().await;
    for (event, expected) in [
        (json!("just a string"), "expected a JSON object, got a string"),
        (json!([1, 2, 3]), "expected a JSON object, got an array"),
        (json!({}), "the event is an empty object"),
    ] {
        let err = invoke(&function, event).await.unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
        assert!(
            err.to_string()
                .contains("Send a CloudFormation custom resource request"),
            "{err}"
        );
    }
}
