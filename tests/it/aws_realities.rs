//! Behaviours of real AWS that moto does not show, reproduced here: a pool with password history
//! (through the fault proxy), a ResponseURL that refuses or has expired while Lambda retries an
//! async event (through the Runtime API: an invocation error would be retried), IAM that is
//! still propagating a new role, and an outbound HTTP proxy named by the environment.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use lambda_runtime::LambdaEvent;
use serde_json::json;

use crate::support::aws::{Aws, Login, cfn_request, strong_password, unique};
use crate::support::http::{Reply, ResponseUrl};
use crate::support::moto;
use crate::support::proxy::Fault;
use crate::support::runtime::{json_function, json_function_behind_proxy};
use crate::support::{context, function_behind_proxy};

#[tokio::test]
async fn a_reused_password_names_the_history_setting_and_a_rollback_says_how_to_recover() {
    let aws = Aws::moto().await;
    let (pool, user, secret, _) = aws.seeded("lee").await;
    let (proxy, function) = function_behind_proxy().await;
    let code = "PasswordHistoryPolicyViolationException";
    proxy.always("AdminSetUserPassword", Fault::AwsError { status: 400, code });

    // WHEN a rollback sends an Update whose (previous) password the pool remembers
    let cfn = ResponseUrl::start();
    let mut update = cfn_request(
        "Update",
        &cfn.url,
        json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret}),
    );
    update["PhysicalResourceId"] = json!(format!("{}/{user}", pool.id));
    update["OldResourceProperties"] =
        json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": "other"});
    function
        .handle(LambdaEvent::new(update, context(Duration::from_secs(30))))
        .await
        .unwrap();
    // THEN FAILED, naming the pool's history setting and the exact way out of UPDATE_ROLLBACK_FAILED
    let reason = cfn.reason();
    assert!(
        reason.contains(&format!(
            "user pool `{}` refused the password from Secrets Manager secret `{secret}` because it was used before",
            pool.id
        )),
        "{reason}"
    );
    assert!(reason.contains("`PasswordHistorySize`"), "{reason}");
    assert!(
        reason.contains(
            "aws cloudformation continue-update-rollback --stack-name users --resources-to-skip AlicePassword"
        ),
        "{reason}"
    );
    // AND a direct call names the setting too, without the rollback advice
    let direct = function
        .handle(LambdaEvent::new(
            json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret}),
            context(Duration::from_secs(30)),
        ))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        direct.contains("it was used before") && !direct.contains("continue-update-rollback"),
        "{direct}"
    );
}

#[tokio::test]
async fn a_pool_and_secrets_in_another_region_are_used_there() {
    // GIVEN a pool, a user, a secret and a parameter in eu-west-1; the function runs in us-east-1
    let eu = Aws::in_region("eu-west-1").await;
    let (pool, user, _, _) = eu.seeded("lee").await;
    assert!(pool.id.starts_with("eu-west-1_"), "{}", pool.id);
    let password = strong_password();
    let secret_arn = eu.secret(&unique("realities/eu"), &password).await;
    eu.bind(&secret_arn, &pool.id, &user).await;
    assert!(secret_arn.contains(":eu-west-1:"), "{secret_arn}");
    let parameter = format!("/{}", unique("realities/eu"));
    let parameter_password = strong_password();
    eu.secure_parameter(&parameter, &parameter_password).await;
    eu.bind_parameter(&parameter, &pool.id, &user).await;
    let parameter_arn = format!("arn:aws:ssm:eu-west-1:123456789012:parameter{parameter}");
    let function = crate::support::function().await;

    // WHEN the function is asked to set it from the secret's ARN
    let set = function
        .handle(LambdaEvent::new(
            json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret_arn}),
            context(Duration::from_secs(30)),
        ))
        .await;
    // THEN it reads and sets in eu-west-1, and the user signs in there
    assert!(set.is_ok(), "{set:?}");
    assert_eq!(eu.login(&pool, &user, &password).await, Login::Authenticated);
    // AND a parameter's ARN is read in its region too
    function
        .handle(LambdaEvent::new(
            json!({"UserPoolId": pool.id, "Username": user, "PasswordParameterName": parameter_arn}),
            context(Duration::from_secs(30)),
        ))
        .await
        .unwrap();
    assert_eq!(
        eu.login(&pool, &user, &parameter_password).await,
        Login::Authenticated
    );
}

#[tokio::test]
async fn a_replica_region_of_a_multi_region_pool_is_named() {
    let aws = Aws::moto().await;
    let (pool, user, secret, _) = aws.seeded("lee").await;
    let (proxy, function) = function_behind_proxy().await;
    proxy.always("AdminSetUserPassword", Fault::aws("OperationNotEnabledException"));
    let message = function
        .handle(LambdaEvent::new(
            json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret}),
            context(Duration::from_secs(30)),
        ))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with(&format!(
            "user pool `{}` cannot be changed in region us-east-1: it is a replica there",
            pool.id
        )),
        "{message}"
    );
}

