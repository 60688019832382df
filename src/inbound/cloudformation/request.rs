//! CloudFormation's custom resource request: recognised by `RequestType` and `ResponseURL`, read
//! with its properties left raw (they are validated separately, so that a Delete can answer
//! SUCCESS even when they no longer validate).

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;
use serde_json::{Map, Value};

use crate::inbound::invocation::describe_serde_error;

/// A CloudFormation request with the properties left raw.
pub type CfnRequest = CloudFormationCustomResourceRequest<Value, Value>;

/// A CloudFormation request always has these two fields, and no other shape has both.
pub fn recognises(event: &Map<String, Value>) -> bool {
    event.contains_key("RequestType") && event.contains_key("ResponseURL")
}

/// A request that is malformed in some other way: it still gets a FAILED answer (or SUCCESS,
/// for a Delete), so that the stack does not wait for an hour.
#[derive(Debug)]
pub struct Malformed {
    pub raw: Map<String, Value>,
    pub problem: String,
}

/// Reads a recognised request.
pub fn parse(event: Map<String, Value>) -> Result<CfnRequest, Box<Malformed>> {
    serde_json::from_value::<CfnRequest>(Value::Object(event.clone())).map_err(|err| {
        Box::new(Malformed {
            raw: event,
            problem: describe_serde_error(&err),
        })
    })
}

/// The `ResourceProperties` of any request type.
pub fn resource_properties(request: &CfnRequest) -> Option<&Value> {
    match request {
        CloudFormationCustomResourceRequest::Create(r) => Some(&r.resource_properties),
        CloudFormationCustomResourceRequest::Update(r) => Some(&r.resource_properties),
        CloudFormationCustomResourceRequest::Delete(r) => Some(&r.resource_properties),
        _ => None,
    }
}

/// The request type, for logs.
pub fn kind(request: &CfnRequest) -> &'static str {
    match request {
        CloudFormationCustomResourceRequest::Create(_) => "CloudFormation Create",
        CloudFormationCustomResourceRequest::Update(_) => "CloudFormation Update",
        CloudFormationCustomResourceRequest::Delete(_) => "CloudFormation Delete",
        _ => "CloudFormation",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn requests_are_recognised_and_read() {
        let create = object(json!({
            "RequestType": "Create", "ResponseURL": "http://127.0.0.1/x", "StackId": "s", "RequestId": "r",
            "ResourceType": "Custom::CognitoUserPassword", "LogicalResourceId": "L", "ResourceProperties": {}
        }));
        assert!(recognises(&create));
        assert_eq!(kind(&parse(create).unwrap()), "CloudFormation Create");
        let broken = object(json!({"RequestType": "Create", "ResponseURL": "http://127.0.0.1/x"}));
        assert!(recognises(&broken));
        assert!(parse(broken).unwrap_err().problem.contains("missing field"));
        assert!(!recognises(&object(json!({"RequestType": "Create"}))));
    }
}
