//! CloudFormation custom resource requests, in process, against moto and a real ResponseURL:
//! what the user sees in Cognito, and exactly what CloudFormation receives.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::aws::{Aws, Login, Pool, cfn_request, strong_password, unique};
use crate::support::http::{Recorded, ResponseUrl};
use crate::support::{function, function_at, invoke};
use cognito_set_password::Settings;

const STACK_ID: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/users/5b1c2f40-0000-11ef-0000-0a1b2c3d4e5f";
const LOG_HINT: &str = "(log stream: /aws/lambda/cognito-set-password, 2026/11/26/[$LATEST]0123456789abcdef)";

/// The one response CloudFormation received, checked for the protocol's framing.
fn the_response(cfn: &ResponseUrl) -> Recorded {
    let requests = cfn.wait_for(1, Duration::from_secs(5));
    assert_eq!(requests.len(), 1, "exactly one response: {requests:?}");
    let response = requests.into_iter().next().unwrap();
    assert_eq!(response.method, "PUT");
    assert_eq!(response.path, "/cfn-response/stack/req?X-Amz-Signature=deadbeef");
    assert_eq!(
        response.header("content-type"),
        Some(""),
        "CloudFormation's pre-signed URL wants an empty Content-Type"
    );
    assert_eq!(
        response.header("content-length"),
        Some(response.body.len().to_string().as_str())
    );
    assert!(response.body.len() <= 4096);
    response
}

fn expected(status: &str, reason: &str, physical_id: &str, request: &Value, data: Value) -> Value {
    json!({
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": physical_id,
        "StackId": STACK_ID,
        "RequestId": request["RequestId"],
        "LogicalResourceId": "AlicePassword",
        "NoEcho": false,
        "Data": data,
    })
}

struct Given {
    aws: Aws,
    pool: Pool,
    user: String,
    password: String,
    cfn: ResponseUrl,
}

/// GIVEN a pool with a strict policy, a user as CloudFormation creates it, and a secret.
async fn given_user_and_secret(secret_value: impl FnOnce(&str) -> String) -> (Given, String) {
    let aws = Aws::moto().await;
    let (pool, user, secret_id, password) = aws.seeded_with("alice", secret_value).await;
    let given = Given {
        aws,
        pool,
        user,
        password,
        cfn: ResponseUrl::start(),
    };
    (given, secret_id)
}

fn props(given: &Given, extra: Value) -> Value {
    let mut properties = json!({"UserPoolId": given.pool.id, "Username": given.user});
    for (k, v) in extra.as_object().unwrap() {
        properties[k] = v.clone();
    }
    properties
}

fn success_data(given: &Given) -> Value {
    json!({"UserPoolId": given.pool.id, "Username": given.user})
}

#[tokio::test]
async fn create_sets_a_permanent_password_from_a_plain_secret() {
    let (given, secret_id) = given_user_and_secret(|p| p.to_owned()).await;
    assert_eq!(
        given.aws.status(&given.pool, &given.user).await,
        "FORCE_CHANGE_PASSWORD"
    );

    let request = cfn_request(
        "Create",
        &given.cfn.url,
        props(&given, json!({"PasswordSecretId": secret_id})),
    );
    let returned = invoke(&function().await, request.clone()).await.unwrap();

    assert_eq!(given.aws.status(&given.pool, &given.user).await, "CONFIRMED");
    assert_eq!(
        given.aws.login(&given.pool, &given.user, &given.password).await,
        Login::Authenticated
    );
    let physical_id = format!("{}/{}", given.pool.id, given.user);
    let reason = format!(
        "set the password of user {} in user pool {}",
        given.user, given.pool.id
    );
    let want = expected("SUCCESS", &reason, &physical_id, &request, success_data(&given));
    assert_eq!(the_response(&given.cfn).json(), want);
    assert_eq!(returned, want, "the invocation returns what CloudFormation got");
}