#[tokio::test]
async fn access_denied_while_iam_propagates_is_retried_on_create() {
    let aws = Aws::moto().await;
    let (pool, user, secret, password) = aws.seeded("lee").await;
    let (proxy, function) = function_behind_proxy().await;
    proxy.fail("GetSecretValue", Fault::aws("AccessDeniedException"), 2);
    let cfn = ResponseUrl::start();
    let create = cfn_request(
        "Create",
        &cfn.url,
        json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret}),
    );
    function
        .handle(LambdaEvent::new(create, context(Duration::from_secs(30))))
        .await
        .unwrap();
    assert_eq!(
        cfn.requests()[0].json()["Status"],
        "SUCCESS",
        "{}",
        cfn.requests()[0].body
    );
    assert_eq!(proxy.calls("GetSecretValue"), 3, "denied twice, then allowed");
    assert_eq!(aws.login(&pool, &user, &password).await, Login::Authenticated);

    // A direct call is not a stack creating its own role: denied is final at once
    proxy.fail("GetSecretValue", Fault::aws("AccessDeniedException"), 1);
    let before = proxy.calls("GetSecretValue");
    let denied = function
        .handle(LambdaEvent::new(
            json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret}),
            context(Duration::from_secs(30)),
        ))
        .await
        .unwrap_err();
    assert!(denied.to_string().starts_with("access denied"), "{denied}");
    assert_eq!(proxy.calls("GetSecretValue"), before + 1);
}

/// `X-Amz-Date` as S3 pre-signs it, `ago` before now.
fn amz_date(ago: Duration) -> String {
    let when = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() - ago;
    DateTime::from_secs(when.as_secs() as i64)
        .fmt(Format::DateTime)
        .unwrap()
        .replace(['-', ':'], "")
}

#[tokio::test]
async fn a_response_that_can_never_be_delivered_is_not_retried_by_lambda() {
    let aws = Aws::moto().await;
    let (pool, user, secret, _) = aws.seeded("lee").await;
    let (proxy, runtime, _process) = json_function_behind_proxy(&[]);
    let props = json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret});

    // WHEN the ResponseURL answers 403 (expired or refused)
    let refusing = ResponseUrl::scripted(vec![Reply::Status(403)]);
    let outcome = runtime
        .invoke_async(cfn_request("Create", &refusing.url, props.clone()))
        .await;
    // THEN the invocation ends normally (an error would make Lambda run it again), after one PUT
    assert_eq!(outcome.response()["Result"], "undeliverable", "{outcome:?}");
    assert_eq!(refusing.requests().len(), 1);

    // WHEN Lambda delivers a request whose pre-signed URL expired an hour ago
    let stale = ResponseUrl::start();
    let base = stale.url.split('?').next().unwrap().to_owned();
    let expired = format!(
        "{base}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={}&X-Amz-Expires=7200&X-Amz-Signature=x",
        amz_date(Duration::from_secs(3 * 3600))
    );
    let calls_before = (proxy.calls("GetSecretValue"), proxy.calls("AdminSetUserPassword"));
    let outcome = runtime
        .invoke_async(cfn_request("Create", &expired, props.clone()))
        .await;
    // THEN nothing is set, nothing is sent, and the invocation ends normally
    assert!(
        outcome.response()["Result"]
            .as_str()
            .unwrap()
            .starts_with("ignored: the ResponseURL expired"),
        "{outcome:?}"
    );
    assert_eq!(
        (proxy.calls("GetSecretValue"), proxy.calls("AdminSetUserPassword")),
        calls_before
    );
    assert!(stale.requests().is_empty());

    // AND one that is still valid is acted on as usual
    let fresh = ResponseUrl::start();
    let valid = format!(
        "{}?X-Amz-Date={}&X-Amz-Expires=7200&X-Amz-Signature=x",
        fresh.url.split('?').next().unwrap(),
        amz_date(Duration::from_secs(60))
    );
    let outcome = runtime.invoke_async(cfn_request("Create", &valid, props)).await;
    assert_eq!(outcome.response()["Status"], "SUCCESS", "{outcome:?}");
}

#[tokio::test]
async fn the_response_goes_through_the_proxy_the_environment_names_as_the_sdk_calls_do() {
    // GIVEN a function whose only way out is an HTTP proxy (a VPC without a NAT gateway), with
    // AWS's endpoint exempted by NO_PROXY as a VPC endpoint would be
    let aws = Aws::moto().await;
    let (pool, user, secret, password) = aws.seeded("lee").await;
    let outbound_proxy = ResponseUrl::start();
    let proxy_address = outbound_proxy
        .url
        .split('/')
        .take(3)
        .collect::<Vec<_>>()
        .join("/");
    let (runtime, _process) = json_function(
        moto::endpoint(),
        &[
            ("HTTP_PROXY", proxy_address.as_str()),
            ("NO_PROXY", "127.0.0.1,localhost"),
            ("RESPONSE_URL_HOSTS", "127.0.0.1,cfn-response.invalid"),
        ],
    );

    // WHEN CloudFormation's ResponseURL is a host only the proxy can reach
    let response_url = "http://cfn-response.invalid/arn%3Aaws%3Acloudformation/req-1?X-Amz-Signature=abc";
    let props = json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret});
    let outcome = runtime
        .invoke_async(cfn_request("Create", response_url, props))
        .await;

    // THEN the password is set and the response reached the proxy, addressed to the ResponseURL
    assert_eq!(outcome.response()["Status"], "SUCCESS", "{outcome:?}");
    assert_eq!(aws.login(&pool, &user, &password).await, Login::Authenticated);
    let through_proxy = outbound_proxy.requests();
    assert_eq!(through_proxy.len(), 1, "{through_proxy:?}");
    assert_eq!(through_proxy[0].method, "PUT");
    assert_eq!(through_proxy[0].path, response_url);
    assert_eq!(through_proxy[0].json()["Status"], "SUCCESS");
}
