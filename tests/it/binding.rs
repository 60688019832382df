//! A secret sets only the password of the user it is bound to: each takeover found in review,
//! tried through the release binary as the attacker would, then proof that the victim's password
//! did not change (the old one still signs in, the attacker's does not) and that the answer names
//! the reason.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::support::aws::{Aws, Login, Pool, label_updated_event, rotation_event, strong_password, unique};
use crate::support::proxy::FaultProxy;
use crate::support::runtime::{FunctionProcess, Outcome, RuntimeApi, json_function_behind_proxy};

/// A pool with the victim `admin`, who signs in with a password only its owner knows, and carol,
/// whose JSON rotation secret (bound to her) names her and an app client.
struct World {
    aws: Aws,
    pool: Pool,
    admin: String,
    admin_password: String,
    carol_secret: String,
}

async fn world() -> World {
    let aws = Aws::moto().await;
    let pool = aws.pool().await;
    let (admin, carol) = (unique("admin"), unique("carol"));
    let admin_password = strong_password();
    aws.confirmed_user(&pool, &admin, &admin_password).await;
    aws.confirmed_user(&pool, &carol, &strong_password()).await;
    let carol_secret = unique("cognito-set-password/carol");
    let value = json!({"UserPoolId": pool.id, "Username": carol, "ClientId": pool.client_id,
        "password": strong_password()});
    aws.secret(&carol_secret, &value.to_string()).await;
    aws.bind(&carol_secret, &pool.id, &carol).await;
    World {
        aws,
        pool,
        admin,
        admin_password,
        carol_secret,
    }
}

impl World {
    /// Admin still signs in with the old password, `attackers` password does not work, and
    /// Cognito was never asked to set one.
    async fn admin_untouched(&self, attackers: &str, proxy: &FaultProxy) {
        assert_eq!(proxy.calls("AdminSetUserPassword"), 0);
        assert_eq!(
            self.aws
                .login(&self.pool, &self.admin, &self.admin_password)
                .await,
            Login::Authenticated
        );
        assert!(matches!(
            self.aws.login(&self.pool, &self.admin, attackers).await,
            Login::Refused(_)
        ));
    }
}

fn message(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Error(error) => error["errorMessage"].as_str().unwrap_or_default().to_owned(),
        Outcome::Response(answer) => answer.to_string(),
        Outcome::NoAnswer => panic!("no answer"),
    }
}

async fn attack(runtime: &Arc<RuntimeApi>, event: Value) -> String {
    message(&runtime.invoke_async(event).await)
}

