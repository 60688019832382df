//! The function exactly as `sam local invoke -e events/<file>.json` runs it: under AWS's Runtime
//! Interface Emulator, with the template's settings, against moto. Every sample event, the
//! CloudFormation deadline as the RIE enforces it, and (from scripts/deploy-check) the released
//! arm64 bootstrap, under qemu-user.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::BINARY;
use crate::support::aws::{Aws, Login, Pool, cfn_request, strong_password, unique};
use crate::support::http::ResponseUrl;
use crate::support::moto;
use crate::support::proxy::{Fault, FaultProxy};
use crate::support::rie::Rie;

const SAMPLE_POOL: &str = "us-east-1_Example1";
const STACK_ID: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/users/5b1c2f40-0000-11ef-0000-0a1b2c3d4e5f";

/// What the sample events refer to, made in moto under fresh names (moto is shared by tests).
struct World {
    aws: Aws,
    pool: Pool,
    alice: String,
    bob: String,
    /// (the sample's name, this world's name), for every name the events use.
    names: Vec<(&'static str, String)>,
    alice_password: String,
    alice_rotated: String,
    bob_password: String,
}

impl World {
    async fn new() -> Self {
        let aws = Aws::moto().await;
        let pool = aws.pool().await;
        let (alice, bob) = (unique("alice"), unique("bob"));
        aws.user(&pool, &alice).await;
        aws.user(&pool, &bob).await;
        let (alice_password, alice_rotated, bob_password) =
            (strong_password(), strong_password(), strong_password());
        let prefix = unique("events");
        let alice_secret = format!("{prefix}/alice");
        let rotated_parameter = format!("/{prefix}/alice-rotated");
        let bob_secret = format!("{prefix}/bob");
        aws.secret(
            &alice_secret,
            &json!({"username": "alice", "password": alice_password}).to_string(),
        )
        .await;
        aws.secure_parameter(&rotated_parameter, &alice_rotated).await;
        aws.secret(&bob_secret, &bob_password).await;
        aws.bind(&alice_secret, &pool.id, &alice).await;
        aws.bind_parameter(&rotated_parameter, &pool.id, &alice).await;
        aws.bind(&bob_secret, &pool.id, &bob).await;
        World {
            names: vec![
                ("cognito-set-password/alice", alice_secret),
                ("/cognito-set-password/alice-rotated", rotated_parameter),
                ("cognito-set-password/bob", bob_secret),
                (SAMPLE_POOL, pool.id.clone()),
            ],
            aws,
            pool,
            alice,
            bob,
            alice_password,
            alice_rotated,
            bob_password,
        }
    }

