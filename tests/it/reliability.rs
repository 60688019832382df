//! Fault injection: throttling, 5xx and hung endpoints between the function and moto, and a
//! ResponseURL that fails or never answers. Every CloudFormation request still gets its one
//! answer before the deadline, and says which call failed.

use std::time::{Duration, Instant};

use cognito_set_password::Settings;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};

use crate::support::aws::{Aws, Login, Pool, cfn_request, strong_password, unique};
use crate::support::http::{Reply, ResponseUrl};
use crate::support::proxy::{Fault, FaultProxy};
use crate::support::{context, function_at, moto};

const THROTTLED: Fault = Fault::aws("TooManyRequestsException");

struct Given {
    aws: Aws,
    pool: Pool,
    user: String,
    password: String,
    secret: String,
    proxy: FaultProxy,
}

async fn given() -> Given {
    let aws = Aws::moto().await;
    let (pool, user, secret, password) = aws.seeded("frank").await;
    Given {
        aws,
        pool,
        user,
        password,
        secret,
        proxy: FaultProxy::start(moto::endpoint()),
    }
}

impl Given {
    fn create(&self, cfn: &ResponseUrl) -> Value {
        cfn_request(
            "Create",
            &cfn.url,
            json!({"UserPoolId": self.pool.id, "Username": self.user, "PasswordSecretId": self.secret}),
        )
    }

    /// Invokes the function (through the proxy) with `budget` until the invocation's deadline.
    async fn invoke(&self, event: Value, budget: Duration) -> Result<Value, cognito_set_password::Error> {
        let function = function_at(&self.proxy.endpoint, Settings::default()).await;
        function.handle(LambdaEvent::new(event, context(budget))).await
    }
}

#[tokio::test]
async fn throttled_four_times_then_success() {
    let given = given().await;
    given.proxy.fail("AdminSetUserPassword", THROTTLED, 4);
    let cfn = ResponseUrl::start();

    given
        .invoke(given.create(&cfn), Duration::from_secs(30))
        .await
        .unwrap();

    assert_eq!(cfn.requests()[0].json()["Status"], "SUCCESS");
    assert_eq!(
        given.proxy.calls("AdminSetUserPassword"),
        5,
        "four throttled attempts, then the one that worked"
    );
    assert_eq!(
        given.aws.login(&given.pool, &given.user, &given.password).await,
        Login::Authenticated
    );
}

#[tokio::test]
async fn server_errors_are_retried() {
    let given = given().await;
    given
        .proxy
        .fail("GetSecretValue", Fault::Status(503), 2)
        .fail(
            "GetSecretValue",
            Fault::AwsError {
                status: 500,
                code: "InternalServiceError",
            },
            1,
        )
        .fail(
            "AdminSetUserPassword",
            Fault::AwsError {
                status: 500,
                code: "InternalErrorException",
            },
            2,
        );
    let cfn = ResponseUrl::start();

    given
        .invoke(given.create(&cfn), Duration::from_secs(30))
        .await
        .unwrap();

    assert_eq!(cfn.requests()[0].json()["Status"], "SUCCESS");
    assert_eq!(given.proxy.calls("GetSecretValue"), 4);
    assert_eq!(given.proxy.calls("AdminSetUserPassword"), 3);
    assert_eq!(
        given.aws.login(&given.pool, &given.user, &given.password).await,
        Login::Authenticated
    );
}

#[tokio::test]
async fn errors_that_retrying_cannot_fix_are_not_retried() {
    let given = given().await;
    given
        .proxy
        .always("GetSecretValue", Fault::aws("AccessDeniedException"));
    let cfn = ResponseUrl::start();
    let started = Instant::now();
    given
        .invoke(given.create(&cfn), Duration::from_secs(30))
        .await
        .unwrap();

    // Access denied on a stack's Create is retried only while IAM may be propagating (10 s),
    // then answered with the same message.
    let response = cfn.requests()[0].json();
    assert_eq!(response["Status"], "FAILED");
    let reason = response["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "access denied: the function's role may not call secretsmanager:GetSecretValue on `{}`",
            given.secret
        )),
        "{reason}"
    );
    let calls = given.proxy.calls("GetSecretValue");
    assert!((2..=6).contains(&calls), "a few retries with backoff: {calls}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(12),
        "{took:?}"
    );

    // A user that does not exist: one call, no retry.
    let cfn = ResponseUrl::start();
    let parameter = format!("/{}", unique("faults"));
    given
        .aws
        .parameter(
            &parameter,
            &strong_password(),
            aws_sdk_ssm::types::ParameterType::SecureString,
        )
        .await;
    given
        .aws
        .bind_parameter(&parameter, &given.pool.id, "ghost")
        .await;
    let request = cfn_request(
        "Create",
        &cfn.url,
        json!({"UserPoolId": given.pool.id, "Username": "ghost", "PasswordParameterName": parameter,
            "WaitForUserSeconds": "0"}),
    );
    let proxy = FaultProxy::start(moto::endpoint());
    let function = function_at(&proxy.endpoint, Settings::default()).await;
    function
        .handle(LambdaEvent::new(request, context(Duration::from_secs(30))))
        .await
        .unwrap();
    assert!(
        cfn.requests()[0].json()["Reason"]
            .as_str()
            .unwrap()
            .starts_with("user `ghost` does not exist")
    );
    // The lookup finds no user: one call, no retry, and no set is tried.
    assert_eq!(proxy.calls("AdminGetUser"), 1);
    assert_eq!(proxy.calls("AdminSetUserPassword"), 0);
}