#[tokio::test]
async fn an_invoker_cannot_choose_a_password_for_another_user() {
    let w = world().await;
    let (proxy, runtime, _process) = json_function_behind_proxy(&[]);
    let request = |extra: Value| {
        let mut event = json!({"UserPoolId": w.pool.id, "Username": w.admin});
        event
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        event
    };

    // WHEN the invoker points admin at carol's secret and a public key of it: the pool id
    let answer = attack(
        &runtime,
        request(json!({"PasswordSecretId": w.carol_secret, "PasswordSecretJsonKey": "UserPoolId"})),
    )
    .await;
    // THEN it is refused (the binding names carol; the key is never a password)
    assert!(answer.contains(&format!("not to user `{}`", w.admin)), "{answer}");
    w.admin_untouched(&w.pool.id, &proxy).await;
    for key in ["Username", "ClientId"] {
        let answer = attack(
            &runtime,
            request(json!({"PasswordSecretId": w.carol_secret, "PasswordSecretJsonKey": key})),
        )
        .await;
        assert!(answer.contains("refused, nothing was set"), "{answer}");
    }

    // WHEN the invoker names another key of admin's own bound secret, whose value it knows
    let admin_secret = unique("cognito-set-password/admin");
    let email = format!("{}@example.com", w.admin);
    w.aws
        .secret(
            &admin_secret,
            &json!({"email": email, "password": w.admin_password}).to_string(),
        )
        .await;
    w.aws.bind(&admin_secret, &w.pool.id, &w.admin).await;
    let answer = attack(
        &runtime,
        request(json!({"PasswordSecretId": admin_secret, "PasswordSecretJsonKey": "email"})),
    )
    .await;
    // THEN it is refused: where a secret has a `password` key, no other key is a password
    assert!(
        answer.contains("no password could be read under `PasswordSecretJsonKey` `email`"),
        "{answer}"
    );
    w.admin_untouched(&email, &proxy).await;

    // WHEN the invoker copies its own service account's password, which it can read, onto admin
    let (service, service_password) = (unique("svc"), strong_password());
    w.aws.user(&w.pool, &service).await;
    let service_secret = unique("cognito-set-password/svc");
    w.aws.secret(&service_secret, &service_password).await;
    w.aws.bind(&service_secret, &w.pool.id, &service).await;
    let answer = attack(&runtime, request(json!({"PasswordSecretId": service_secret}))).await;
    // THEN it is refused, naming both users
    assert!(
        answer.contains(&format!(
            "is bound to user `{service}` in user pool `{}`",
            w.pool.id
        )) && answer.contains(&format!("not to user `{}` in user pool `{}`", w.admin, w.pool.id)),
        "{answer}"
    );
    w.admin_untouched(&service_password, &proxy).await;

    // WHEN a whole Users list does it
    let answer = attack(
        &runtime,
        json!({"UserPoolId": w.pool.id, "Users": [{"Username": w.admin, "PasswordSecretId": service_secret}]}),
    )
    .await;
    assert!(
        answer.contains(&format!("is bound to user `{service}`")),
        "{answer}"
    );
    w.admin_untouched(&service_password, &proxy).await;

    // WHEN the secret or parameter is bound to nobody
    let unbound = unique("cognito-set-password/loose");
    let loose_password = strong_password();
    w.aws.secret(&unbound, &loose_password).await;
    let answer = attack(&runtime, request(json!({"PasswordSecretId": unbound}))).await;
    // THEN the answer gives the tag to add and the command that adds it
    assert!(
        answer.contains("is not bound to a user (it has no tag)"),
        "{answer}"
    );
    assert!(
        answer.contains(&format!(
            "aws secretsmanager tag-resource --secret-id {unbound} --tags \
             Key=cognito-set-password:user,Value={}/{}",
            w.pool.id, w.admin
        )),
        "{answer}"
    );
    let parameter = format!("/{}", unique("cognito-set-password/loose"));
    w.aws.secure_parameter(&parameter, &loose_password).await;
    let answer = attack(
        &runtime,
        request(json!({"PasswordParameterName": format!("{parameter}:1")})),
    )
    .await;
    assert!(
        answer.contains(&format!(
            "aws ssm add-tags-to-resource --resource-type Parameter --resource-id {parameter} "
        )),
        "{answer}"
    );
    w.admin_untouched(&loose_password, &proxy).await;

    // AND the same requests for the users the secrets are bound to are served
    let outcome = runtime
        .invoke_async(json!({"UserPoolId": w.pool.id, "Username": service,
        "PasswordSecretId": service_secret}))
        .await;
    assert_eq!(outcome.response()["Username"], service.as_str(), "{outcome:?}");
    assert_eq!(
        w.aws.login(&w.pool, &service, &service_password).await,
        Login::Authenticated
    );
}

#[tokio::test]
async fn an_older_version_is_brought_back_only_where_selectors_are_allowed() {
    let w = world().await;
    // GIVEN admin's own secret, whose first password leaked and was replaced
    let admin_secret = unique("cognito-set-password/admin");
    let leaked = strong_password();
    w.aws.secret(&admin_secret, &leaked).await;
    w.aws.bind(&admin_secret, &w.pool.id, &w.admin).await;
    w.aws.secret_version(&admin_secret, &w.admin_password).await;
    let replay = json!({"UserPoolId": w.pool.id, "Username": w.admin, "PasswordSecretId": admin_secret,
        "PasswordSecretVersionStage": "AWSPREVIOUS"});

    // WHEN the deployment refuses version selectors, THEN the replay is refused, naming the setting
    let (proxy, runtime, _process) = json_function_behind_proxy(&[("ALLOW_VERSION_SELECTORS", "false")]);
    let answer = attack(&runtime, replay.clone()).await;
    assert!(answer.contains("AllowVersionSelectors is false"), "{answer}");
    assert!(answer.contains("`PasswordSecretVersionStage`"), "{answer}");
    w.admin_untouched(&leaked, &proxy).await;
    // AND a stage that does not exist gets the same answer: the refusal tells nothing of versions
    let mut probe = replay.clone();
    probe["PasswordSecretVersionStage"] = json!("NO_SUCH_STAGE");
    assert_eq!(attack(&runtime, probe).await, answer);

    // WHEN it allows them (the default), THEN only admin's own older password can come back
    let (_proxy, runtime, _process) = json_function_behind_proxy(&[]);
    let outcome = runtime.invoke_async(replay).await;
    assert_eq!(outcome.response()["Username"], w.admin.as_str(), "{outcome:?}");
    assert_eq!(
        w.aws.login(&w.pool, &w.admin, &leaked).await,
        Login::Authenticated
    );
}