#[tokio::test]
async fn create_with_permanent_false_leaves_a_temporary_password() {
    let (given, secret_id) = given_user_and_secret(|p| p.to_owned()).await;
    let request = cfn_request(
        "Create",
        &given.cfn.url,
        props(
            &given,
            json!({"PasswordSecretId": secret_id, "Permanent": "false"}),
        ),
    );
    invoke(&function().await, request).await.unwrap();

    assert_eq!(
        given.aws.status(&given.pool, &given.user).await,
        "FORCE_CHANGE_PASSWORD"
    );
    assert_eq!(
        given.aws.login(&given.pool, &given.user, &given.password).await,
        Login::NewPasswordRequired
    );
    assert_eq!(the_response(&given.cfn).json()["Status"], "SUCCESS");
}

#[tokio::test]
async fn json_secret_yields_the_password_key_or_the_given_key() {
    // Default key `password`, found by ARN.
    let (given, secret_id) =
        given_user_and_secret(|p| json!({"username": "alice", "password": p}).to_string()).await;
    let arn = given
        .aws
        .secrets
        .describe_secret()
        .secret_id(&secret_id)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let request = cfn_request(
        "Create",
        &given.cfn.url,
        props(&given, json!({"PasswordSecretId": arn})),
    );
    invoke(&function().await, request).await.unwrap();
    assert_eq!(the_response(&given.cfn).json()["Status"], "SUCCESS");
    assert_eq!(
        given.aws.login(&given.pool, &given.user, &given.password).await,
        Login::Authenticated
    );

    // A key of the user's choosing.
    let (given, secret_id) =
        given_user_and_secret(|p| json!({"user": "Not-The-Pass-123!", "admin": p}).to_string()).await;
    let request = cfn_request(
        "Create",
        &given.cfn.url,
        props(
            &given,
            json!({"PasswordSecretId": secret_id, "PasswordSecretJsonKey": "admin"}),
        ),
    );
    invoke(&function().await, request).await.unwrap();
    assert_eq!(the_response(&given.cfn).json()["Status"], "SUCCESS");
    assert_eq!(
        given.aws.login(&given.pool, &given.user, &given.password).await,
        Login::Authenticated
    );
}

#[tokio::test]
async fn secret_version_stage_and_version_id_pick_the_version() {
    let (given, secret_id) = given_user_and_secret(|p| p.to_owned()).await;
    let first = given.password.clone();
    let second = strong_password();
    let second_version = given.aws.secret_version(&secret_id, &second).await;
    let third = strong_password();
    given.aws.secret_version(&secret_id, &third).await;

    // AWSPREVIOUS is the second value now.
    let request = cfn_request(
        "Create",
        &given.cfn.url,
        props(
            &given,
            json!({"PasswordSecretId": secret_id, "PasswordSecretVersionStage": "AWSPREVIOUS"}),
        ),
    );
    invoke(&function().await, request).await.unwrap();
    assert_eq!(the_response(&given.cfn).json()["Status"], "SUCCESS");
    assert_eq!(
        given.aws.login(&given.pool, &given.user, &second).await,
        Login::Authenticated
    );
    assert!(matches!(
        given.aws.login(&given.pool, &given.user, &third).await,
        Login::Refused(_)
    ));

    let cfn = ResponseUrl::start();
    let request = cfn_request(
        "Update",
        &cfn.url,
        props(
            &given,
            json!({"PasswordSecretId": secret_id, "PasswordSecretVersionId": second_version}),
        ),
    );
    let mut request = request;
    request["PhysicalResourceId"] = json!(format!("{}/{}", given.pool.id, given.user));
    request["OldResourceProperties"] = json!({});
    invoke(&function().await, request).await.unwrap();
    assert_eq!(the_response(&cfn).json()["Status"], "SUCCESS");
    assert_eq!(
        given.aws.login(&given.pool, &given.user, &second).await,
        Login::Authenticated
    );
    assert!(matches!(
        given.aws.login(&given.pool, &given.user, &first).await,
        Login::Refused(_)
    ));
}

