//! Terraform's `aws_lambda_invocation` with `lifecycle_scope = "CRUD"`: the payloads the provider
//! sends (the sample events in events/, with this run's names), through the release binary
//! under the Runtime API, against moto.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::support::aws::{Aws, Login, Pool, strong_password, unique};
use crate::support::moto;
use crate::support::runtime::json_function;

/// A sample event from events/ with this run's pool, user, secret and parameter.
fn sample(file: &str, pool: &Pool, user: &str, secret: &str, parameter: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(file);
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace("us-east-1_Example1", &pool.id)
        .replace("\"alice\"", &format!("\"{user}\""))
        .replace(
            "\"/cognito-set-password/alice-rotated\"",
            &format!("\"{parameter}\""),
        )
        .replace("\"cognito-set-password/alice\"", &format!("\"{secret}\""));
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn create_update_and_delete_as_the_provider_sends_them() {
    // GIVEN a user, a secret and a parameter, as the module sets them up
    let aws = Aws::moto().await;
    let (pool, user) = aws.pool_with_user("ivy").await;
    let (first, second) = (strong_password(), strong_password());
    let secret = unique("cognito-set-password/ivy");
    aws.secret(&secret, &json!({"password": first}).to_string()).await;
    let parameter = format!("/{}", unique("cognito-set-password/ivy"));
    aws.secure_parameter(&parameter, &second).await;
    aws.bind(&secret, &pool.id, &user).await;
    aws.bind_parameter(&parameter, &pool.id, &user).await;
    let (runtime, process) = json_function(moto::endpoint(), &[]);
    let event = |file: &str| sample(file, &pool, &user, &secret, &parameter);

    // WHEN create arrives (prev_input null), THEN the password is set, and the result is small
    let created = runtime.invoke_async(event("terraform-create.json")).await;
    assert_eq!(
        created.response(),
        &json!({"UserPoolId": pool.id, "Username": user, "Permanent": true})
    );
    assert_eq!(aws.login(&pool, &user, &first).await, Login::Authenticated);

    // WHEN update arrives (prev_input the old input), THEN the new reference is set
    let updated = runtime.invoke_async(event("terraform-update.json")).await;
    assert_eq!(updated.response()["Username"], user.as_str());
    assert_eq!(aws.login(&pool, &user, &second).await, Login::Authenticated);

    // WHEN delete arrives, THEN nothing is set, and the user keeps the password
    let deleted = runtime.invoke_async(event("terraform-delete.json")).await;
    assert_eq!(
        deleted.response(),
        &json!({"Result": "nothing to delete: the user and password are left as they are"})
    );
    assert_eq!(aws.login(&pool, &user, &second).await, Login::Authenticated);

    // WHEN delete arrives with properties that no longer validate, THEN it still succeeds
    let broken = runtime
        .invoke_async(json!({"UserPoolId": "not a pool", "tf": {"action": "delete", "prev_input": null}}))
        .await;
    assert_eq!(
        broken.response()["Result"],
        "nothing to delete: the user and password are left as they are"
    );

    // WHEN create carries bad properties or a malformed key, THEN the apply fails, saying why
    let bad = runtime
        .invoke_async(
            json!({"UserPoolId": pool.id, "Username": user, "tf": {"action": "create", "prev_input": null}}),
        )
        .await;
    assert!(
        bad.error()["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("no password reference")
    );
    let malformed = runtime
        .invoke_async(json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret, "tf": {"action": "destroy"}}))
        .await;
    assert!(malformed.error()["errorMessage"].as_str().unwrap().contains(
        "the Terraform key `tf` must be an object whose `action` is \"create\", \"update\" or \"delete\""
    ));

    // AND each outcome is logged by its action; no password anywhere
    let output = process.output();
    for kind in ["Terraform create", "Terraform update", "Terraform delete"] {
        assert!(
            output.contains(&format!("\"event_kind\":\"{kind}\"")),
            "{kind}: {output}"
        );
    }
    let answers = format!("{created:?}{updated:?}{deleted:?}");
    for password in [&first, &second] {
        assert!(!output.contains(password.as_str()) && !answers.contains(password.as_str()));
    }
}

#[tokio::test]
async fn a_renamed_key_is_recognised_and_the_default_then_is_not() {
    // GIVEN the function told that the module's `terraform_key` is `lifecycle`
    let aws = Aws::moto().await;
    let (pool, user, secret, password) = aws.seeded("jon").await;
    let (runtime, _process) = json_function(moto::endpoint(), &[("TERRAFORM_KEY", "lifecycle")]);
    // WHEN a delete arrives under that key with invalid properties, THEN it succeeds
    let deleted = runtime
        .invoke_async(json!({"Username": user, "lifecycle": {"action": "delete", "prev_input": null}}))
        .await;
    assert!(
        deleted.response()["Result"]
            .as_str()
            .unwrap()
            .starts_with("nothing to delete")
    );
    // WHEN the provider's default key arrives instead, THEN it is a plain direct call
    let plain = runtime
        .invoke_async(
            json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret,
            "tf": {"action": "delete", "prev_input": null}}),
        )
        .await;
    assert_eq!(
        plain.response()["Username"],
        user.as_str(),
        "set, not skipped: {plain:?}"
    );
    assert_eq!(aws.login(&pool, &user, &password).await, Login::Authenticated);
}