/// Hangs `operation` and checks that CloudFormation still hears FAILED, naming the call, before
/// the deadline (budget 6 s, of which the default 2 s margin is kept for the response).
async fn hung(operation: &'static str, reason_start: impl Fn(&Given) -> String) {
    let given = given().await;
    given.proxy.always(operation, Fault::Hang);
    let cfn = ResponseUrl::start();
    let started = Instant::now();

    given
        .invoke(given.create(&cfn), Duration::from_secs(6))
        .await
        .unwrap();

    let responses = cfn.requests();
    assert_eq!(responses.len(), 1);
    let answered_after = responses[0].at - started;
    assert!(
        answered_after >= Duration::from_millis(3500) && answered_after < Duration::from_millis(5000),
        "answered when the work budget ran out, leaving the margin: {answered_after:?}"
    );
    let response = responses[0].json();
    assert_eq!(response["Status"], "FAILED");
    let reason = response["Reason"].as_str().unwrap();
    assert!(reason.starts_with(&reason_start(&given)), "{reason}");
}

#[tokio::test]
async fn hung_cognito_is_answered_failed_before_the_deadline() {
    hung("AdminSetUserPassword", |g| {
        format!(
            "cognito-idp:AdminSetUserPassword on `{}` did not answer in time",
            g.pool.id
        )
    })
    .await;
}

#[tokio::test]
async fn hung_secrets_manager_is_answered_failed_before_the_deadline() {
    hung("GetSecretValue", |g| {
        format!(
            "secretsmanager:GetSecretValue on `{}` did not answer in time",
            g.secret
        )
    })
    .await;
}

#[tokio::test]
async fn response_url_answering_503_twice_then_200() {
    let given = given().await;
    let cfn = ResponseUrl::scripted(vec![Reply::Status(503), Reply::Status(503)]);

    let returned = given.invoke(given.create(&cfn), Duration::from_secs(30)).await;

    assert!(returned.is_ok(), "{returned:?}");
    let puts = cfn.requests();
    assert_eq!(puts.len(), 3, "two 503s, then the one that was accepted");
    assert!(
        puts.iter().all(|put| put.body == puts[0].body),
        "the same answer each time"
    );
    assert_eq!(puts[2].json()["Status"], "SUCCESS");
    assert!(
        puts[2].at - puts[0].at < Duration::from_secs(2),
        "backoff is short"
    );
}

#[tokio::test]
async fn response_url_answering_a_redirect_is_not_retried() {
    let given = given().await;
    let cfn = ResponseUrl::scripted(vec![Reply::RedirectToSelf]);

    let returned = given
        .invoke(given.create(&cfn), Duration::from_secs(10))
        .await
        .unwrap();

    assert_eq!(
        cfn.requests().len(),
        1,
        "one PUT: the redirect is neither followed nor retried"
    );
    assert_eq!(returned["Result"], "undeliverable", "{returned}");
    let error = returned["Error"].as_str().unwrap();
    assert!(error.contains("answered HTTP 307"), "{error}");
}

#[tokio::test]
async fn response_url_that_never_answers_ends_before_the_deadline() {
    let given = given().await;
    let cfn = ResponseUrl::scripted(vec![Reply::Hang; 10]);
    let started = Instant::now();

    let err = given
        .invoke(given.create(&cfn), Duration::from_secs(4))
        .await
        .unwrap_err();

    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() > Duration::from_secs(3),
        "kept trying while there was time"
    );
    assert!(
        err.to_string()
            .starts_with("the response could not be delivered to CloudFormation"),
        "{err}"
    );
    assert!(
        !err.to_string().contains("deadbeef"),
        "the pre-signed query string stays out of messages"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_duplicate_request_gets_the_same_answer() {
    let given = given().await;
    let cfn = ResponseUrl::start();
    let request = given.create(&cfn);

    given
        .invoke(request.clone(), Duration::from_secs(30))
        .await
        .unwrap();
    given.invoke(request, Duration::from_secs(30)).await.unwrap();

    let puts = cfn.requests();
    assert_eq!(puts.len(), 2);
    assert_eq!(puts[0].json(), puts[1].json());
    assert_eq!(puts[0].json()["Status"], "SUCCESS");
}