#[tokio::test]
async fn create_from_an_ssm_securestring_parameter() {
    let aws = Aws::moto().await;
    let (pool, user) = aws.pool_with_user("bob").await;
    let password = strong_password();
    let name = format!("/{}/password", unique("app"));
    aws.secure_parameter(&name, &password).await;
    aws.bind_parameter(&name, &pool.id, &user).await;
    let cfn = ResponseUrl::start();

    let request = cfn_request(
        "Create",
        &cfn.url,
        json!({"UserPoolId": pool.id, "Username": user, "PasswordParameterName": name, "Permanent": true}),
    );
    invoke(&function().await, request).await.unwrap();

    assert_eq!(
        cfn.wait_for(1, Duration::from_secs(5))[0].json()["Status"],
        "SUCCESS"
    );
    assert_eq!(aws.status(&pool, &user).await, "CONFIRMED");
    assert_eq!(aws.login(&pool, &user, &password).await, Login::Authenticated);
}

#[tokio::test]
async fn update_sets_the_password_again_and_keeps_or_replaces_the_physical_id() {
    let (given, secret_id) = given_user_and_secret(|p| p.to_owned()).await;
    let physical_id = format!("{}/{}", given.pool.id, given.user);
    // The password reference changes: same resource.
    let new_password = strong_password();
    let new_secret = unique("app/alice-rotated");
    given.aws.secret(&new_secret, &new_password).await;
    given.aws.bind(&new_secret, &given.pool.id, &given.user).await;
    let mut request = cfn_request(
        "Update",
        &given.cfn.url,
        props(&given, json!({"PasswordSecretId": new_secret})),
    );
    request["PhysicalResourceId"] = json!(physical_id);
    request["OldResourceProperties"] = props(&given, json!({"PasswordSecretId": secret_id}));
    invoke(&function().await, request.clone()).await.unwrap();

    let reason = format!(
        "set the password of user {} in user pool {}",
        given.user, given.pool.id
    );
    assert_eq!(
        the_response(&given.cfn).json(),
        expected("SUCCESS", &reason, &physical_id, &request, success_data(&given))
    );
    assert_eq!(
        given.aws.login(&given.pool, &given.user, &new_password).await,
        Login::Authenticated
    );

    // The user changes: a new resource (CloudFormation then deletes the old one).
    let other = unique("carol");
    given.aws.user(&given.pool, &other).await;
    given.aws.bind(&new_secret, &given.pool.id, &other).await;
    let cfn = ResponseUrl::start();
    let mut request = cfn_request(
        "Update",
        &cfn.url,
        json!({"UserPoolId": given.pool.id, "Username": other, "PasswordSecretId": new_secret}),
    );
    request["PhysicalResourceId"] = json!(physical_id);
    request["OldResourceProperties"] = props(&given, json!({"PasswordSecretId": new_secret}));
    invoke(&function().await, request).await.unwrap();
    assert_eq!(
        the_response(&cfn).json()["PhysicalResourceId"],
        format!("{}/{}", given.pool.id, other)
    );
    assert_eq!(
        given.aws.login(&given.pool, &other, &new_password).await,
        Login::Authenticated
    );
}

#[tokio::test]
async fn delete_succeeds_and_changes_nothing() {
    let (given, secret_id) = given_user_and_secret(|p| p.to_owned()).await;
    let create = cfn_request(
        "Create",
        &given.cfn.url,
        props(&given, json!({"PasswordSecretId": secret_id})),
    );
    invoke(&function().await, create).await.unwrap();
    the_response(&given.cfn);

    let cfn = ResponseUrl::start();
    let physical_id = format!("{}/{}", given.pool.id, given.user);
    let mut delete = cfn_request(
        "Delete",
        &cfn.url,
        props(&given, json!({"PasswordSecretId": secret_id})),
    );
    delete["PhysicalResourceId"] = json!(physical_id);
    invoke(&function().await, delete.clone()).await.unwrap();

    assert_eq!(
        the_response(&cfn).json(),
        expected(
            "SUCCESS",
            "nothing to delete: the user and password are left as they are",
            &physical_id,
            &delete,
            success_data(&given)
        )
    );
    assert_eq!(
        given.aws.login(&given.pool, &given.user, &given.password).await,
        Login::Authenticated
    );
}

