//! Shared fixtures: moto, HTTP servers, the Runtime API, and AWS set-up and checks.
#![allow(dead_code)]

pub mod aws;
pub mod http;
pub mod moto;
pub mod proxy;
pub mod rie;
pub mod runtime;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cognito_set_password::aws::setup;
use cognito_set_password::{Function, Settings};
use lambda_runtime::{Config, Context, LambdaEvent};
use serde_json::Value;

/// The account the tests' function serves: the one AWS's Runtime Interface Emulator names in
/// every function ARN, so that the sample events serve the tests, the RIE and a local run alike.
pub const ACCOUNT: &str = "012345678912";
/// The function's ARN under the tests' Runtime API and in process.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:012345678912:function:cognito-set-password";
/// The hosts of the tests' ResponseURLs (`RESPONSE_URL_HOSTS`): loopback, as in a local run.
pub const RESPONSE_URL_HOSTS: &str = "127.0.0.1";

/// The function, in process, with its clients pointed at `endpoint`; the tests' ResponseURLs (on
/// loopback) are accepted as [`RESPONSE_URL_HOSTS`] would make them.
pub async fn function_at(endpoint: &str, mut settings: Settings) -> Function {
    let config = aws::config_for(endpoint).await;
    if settings.response_url_hosts.is_empty() {
        settings.response_url_hosts = vec![RESPONSE_URL_HOSTS.to_owned()];
    }
    Function::new(setup::clients(&config), settings)
}

/// The settings of the tests' in-process function: the defaults, deployed as a rotating stack
/// (`EnableRotation`); the refusal of a step without it is tested through the binary.
pub fn rotating() -> Settings {
    Settings {
        enable_rotation: true,
        ..Settings::default()
    }
}

/// The function, in process, reaching moto only through a fault proxy the test controls.
pub async fn function_behind_proxy() -> (proxy::FaultProxy, Function) {
    function_behind_proxy_with(rotating()).await
}

/// [`function_behind_proxy`] with `settings`.
pub async fn function_behind_proxy_with(settings: Settings) -> (proxy::FaultProxy, Function) {
    let proxy = proxy::FaultProxy::start(moto::endpoint());
    let function = function_at(&proxy.endpoint, settings).await;
    (proxy, function)
}

/// The function, in process, against moto, with [`rotating`] settings.
pub async fn function() -> Function {
    function_at(moto::endpoint(), rotating()).await
}

/// An invocation context as the runtime builds it, with `budget` until the deadline.
pub fn context(budget: Duration) -> Context {
    let mut context = Context::default();
    context.request_id = aws::unique("invocation");
    context.invoked_function_arn = FUNCTION_ARN.into();
    context.deadline = (SystemTime::now() + budget)
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    context.env_config = Arc::new(Config {
        function_name: "cognito-set-password".into(),
        memory: 128,
        version: "$LATEST".into(),
        log_stream: "2026/11/26/[$LATEST]0123456789abcdef".into(),
        log_group: "/aws/lambda/cognito-set-password".into(),
    });
    context
}

pub async fn invoke(function: &Function, event: Value) -> Result<Value, cognito_set_password::Error> {
    function
        .handle(LambdaEvent::new(event, context(Duration::from_secs(30))))
        .await
}

/// The path of the function's binary, as cargo built it for this test run's profile.
pub const BINARY: &str = env!("CARGO_BIN_EXE_cognito-set-password");