/// The sync, as the rule delivers it, for the version that is now `AWSCURRENT`.
async fn sync_current(w: &World, runtime: &Arc<RuntimeApi>, secret: &str) -> Outcome {
    let version = w.aws.version_with(secret, "AWSCURRENT").await.unwrap();
    runtime
        .invoke_async(label_updated_event(secret, secret, "AWSCURRENT", &version))
        .await
}

#[tokio::test]
async fn whoever_may_write_a_secrets_versions_cannot_take_over_another_user_through_the_sync() {
    let w = world().await;
    let (proxy, runtime, _process): (FaultProxy, Arc<RuntimeApi>, FunctionProcess) =
        json_function_behind_proxy(&[]);
    let naming_admin = |password: &str| {
        json!({"UserPoolId": w.pool.id, "Username": w.admin, "password": password}).to_string()
    };

    // WHEN a version naming admin is written to a plain-password secret bound to a service account
    let service = unique("svc");
    w.aws.user(&w.pool, &service).await;
    let plain = unique("cognito-set-password/svc");
    w.aws.secret(&plain, &strong_password()).await;
    w.aws.bind(&plain, &w.pool.id, &service).await;
    let known = strong_password();
    w.aws.secret_version(&plain, &naming_admin(&known)).await;
    let answer = message(&sync_current(&w, &runtime, &plain).await);
    // THEN the sync refuses it, naming both users
    assert!(
        answer.contains(&format!("is bound to user `{service}`")),
        "{answer}"
    );
    assert!(answer.contains(&format!("not to user `{}`", w.admin)), "{answer}");
    w.admin_untouched(&known, &proxy).await;

    // WHEN the drift marker is forged onto a version naming admin, then an ordinary write names admin
    let forged = strong_password();
    w.aws
        .secrets
        .put_secret_value()
        .secret_id(&w.carol_secret)
        .secret_string(naming_admin(&forged))
        .version_stages("COGNITO_CURRENT")
        .send()
        .await
        .unwrap();
    let takeover = strong_password();
    w.aws
        .secret_version(&w.carol_secret, &naming_admin(&takeover))
        .await;
    let answer = message(&sync_current(&w, &runtime, &w.carol_secret).await);
    // THEN the label changes nothing: the binding names carol
    assert!(answer.contains(&format!("not to user `{}`", w.admin)), "{answer}");
    w.admin_untouched(&takeover, &proxy).await;

    // WHEN a secret never labelled gets a version naming admin, refused, and then a second one
    let fresh = unique("cognito-set-password/fresh");
    let carol_like =
        json!({"UserPoolId": w.pool.id, "Username": unique("nobody-yet"), "password": strong_password()});
    w.aws.secret(&fresh, &carol_like.to_string()).await;
    w.aws
        .bind(&fresh, &w.pool.id, carol_like["Username"].as_str().unwrap())
        .await;
    for _ in 0..2 {
        let attempt = strong_password();
        w.aws.secret_version(&fresh, &naming_admin(&attempt)).await;
        let answer = message(&sync_current(&w, &runtime, &fresh).await);
        // THEN each is refused: the refused version never becomes a baseline
        assert!(answer.contains(&format!("not to user `{}`", w.admin)), "{answer}");
        w.admin_untouched(&attempt, &proxy).await;
    }
}

#[tokio::test]
async fn test_secret_signs_in_only_as_the_bound_user() {
    let w = world().await;
    let (proxy, runtime, _process) = json_function_behind_proxy(&[]);
    let token = w.aws.start_rotation(&w.carol_secret, false).await;
    // WHEN the pending version names admin with a guess, and testSecret runs
    let guess = w.admin_password.clone();
    w.aws
        .secrets
        .put_secret_value()
        .secret_id(&w.carol_secret)
        .client_request_token(&token)
        .secret_string(
            json!({"UserPoolId": w.pool.id, "Username": w.admin, "ClientId": w.pool.client_id,
                "password": guess})
            .to_string(),
        )
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    let answer = message(
        &runtime
            .invoke_async(rotation_event("testSecret", &w.carol_secret, &token))
            .await,
    );
    // THEN no sign-in is tried (no oracle for admin's password), and the step fails naming both
    assert_eq!(proxy.calls("AdminInitiateAuth"), 0);
    assert!(answer.contains(&format!("not to user `{}`", w.admin)), "{answer}");
    assert!(!answer.contains(&guess));
}