#[tokio::test]
async fn delete_after_a_failed_create_with_invalid_properties_succeeds_without_aws() {
    // No AWS at all: an endpoint that refuses connections.
    let function = function_at("http://127.0.0.1:9", Settings::default()).await;
    let cfn = ResponseUrl::start();
    let mut delete = cfn_request(
        "Delete",
        &cfn.url,
        json!({"UserPoolId": "not a pool", "Password": "Plain-Text-1!"}),
    );
    delete["PhysicalResourceId"] = json!("failed-made-up-by-cloudformation");
    let started = Instant::now();
    invoke(&function, delete.clone()).await.unwrap();

    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        the_response(&cfn).json(),
        expected(
            "SUCCESS",
            "nothing to delete: the user and password are left as they are",
            "failed-made-up-by-cloudformation",
            &delete,
            json!({})
        )
    );
}

/// Runs a Create that must fail, and returns CloudFormation's response.
async fn failed_create(properties: Value) -> (Value, Value) {
    let cfn = ResponseUrl::start();
    let request = cfn_request("Create", &cfn.url, properties);
    invoke(&function().await, request.clone()).await.unwrap();
    let response = the_response(&cfn).json();
    assert_eq!(response["Status"], "FAILED", "{response}");
    assert!(
        response["Reason"].as_str().unwrap().ends_with(LOG_HINT),
        "{response}"
    );
    (request, response)
}

