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
    // AND a JSON secret without the key `password`
    let keyless = "Keyless-Passw0rd!";
    let keyless_secret = unique("contract/keyless");
    aws.secret(
        &keyless_secret,
        &json!({"user": "u", "pass": keyless}).to_string(),
    )
    .await;
    aws.bind(&keyless_secret, &pool.id, &user).await;

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
    let keyless_answer = runtime
        .invoke_async(props(json!({"PasswordSecretId": keyless_secret})))
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

    // THEN each fails with an answer that names the source and the rule, and no fact about the value
    let message = |outcome: &crate::support::runtime::Outcome| {
        outcome.error()["errorMessage"].as_str().unwrap().to_owned()
    };
    let (newline, space, long, keyless_answer) = (
        message(&newline),
        message(&space),
        message(&long),
        message(&keyless_answer),
    );
    let contract = "cannot be sent to Cognito: it is outside AdminSetUserPassword's contract (1 to 256 \
                    characters, no whitespace anywhere); the function's log for this request says";
    for (answer, source) in [
        (&newline, format!("Secrets Manager secret `{newline_secret}`")),
        (&space, format!("SSM parameter `{space_parameter}`")),
        (&long, format!("Secrets Manager secret `{long_secret}`")),
    ] {
        assert!(
            answer.starts_with(&format!("the password from {source} {contract}")),
            "{answer}"
        );
    }
    assert!(
        keyless_answer.starts_with(&format!(
            "secret `{keyless_secret}` is a JSON object without the key `password`"
        )),
        "{keyless_answer}"
    );
    let delivered = cfn.wait_for(1, std::time::Duration::from_secs(5));
    assert_eq!(create.response()["Status"], "FAILED");
    let reason = delivered[0].json()["Reason"].as_str().unwrap().to_owned();
    assert!(reason.contains(contract), "{reason}");
    let answers = [&newline, &space, &long, &keyless_answer, &reason];
    for fact in [
        "line break",
        "a space",
        "261",
        "characters long",
        "`pass`",
        "`user`",
        "cat pw.txt",
    ] {
        for answer in answers {
            assert!(!answer.contains(fact), "{fact} in {answer}");
        }
    }
    // AND the function's log, where operators look, says what is wrong and the fix
    let log = process.output();
    let logged = |source: &str, fact: &str| {
        log.lines()
            .any(|line| line.contains(r#""level":"ERROR""#) && line.contains(source) && line.contains(fact))
    };
    assert!(logged(&newline_secret, "it ends in a line break"), "{log}");
    assert!(logged(&newline_secret, "$(cat pw.txt)"), "{log}");
    assert!(
        logged(&space_parameter, "it contains whitespace (a space)"),
        "{log}"
    );
    assert!(
        logged(
            &long_secret,
            "it is 261 characters long, and AdminSetUserPassword accepts at most 256"
        ),
        "{log}"
    );
    assert!(!logged(&long_secret, "password policy"), "not the pool's policy");
    assert!(logged(&keyless_secret, "keys present: `pass`, `user`"), "{log}");

    // AND Cognito was never called
    assert_eq!(proxy.calls("AdminSetUserPassword"), 0);
    assert!(proxy.calls("GetSecretValue") >= 3, "the secrets were read");
    // AND no value appears anywhere: log, responses, the CloudFormation body
    let everything = format!(
        "{}{newline}{space}{long}{reason}{}",
        process.output(),
        delivered[0].body
    );
    for value in [with_newline.trim_end(), with_space, &too_long[..40], keyless] {
        assert!(!everything.contains(value), "a value reached the output");
    }
}