    /// A sample event with this world's ids substituted, as scripts/local-run does.
    fn event(&self, file: &str, response_url: &str) -> Value {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("events")
            .join(file);
        let mut text = std::fs::read_to_string(path).unwrap();
        text = text.replace(
            &format!("\"{SAMPLE_POOL}/alice\""),
            &format!("\"{}/{}\"", self.pool.id, self.alice),
        );
        for (sample, real) in &self.names {
            text = text.replace(&format!("\"{sample}"), &format!("\"{real}"));
        }
        text = text.replace("\"alice\"", &format!("\"{}\"", self.alice));
        text = text.replace("\"bob\"", &format!("\"{}\"", self.bob));
        let mut event: Value = serde_json::from_str(&text).unwrap();
        if event.get("ResponseURL").is_some() {
            event["ResponseURL"] = json!(response_url);
        }
        event
    }
}

fn cfn_response(status: &str, reason: &str, physical_id: &str, request_id: &str, data: Value) -> Value {
    json!({
        "Status": status, "Reason": reason, "PhysicalResourceId": physical_id, "StackId": STACK_ID,
        "RequestId": request_id, "LogicalResourceId": "AlicePassword", "NoEcho": false, "Data": data,
    })
}

#[tokio::test]
async fn every_sample_event_runs_as_its_note_says() {
    let world = World::new().await;
    let rie = Rie::start(&[BINARY], &[("AWS_ENDPOINT_URL", moto::endpoint())]);
    let (pool, alice, bob) = (&world.pool, &world.alice, &world.bob);
    let alice_id = format!("{}/{alice}", pool.id);
    let alice_data = json!({"UserPoolId": pool.id, "Username": alice});
    let set_alice = format!("set the password of user {alice} in user pool {}", pool.id);

    // cloudformation-create.json: alice gets the password under `password` in her JSON secret.
    let cfn = ResponseUrl::start();
    let event = world.event("cloudformation-create.json", &cfn.url);
    assert_eq!(world.aws.status(pool, alice).await, "FORCE_CHANGE_PASSWORD");
    let answer = rie.invoke(&event).await;
    let want = cfn_response(
        "SUCCESS",
        &set_alice,
        &alice_id,
        "0f5e3c1a-6d3b-4c1e-9a57-1d2b3c4d5e6f",
        alice_data.clone(),
    );
    assert_eq!(cfn.wait_for(1, Duration::from_secs(5))[0].json(), want);
    assert_eq!(answer, want);
    assert_eq!(world.aws.status(pool, alice).await, "CONFIRMED");
    assert_eq!(
        world.aws.login(pool, alice, &world.alice_password).await,
        Login::Authenticated
    );

    // cloudformation-update.json: the reference moves to an SSM parameter; same resource.
    let cfn = ResponseUrl::start();
    rie.invoke(&world.event("cloudformation-update.json", &cfn.url))
        .await;
    let want = cfn_response(
        "SUCCESS",
        &set_alice,
        &alice_id,
        "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        alice_data.clone(),
    );
    assert_eq!(cfn.wait_for(1, Duration::from_secs(5))[0].json(), want);
    assert_eq!(
        world.aws.login(pool, alice, &world.alice_rotated).await,
        Login::Authenticated
    );

    // eventbridge.json: bob, from a plain secret; the result is the return value.
    let answer = rie.invoke(&world.event("eventbridge.json", "")).await;
    assert_eq!(
        answer,
        json!({"UserPoolId": pool.id, "Username": bob, "Permanent": true})
    );
    assert_eq!(
        world.aws.login(pool, bob, &world.bob_password).await,
        Login::Authenticated
    );

    // direct.json: bob again, temporary this time.
    let answer = rie.invoke(&world.event("direct.json", "")).await;
    assert_eq!(
        answer,
        json!({"UserPoolId": pool.id, "Username": bob, "Permanent": false})
    );
    assert_eq!(world.aws.status(pool, bob).await, "FORCE_CHANGE_PASSWORD");
    assert_eq!(
        world.aws.login(pool, bob, &world.bob_password).await,
        Login::NewPasswordRequired
    );

    // cloudformation-delete.json: SUCCESS, and alice keeps her password.
    let cfn = ResponseUrl::start();
    rie.invoke(&world.event("cloudformation-delete.json", &cfn.url))
        .await;
    let want = cfn_response(
        "SUCCESS",
        "nothing to delete: the user and password are left as they are",
        &alice_id,
        "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f",
        alice_data,
    );
    assert_eq!(cfn.wait_for(1, Duration::from_secs(5))[0].json(), want);
    assert_eq!(
        world.aws.login(pool, alice, &world.alice_rotated).await,
        Login::Authenticated
    );

    assert_eq!(
        rie.reports().len(),
        5,
        "one REPORT line per invocation: {}",
        rie.process.output()
    );
    for password in [&world.alice_password, &world.alice_rotated, &world.bob_password] {
        assert!(!rie.process.output().contains(password.as_str()));
    }
}

#[tokio::test]
async fn the_deadline_the_rie_enforces_is_honoured_when_cognito_hangs() {
    let aws = Aws::moto().await;
    let (pool, user) = aws.pool_with_user("ivan").await;
    let secret = unique("deadline/ivan");
    aws.secret(&secret, &strong_password()).await;
    aws.bind(&secret, &pool.id, &user).await;
    let proxy = FaultProxy::start(moto::endpoint());
    proxy.always("AdminSetUserPassword", Fault::Hang);
    let rie = Rie::start(
        &[BINARY],
        &[
            ("AWS_ENDPOINT_URL", moto::endpoint()),
            (
                "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
                proxy.endpoint.as_str(),
            ),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"),
        ],
    );
    let cfn = ResponseUrl::start();
    let request = cfn_request(
        "Create",
        &cfn.url,
        json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret}),
    );

    let started = Instant::now();
    let answer = rie.invoke(&request).await;

    let responses = cfn.requests();
    assert_eq!(responses.len(), 1, "{}", rie.process.output());
    let answered_after = responses[0].at - started;
    assert!(
        answered_after < Duration::from_secs(3),
        "before the RIE's 3 s deadline: {answered_after:?}"
    );
    let response = responses[0].json();
    assert_eq!(response["Status"], "FAILED");
    assert!(
        response["Reason"].as_str().unwrap().starts_with(&format!(
            "cognito-idp:AdminSetUserPassword on `{}` did not answer in time",
            pool.id
        )),
        "{response}"
    );
    assert_eq!(
        answer["Status"], "FAILED",
        "the invocation itself finished: {answer}"
    );
    assert!(
        !rie.process.output().contains("Task timed out"),
        "{}",
        rie.process.output()
    );
    assert_eq!(
        proxy.calls("GetSecretValue"),
        0,
        "Secrets Manager went straight to moto"
    );
}

/// The released arm64 bootstrap (out of the release zip), under qemu-user, through the RIE: run
/// by scripts/deploy-check, which builds the release and sets ARM64_BOOTSTRAP.
#[tokio::test]
#[ignore = "needs the arm64 bootstrap of the release zip: run by scripts/deploy-check"]
async fn the_released_arm64_bootstrap_sets_the_password() {
    let bootstrap =
        std::env::var("ARM64_BOOTSTRAP").expect("ARM64_BOOTSTRAP: the path of the arm64 bootstrap");
    let world = World::new().await;
    let rie = Rie::start(
        &["qemu-aarch64", &bootstrap],
        &[
            ("AWS_ENDPOINT_URL", moto::endpoint()),
            ("QEMU_LD_PREFIX", "/usr/aarch64-linux-gnu"),
        ],
    );
    let cfn = ResponseUrl::start();

    rie.invoke(&world.event("cloudformation-create.json", &cfn.url))
        .await;

    let response = cfn.wait_for(1, Duration::from_secs(5));
    assert_eq!(response.len(), 1, "{}", rie.process.output());
    assert_eq!(
        response[0].json()["Status"],
        "SUCCESS",
        "{}",
        rie.process.output()
    );
    assert_eq!(world.aws.status(&world.pool, &world.alice).await, "CONFIRMED");
    assert_eq!(
        world
            .aws
            .login(&world.pool, &world.alice, &world.alice_password)
            .await,
        Login::Authenticated
    );
    println!("{}", rie.reports().join("\n"));
}
