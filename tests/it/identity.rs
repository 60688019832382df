//! Which user a name means. A federated user's profile (EXTERNAL_PROVIDER) is never given a
//! password unless the deployment allows it, whichever way in asks; and names are compared as
//! users (a username, its email, its `sub`), never as strings: an alias is served from its user's
//! secret, an alias of another user is refused, and a list that names one user twice sets nobody.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::aws::{
    Aws, Login, Pool, cfn_request, label_updated_event, rotation_event, strong_password, unique,
};
use crate::support::http::ResponseUrl;
use crate::support::runtime::{Outcome, json_function};
use crate::support::{function, function_at, invoke, moto, rotating};
use cognito_set_password::Settings;

/// Sends `request` to the function in process; returns what CloudFormation received.
async fn cloudformation(
    function: &cognito_set_password::Function,
    request_type: &str,
    properties: Value,
) -> Value {
    let cfn = ResponseUrl::start();
    invoke(function, cfn_request(request_type, &cfn.url, properties))
        .await
        .unwrap();
    cfn.wait_for(1, Duration::from_secs(5))[0].json()
}

/// A secret holding a new password, bound to `bound_to` in `pool`: (its name, the password).
async fn secret_bound_to(aws: &Aws, pool: &Pool, bound_to: &str) -> (String, String) {
    let (secret, password) = (unique("cognito-set-password/identity"), strong_password());
    aws.secret(&secret, &password).await;
    aws.bind(&secret, &pool.id, bound_to).await;
    (secret, password)
}

