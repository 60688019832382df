//! A direct invocation (`aws lambda invoke`, Step Functions, the CLI): the event is the properties.
//! The result is the return value; a failure is an invocation error, so that retries and
//! dead-letter queues apply. EventBridge and Terraform answer the same way.

use serde_json::{Map, Value, json};

use crate::core::bulk::{UserOutcome, UserResult};
use crate::core::users::{Request, UserList};
use crate::error::Error;
use crate::inbound::invocation::{Invocation, SET};

/// Any JSON object that no other way in recognises.
pub async fn handle(invocation: &Invocation<'_>, event: Map<String, Value>) -> Result<Value, Error> {
    answer(invocation, &Value::Object(event), "direct").await
}

/// Sets the password (or each of a `Users` list) that `properties` ask for; `kind` names the way
/// in for the log.
pub async fn answer(
    invocation: &Invocation<'_>,
    properties: &Value,
    kind: &'static str,
) -> Result<Value, Error> {
    let request = match Request::from_properties(properties) {
        Ok(Request::One(request)) => request,
        Ok(Request::Many(list)) => {
            let (summary, outcomes) = invocation.run_many(&list, kind).await?;
            return summary.into_result().map(|_| results_json(&list, &outcomes));
        }
        Err(err) => {
            invocation.log_outcome(kind, None, Err(&err));
            return Err(err);
        }
    };
    match invocation.set_password(&request).await {
        Ok(request) => {
            invocation.log_outcome(kind, Some(&request), Ok(SET));
            Ok(json!({
                "UserPoolId": request.user_pool_id,
                "Username": request.username,
                "Permanent": request.permanent,
            }))
        }
        Err(err) => {
            invocation.log_outcome(kind, Some(&request), Err(&err));
            Err(err)
        }
    }
}

/// Each user's outcome, as a direct call returns it: nothing secret, and small.
fn results_json(list: &UserList, outcomes: &[UserOutcome]) -> Value {
    let results: Vec<Value> = outcomes
        .iter()
        .map(|outcome| match &outcome.result {
            UserResult::Set => json!({"Username": outcome.username, "Result": "set"}),
            UserResult::Failed(err) => {
                json!({"Username": outcome.username, "Result": "FAILED", "Error": err.to_string()})
            }
            UserResult::NotDone => json!({"Username": outcome.username, "Result": "not done"}),
        })
        .collect();
    json!({"UserPoolId": list.user_pool_id, "Results": results})
}
