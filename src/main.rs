//! Wiring only: tracing, clients, settings, and the runtime loop.
// The invocation's future nests deeply (runtime layers, the handler's ways in, the SDK's
// orchestrator); computing its layout needs more than the default depth.
#![recursion_limit = "256"]

use cognito_set_password::aws::setup;
use cognito_set_password::{Function, Settings, logging};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Honours AWS_LAMBDA_LOG_FORMAT=JSON and AWS_LAMBDA_LOG_LEVEL, as on AWS.
    logging::init();
    let config = setup::config_loader().load().await;
    let function = Function::new(setup::clients(&config), Settings::from_env());
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        function.handle(event).await
    }))
    .await
}
