//! One invocation: recognise the event by its shape and hand it to its way in. The ways in are
//! tried in this order, and the first that recognises the event takes it; anything else that is a
//! JSON object is a direct invocation.

use lambda_runtime::LambdaEvent;
use serde_json::Value;

use crate::aws::clients::Clients;
use crate::error::Error;
use crate::inbound::invocation::{self, Invocation};
use crate::inbound::{cloudformation, direct, eventbridge, rotation, sqs, sync, terraform};
use crate::settings::Settings;

/// The function: its clients and settings, built once per cold start.
#[derive(Debug, Clone)]
pub struct Function {
    pub clients: Clients,
    pub settings: Settings,
}

impl Function {
    pub fn new(clients: Clients, settings: Settings) -> Self {
        Function { clients, settings }
    }

    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        let (payload, context) = event.into_parts();
        let invocation = Invocation::new(&self.clients, &self.settings, &context);
        let event = invocation::object(payload).map_err(|err| invocation.unrecognised(err))?;
        let i = &invocation;
        match event {
            e if cloudformation::recognises(&e) => cloudformation::handle(i, e).await,
            e if sync::recognises(&e) => sync::handle(i, e).await,
            e if eventbridge::recognises(&e) => eventbridge::handle(i, e).await,
            e if sqs::recognises(&e) => sqs::handle(i, e).await,
            e if rotation::recognises(&e) => rotation::handle(i, e).await,
            e if terraform::recognises(&e, &self.settings) => terraform::handle(i, e).await,
            e => direct::handle(i, e).await,
        }
    }
}