fn reason(response: &Value) -> &str {
    response["Reason"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_federated_users_profile_is_refused_and_stays_federated() {
    // GIVEN a user who signs in through Google, and a secret bound to that profile
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let google = aws.federated_user(&pool, "Google").await;
    let (secret, password) = secret_bound_to(&aws, &pool, &google).await;

    // WHEN a stack asks for a password for it
    let response = cloudformation(
        &function().await,
        "Create",
        json!({"UserPoolId": pool.id, "Username": google, "PasswordSecretId": secret}),
    )
    .await;

    // THEN it is refused with AWS's guidance, and the profile is still federated: no password
    assert_eq!(response["Status"], "FAILED", "{response}");
    for expected in [
        google.as_str(),
        "federated user's profile",
        "EXTERNAL_PROVIDER",
        "don't set passwords on federated user profiles",
        "AllowFederatedUsers",
    ] {
        assert!(reason(&response).contains(expected), "{expected}: {response}");
    }
    assert_eq!(aws.status(&pool, &google).await, "EXTERNAL_PROVIDER");
    assert!(matches!(
        aws.login(&pool, &google, &password).await,
        Login::Refused(_)
    ));
}

#[tokio::test]
async fn a_federated_users_profile_is_given_a_password_when_the_deployment_allows_it() {
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let okta = aws.federated_user(&pool, "MyOkta").await;
    let (secret, password) = secret_bound_to(&aws, &pool, &okta).await;
    let allowing = function_at(
        moto::endpoint(),
        Settings {
            allow_federated_users: true,
            ..rotating()
        },
    )
    .await;

    let response = cloudformation(
        &allowing,
        "Create",
        json!({"UserPoolId": pool.id, "Username": okta, "PasswordSecretId": secret}),
    )
    .await;

    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(aws.status(&pool, &okta).await, "CONFIRMED");
    assert_eq!(aws.login(&pool, &okta, &password).await, Login::Authenticated);
}

#[tokio::test]
async fn rotation_and_sync_refuse_a_federated_users_profile_too() {
    // GIVEN a user secret that names a federated profile (and is bound to it)
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let google = aws.federated_user(&pool, "Google").await;
    let secret = unique("cognito-set-password/federated");
    let value = json!({"UserPoolId": pool.id, "Username": google, "password": strong_password()});
    let arn = aws.secret(&secret, &value.to_string()).await;
    aws.bind(&secret, &pool.id, &google).await;
    let function = function().await;

    // WHEN rotation starts, THEN its first step refuses the user
    let token = aws.start_rotation(&secret, true).await;
    let refused = invoke(&function, rotation_event("createSecret", &secret, &token))
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("federated user's profile"), "{refused}");

    // WHEN a new version becomes current, THEN the sync refuses it
    let version = aws
        .secret_version(
            &secret,
            &json!({"UserPoolId": pool.id, "Username": google, "password": strong_password()}).to_string(),
        )
        .await;
    let refused = invoke(
        &function,
        label_updated_event(&arn, &secret, "AWSCURRENT", &version),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(refused.contains("federated user's profile"), "{refused}");
    assert_eq!(aws.status(&pool, &google).await, "EXTERNAL_PROVIDER");
}

/// A pool that signs in by email, with a user made by its address: (pool, email, the `sub`,
/// which the pool stores as the username).
async fn pool_with_email_user(aws: &Aws) -> (Pool, String, String) {
    let pool = aws.pool_signing_in_by_email().await;
    let email = format!("{}@example.com", unique("alice"));
    aws.user(&pool, &email).await;
    let sub = aws.sub(&pool, &email).await;
    (pool, email, sub)
}

#[tokio::test]
async fn a_request_by_email_is_served_from_a_secret_bound_to_the_username_and_keeps_its_resource() {
    // GIVEN a pool that signs in by email, and a secret bound to the username it stores (the sub)
    let aws = Aws::moto().await;
    let (pool, email, sub) = pool_with_email_user(&aws).await;
    let (secret, password) = secret_bound_to(&aws, &pool, &sub).await;
    let function = function().await;

    // WHEN a stack names the user by email
    let by_email = json!({"UserPoolId": pool.id, "Username": email, "PasswordSecretId": secret});
    let response = cloudformation(&function, "Create", by_email.clone()).await;

    // THEN it is set; the resource is the user as the pool names it
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(response["PhysicalResourceId"], format!("{}/{sub}", pool.id));
    assert_eq!(aws.login(&pool, &email, &password).await, Login::Authenticated);

    // WHEN an Update only switches to the sub, THEN it is the same resource (no replacement)
    let cfn = ResponseUrl::start();
    let mut update = cfn_request(
        "Update",
        &cfn.url,
        json!({"UserPoolId": pool.id, "Username": sub, "PasswordSecretId": secret}),
    );
    update["PhysicalResourceId"] = response["PhysicalResourceId"].clone();
    update["OldResourceProperties"] = by_email;
    invoke(&function, update).await.unwrap();
    let updated = cfn.wait_for(1, Duration::from_secs(5))[0].json();
    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    assert_eq!(updated["PhysicalResourceId"], response["PhysicalResourceId"]);
}

#[tokio::test]
async fn a_secret_bound_by_email_serves_a_request_by_sub_and_the_reverse() {
    let aws = Aws::moto().await;
    let function = function().await;
    for bind_by_email in [true, false] {
        let (pool, email, sub) = pool_with_email_user(&aws).await;
        let (bound_to, requested) = if bind_by_email {
            (&email, &sub)
        } else {
            (&sub, &email)
        };
        let (secret, password) = secret_bound_to(&aws, &pool, bound_to).await;

        let response = cloudformation(
            &function,
            "Create",
            json!({"UserPoolId": pool.id, "Username": requested, "PasswordSecretId": secret}),
        )
        .await;

        assert_eq!(
            response["Status"], "SUCCESS",
            "bound to {bound_to}, asked for {requested}: {response}"
        );
        assert_eq!(aws.login(&pool, &email, &password).await, Login::Authenticated);
    }
}

#[tokio::test]
async fn an_alias_of_another_user_is_refused_however_it_is_spelled() {
    // GIVEN alice's secret (bound by her email) and bob, who signs in with a password he chose
    let aws = Aws::moto().await;
    let (pool, alice, _) = pool_with_email_user(&aws).await;
    let bob = format!("{}@example.com", unique("bob"));
    let bobs_password = strong_password();
    aws.confirmed_user(&pool, &bob, &bobs_password).await;
    let bobs_sub = aws.sub(&pool, &bob).await;
    let (secret, alices_password) = secret_bound_to(&aws, &pool, &alice).await;
    let function = function().await;

    // WHEN an invoker names bob, by email and by sub, with alice's secret
    for name in [&bob, &bobs_sub] {
        let response = cloudformation(
            &function,
            "Create",
            json!({"UserPoolId": pool.id, "Username": name, "PasswordSecretId": secret}),
        )
        .await;

        // THEN it is refused, naming both users, and bob's password did not change
        assert_eq!(response["Status"], "FAILED", "{response}");
        assert!(reason(&response).contains("is bound to user"), "{response}");
        assert!(
            reason(&response).contains(&alice) && reason(&response).contains(name.as_str()),
            "{response}"
        );
        assert_eq!(aws.login(&pool, &bob, &bobs_password).await, Login::Authenticated);
        assert!(matches!(
            aws.login(&pool, &bob, &alices_password).await,
            Login::Refused(_)
        ));
    }
}

#[tokio::test]
async fn a_users_list_that_names_one_user_twice_is_refused_as_a_whole() {
    // GIVEN alice (by email and by sub, each with a secret bound to her) and carol
    let aws = Aws::moto().await;
    let (pool, alice, alices_sub) = pool_with_email_user(&aws).await;
    let carol = format!("{}@example.com", unique("carol"));
    aws.user(&pool, &carol).await;
    let (by_email, _) = secret_bound_to(&aws, &pool, &alice).await;
    let (by_sub, _) = secret_bound_to(&aws, &pool, &alices_sub).await;
    let (carols, _) = secret_bound_to(&aws, &pool, &carol).await;

    // WHEN one list names carol, then alice by email, then alice by sub
    let response = cloudformation(
        &function().await,
        "Create",
        json!({"UserPoolId": pool.id, "Users": [
            {"Username": carol, "PasswordSecretId": carols},
            {"Username": alice, "PasswordSecretId": by_email},
            {"Username": alices_sub, "PasswordSecretId": by_sub},
        ]}),
    )
    .await;

    // THEN the list is refused, naming both entries, and nobody's password was set
    assert_eq!(response["Status"], "FAILED", "{response}");
    let why = reason(&response);
    assert!(why.contains(&format!("Users[1] (`{alice}`)")), "{why}");
    assert!(why.contains(&format!("Users[2] (`{alices_sub}`)")), "{why}");
    assert!(why.contains("name the same user"), "{why}");
    for user in [&alice, &carol] {
        assert_eq!(aws.status(&pool, user).await, "FORCE_CHANGE_PASSWORD", "{user}");
    }
}

#[tokio::test]
async fn an_unreadable_allow_federated_users_is_logged_and_refuses() {
    // GIVEN a deployment whose ALLOW_FEDERATED_USERS is neither true nor false
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let google = aws.federated_user(&pool, "Google").await;
    let (secret, _) = secret_bound_to(&aws, &pool, &google).await;
    let (runtime, process) = json_function(moto::endpoint(), &[("ALLOW_FEDERATED_USERS", "yes")]);

    // WHEN it is asked for a federated user's password
    let outcome = runtime
        .invoke_async(json!({"UserPoolId": pool.id, "Username": google, "PasswordSecretId": secret}))
        .await;

    // THEN the value is reported at ERROR, the default (false) holds, and the profile is untouched
    let Outcome::Error(error) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("federated user's profile"),
        "{error}"
    );
    assert!(
        process
            .output()
            .lines()
            .any(|line| line.contains(r#""level":"ERROR""#)
                && line.contains("ALLOW_FEDERATED_USERS must be true or false; using the default")),
        "{}",
        process.output()
    );
    assert_eq!(aws.status(&pool, &google).await, "EXTERNAL_PROVIDER");
}