#[tokio::test]
async fn invalid_properties_fail_at_once_without_calling_aws() {
    let function = function_at("http://127.0.0.1:9", Settings::default()).await;
    for (properties, reason_start) in [
        (
            json!({"UserPoolId": "us-east-1_Abc", "Username": "alice", "Password": "Plain-Text-1!"}),
            "property `Password` is refused",
        ),
        (
            json!({"UserPoolId": "us-east-1_Abc", "Username": "alice", "PasswordSecretId": "s", "PasswordParameterName": "/p"}),
            "both `PasswordSecretId` and `PasswordParameterName` are given",
        ),
        (
            json!({"UserPoolId": "us-east-1_Abc", "Username": "alice"}),
            "no password reference",
        ),
        (
            json!({"Username": "alice", "PasswordSecretId": "s"}),
            "property `UserPoolId` is required but missing",
        ),
        (
            json!({"UserPoolId": "us-east-1_Abc", "Username": "alice", "PasswordSecretId": "s", "Permanent": "maybe"}),
            "property `Permanent` must be true or false",
        ),
    ] {
        let cfn = ResponseUrl::start();
        let request = cfn_request("Create", &cfn.url, properties);
        let started = Instant::now();
        invoke(&function, request.clone()).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(2), "answered at once");
        let response = the_response(&cfn).json();
        let reason = response["Reason"].as_str().unwrap();
        assert!(reason.starts_with(reason_start), "{reason}");
        assert!(reason.ends_with(LOG_HINT), "{reason}");
        assert!(!reason.contains("Plain-Text-1!"));
        assert_eq!(response["Status"], "FAILED");
        assert_eq!(response["RequestId"], request["RequestId"]);
        assert!(!response["PhysicalResourceId"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn user_not_found_names_the_user_the_pool_and_dependson() {
    let (given, secret_id) = given_user_and_secret(|p| p.to_owned()).await;
    given.aws.bind(&secret_id, &given.pool.id, "nobody").await;
    let (request, response) = failed_create(json!({
        "UserPoolId": given.pool.id, "Username": "nobody", "PasswordSecretId": secret_id,
        "WaitForUserSeconds": "0"
    }))
    .await;
    let reason = format!(
        "user `nobody` does not exist in user pool `{}`: check `Username`; if the user is created in the \
         same stack, add `DependsOn` on it to the custom resource {LOG_HINT}",
        given.pool.id
    );
    let physical_id = format!("{}/nobody", given.pool.id);
    let data = json!({"UserPoolId": given.pool.id, "Username": "nobody"});
    assert_eq!(
        response,
        expected("FAILED", &reason, &physical_id, &request, data)
    );
}

#[tokio::test]
async fn pool_not_found_names_the_pool() {
    let (given, secret_id) = given_user_and_secret(|p| p.to_owned()).await;
    given.aws.bind(&secret_id, "us-east-1_Missing1", "alice").await;
    let (_, response) = failed_create(json!({
        "UserPoolId": "us-east-1_Missing1", "Username": "alice", "PasswordSecretId": secret_id
    }))
    .await;
    assert!(
        response["Reason"]
            .as_str()
            .unwrap()
            .starts_with("user pool `us-east-1_Missing1` was not found: check `UserPoolId`"),
        "{response}"
    );
}

#[tokio::test]
async fn weak_password_names_the_policy_and_the_source_but_not_the_password() {
    let (given, secret_id) = given_user_and_secret(|_| "weakpass".to_owned()).await;
    let (_, response) = failed_create(props(&given, json!({"PasswordSecretId": secret_id}))).await;
    let reason = response["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "the password from Secrets Manager secret `{secret_id}` does not meet the password policy of user pool `{}`",
            given.pool.id
        )),
        "{reason}"
    );
    assert!(!reason.contains("weakpass"));
    assert_eq!(
        given.aws.status(&given.pool, &given.user).await,
        "FORCE_CHANGE_PASSWORD"
    );
}

#[tokio::test]
async fn missing_secret_and_parameter_are_named() {
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let (_, response) = failed_create(json!({
        "UserPoolId": pool.id, "Username": "alice", "PasswordSecretId": "no/such/secret"
    }))
    .await;
    assert!(
        response["Reason"].as_str().unwrap().starts_with(
            "Secrets Manager secret `no/such/secret` was not found (secretsmanager:GetSecretValue on `no/such/secret`)"
        ),
        "{response}"
    );

    let (_, response) = failed_create(json!({
        "UserPoolId": pool.id, "Username": "alice", "PasswordParameterName": "/no/such/parameter"
    }))
    .await;
    assert!(
        response["Reason"].as_str().unwrap().starts_with(
            "SSM parameter `/no/such/parameter` was not found (ssm:GetParameter on `/no/such/parameter`)"
        ),
        "{response}"
    );
}

#[tokio::test]
async fn missing_json_key_names_the_key_and_never_a_value_or_the_keys_present() {
    let (given, secret_id) =
        given_user_and_secret(|p| json!({"user": "Visible-User-1!", "pass": p}).to_string()).await;
    let (_, response) = failed_create(props(&given, json!({"PasswordSecretId": secret_id}))).await;
    let reason = response["Reason"].as_str().unwrap();
    // The keys present are facts about the value: the log names them (tests/it/contract.rs), the
    // Reason, which whoever can read the stack reads, does not.
    assert!(
        reason.starts_with(&format!(
            "secret `{secret_id}` is a JSON object without the key `password`; set `PasswordSecretJsonKey`"
        )),
        "{reason}"
    );
    assert!(
        !reason.contains("`pass`") && !reason.contains("`user`"),
        "{reason}"
    );
    assert!(!reason.contains(&given.password) && !reason.contains("Visible-User-1!"));
}

#[tokio::test]
async fn malformed_delete_still_succeeds() {
    let cfn = ResponseUrl::start();
    let request = json!({
        "RequestType": "Delete", "ResponseURL": cfn.url, "StackId": STACK_ID,
        "RequestId": "r-2", "LogicalResourceId": "AlicePassword", "PhysicalResourceId": "pool/user"
    });
    invoke(&function().await, request).await.unwrap();
    let response = the_response(&cfn).json();
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(response["PhysicalResourceId"], "pool/user");
}

#[tokio::test]
async fn malformed_cloudformation_request_still_gets_failed() {
    let cfn = ResponseUrl::start();
    let request = json!({
        "RequestType": "Create", "ResponseURL": cfn.url, "StackId": STACK_ID,
        "RequestId": "r-1", "LogicalResourceId": "AlicePassword"
    });
    invoke(&function().await, request).await.unwrap();
    let response = the_response(&cfn).json();
    assert_eq!(response["Status"], "FAILED");
    assert_eq!(response["RequestId"], "r-1");
    assert!(
        response["Reason"]
            .as_str()
            .unwrap()
            .contains("malformed CloudFormation request"),
        "{response}"
    );
}
