//! Terraform's `aws_lambda_invocation` with `lifecycle_scope = "CRUD"`: the provider adds a key
//! (`tf` unless `terraform_key` renames it) holding `{"action", "prev_input"}` to a direct
//! invocation's properties. Create and update set the password; delete sets nothing. What the
//! function returns lands in Terraform state, so it is small and holds nothing secret.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::inbound::direct;
use crate::inbound::invocation::{Invocation, NOTHING_TO_DELETE};
use crate::settings::Settings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    pub fn kind(self) -> &'static str {
        match self {
            Action::Create => "Terraform create",
            Action::Update => "Terraform update",
            Action::Delete => "Terraform delete",
        }
    }
}

#[derive(Deserialize)]
struct Lifecycle {
    action: Action,
}

/// A direct invocation that carries the lifecycle key (`TERRAFORM_KEY`).
pub fn recognises(event: &Map<String, Value>, settings: &Settings) -> bool {
    event.contains_key(&settings.terraform_key)
}

/// Create and update set the password as a direct invocation does; delete sets nothing and never
/// blocks a destroy.
pub async fn handle(invocation: &Invocation<'_>, event: Map<String, Value>) -> Result<Value, Error> {
    let properties = Value::Object(event);
    match action(&properties, &invocation.settings.terraform_key) {
        None => direct::answer(invocation, &properties, "direct").await,
        Some(Ok(Action::Delete)) => {
            // As a CloudFormation Delete: nothing to undo, and never a blocked destroy.
            invocation.log_outcome(Action::Delete.kind(), None, Ok("SUCCESS (nothing to delete)"));
            Ok(json!({ "Result": NOTHING_TO_DELETE }))
        }
        Some(Ok(action)) => direct::answer(invocation, &properties, action.kind()).await,
        Some(Err(err)) => {
            invocation.log_outcome("Terraform", None, Err(&err));
            Err(err)
        }
    }
}

/// `Some` when `properties` carry the lifecycle key `key`: the action it names, or an error that
/// names the field when it is malformed.
pub fn action(properties: &Value, key: &str) -> Option<Result<Action, Error>> {
    let lifecycle = properties.get(key)?;
    Some(
        Lifecycle::deserialize(lifecycle)
            .map(|lifecycle| lifecycle.action)
            .map_err(|_| Error::UnrecognisedEvent(format!(
                "the Terraform key `{key}` must be an object whose `action` is \"create\", \"update\" or \"delete\" \
                 (as `aws_lambda_invocation` with `lifecycle_scope = \"CRUD\"` sends it)"
            ))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_providers_payloads_are_read() {
        let create = json!({"UserPoolId": "p", "tf": {"action": "create", "prev_input": null}});
        assert_eq!(action(&create, "tf").unwrap().unwrap(), Action::Create);
        let update = json!({"tf": {"action": "update", "prev_input": {"UserPoolId": "old"}}});
        assert_eq!(action(&update, "tf").unwrap().unwrap(), Action::Update);
        let delete = json!({"lifecycle": {"action": "delete", "prev_input": {}}});
        assert_eq!(action(&delete, "lifecycle").unwrap().unwrap(), Action::Delete);
        assert!(
            action(&delete, "tf").is_none(),
            "another key name: a plain direct call"
        );
        assert!(action(&json!({"UserPoolId": "p"}), "tf").is_none());
    }

    #[test]
    fn a_malformed_key_is_named() {
        for bad in [
            json!({"tf": "create"}),
            json!({"tf": {"action": "destroy"}}),
            json!({"tf": {}}),
        ] {
            let message = action(&bad, "tf").unwrap().unwrap_err().to_string();
            assert!(
                message.contains("the Terraform key `tf` must be an object whose `action`"),
                "{message}"
            );
        }
    }
}
