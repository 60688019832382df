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

/// The function, in process, with its clients pointed at `endpoint`.
pub async fn function_at(endpoint: &str, settings: Settings) -> Function {
    let config = aws::config_for(endpoint).await;
    Function::new(setup::clients(&config), settings)
}

/// The function, in process, reaching moto only through a fault proxy the test controls.
pub async fn function_behind_proxy() -> (proxy::FaultProxy, Function) {
    function_behind_proxy_with(Settings::default()).await
}

/// [`function_behind_proxy`] with `settings`.
pub async fn function_behind_proxy_with(settings: Settings) -> (proxy::FaultProxy, Function) {
    let proxy = proxy::FaultProxy::start(moto::endpoint());
    let function = function_at(&proxy.endpoint, settings).await;
    (proxy, function)
}

pub async fn function() -> Function {
    function_at(moto::endpoint(), Settings::default()).await
}

/// An invocation context as the runtime builds it, with `budget` until the deadline.
pub fn context(budget: Duration) -> Context {
    let mut context = Context::default();
    context.request_id = aws::unique("invocation");
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
