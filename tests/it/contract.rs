//! AdminSetUserPassword's own contract (1 to 256 characters, no whitespace), checked before the
//! call: moto accepts what Cognito refuses, so the tests count the calls that reach it (none) and
//! read the message the user gets, through the release binary.

use serde_json::json;

use crate::support::aws::{Aws, cfn_request, unique};
use crate::support::http::ResponseUrl;
use crate::support::runtime::json_function_behind_proxy;

#[tokio::test]
async fn a_value_cognito_would_refuse_is_named_and_never_sent() {
    // GIVEN a user, and three values Cognito's API refuses: a secret saved from a file (trailing
    // newline), a parameter with a space inside, and 257 characters
    let aws = Aws::moto().await;
    let (pool, user) = aws.pool_with_user("ivan").await;
    let with_newline = "Fr0m-A-File!Passw0rd\n";
    let newline_secret = unique("contract/newline");
    aws.secret(&newline_secret, &json!({"password": with_newline}).to_string())
        .await;
    aws.bind(&newline_secret, &pool.id, &user).await;
    let with_space = "Tw0 Words!Passw0rd";
    let space_parameter = format!("/{}", unique("contract"));
    aws.secure_parameter(&space_parameter, with_space).await;
    aws.bind_parameter(&space_parameter, &pool.id, &user).await;
    let too_long = format!("L0ng!{}", "abcdefgh".repeat(32)); // 261 characters
    let long_secret = unique("contract/long");
    aws.secret(&long_secret, &too_long).await;
    aws.bind(&long_secret, &pool.id, &user).await;

    let (proxy, runtime, process) = json_function_behind_proxy(&[("AWS_LAMBDA_LOG_LEVEL", "TRACE")]);
    let props = |source: serde_json::Value| {
        let mut props = json!({"UserPoolId": pool.id, "Username": user});
        props
            .as_object_mut()
            .unwrap()
            .extend(source.as_object().unwrap().clone());
        props
    };

    // WHEN each is sent directly
    let newline = runtime
        .invoke_async(props(json!({"PasswordSecretId": newline_secret})))
        .await;
    let space = runtime
        .invoke_async(props(json!({"PasswordParameterName": space_parameter})))
        .await;
    let long = runtime
        .invoke_async(props(json!({"PasswordSecretId": long_secret})))
        .await;
    // AND the newline once more through CloudFormation
    let cfn = ResponseUrl::start();
    let create = runtime
        .invoke_async(cfn_request(
            "Create",
            &cfn.url,
            props(json!({"PasswordSecretId": newline_secret})),
        ))
        .await;

    // THEN each fails with a message that names the source, the rule and the fix
    let message = |outcome: &crate::support::runtime::Outcome| {
        outcome.error()["errorMessage"].as_str().unwrap().to_owned()
    };
    let newline = message(&newline);
    assert!(
        newline.starts_with(&format!(
            "the password from Secrets Manager secret `{newline_secret}` cannot be sent to Cognito: it ends in a line break"
        )),
        "{newline}"
    );
    assert!(
        newline.contains("`--secret-string \"$(cat pw.txt)\"`"),
        "{newline}"
    );
    let space = message(&space);
    assert!(
        space.starts_with(&format!(
            "the password from SSM parameter `{space_parameter}` cannot be sent to Cognito: it contains whitespace (a space)"
        )),
        "{space}"
    );
    let long = message(&long);
    assert!(
        long.contains("it is 261 characters long, and AdminSetUserPassword accepts at most 256"),
        "{long}"
    );
    assert!(!long.contains("password policy"), "not the pool's policy: {long}");
    let delivered = cfn.wait_for(1, std::time::Duration::from_secs(5));
    assert_eq!(create.response()["Status"], "FAILED");
    let reason = delivered[0].json()["Reason"].as_str().unwrap().to_owned();
    assert!(reason.contains("it ends in a line break"), "{reason}");

    // AND Cognito was never called
    assert_eq!(proxy.calls("AdminSetUserPassword"), 0);
    assert!(proxy.calls("GetSecretValue") >= 3, "the secrets were read");
    // AND no value appears anywhere: log, responses, the CloudFormation body
    let everything = format!(
        "{}{newline}{space}{long}{reason}{}",
        process.output(),
        delivered[0].body
    );
    for value in [with_newline.trim_end(), with_space, &too_long[..40]] {
        assert!(!everything.contains(value), "a value reached the output");
    }
}
