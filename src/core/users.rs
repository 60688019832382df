//! The `Users` property: many users of one pool in one request, each with its own password
//! reference. Validated up front, as a whole: every bad entry is named by its index and field,
//! and nothing is set when any entry is invalid.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::core::fields::{plaintext_key, type_name};
use crate::core::request::SetPasswordRequest;
use crate::error::Error;
use crate::settings::{MAX_CALLS_PER_SECOND, MIN_CALLS_PER_SECOND, is_rate};

/// Entries in one request at most.
pub const MAX_USERS: usize = 1000;
/// Problems listed in one message at most; the count says how many more.
const MAX_LISTED: usize = 20;

/// A validated `Users` request: one [`SetPasswordRequest`] per entry, in the given order.
#[derive(Debug, Clone, PartialEq)]
pub struct UserList {
    pub user_pool_id: String,
    pub users: Vec<SetPasswordRequest>,
    /// The request's own `MaxCallsPerSecond`, if it gives one.
    pub max_calls_per_second: Option<f64>,
}

/// What a request asks for: one user, or a list.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    One(SetPasswordRequest),
    Many(UserList),
}

impl Request {
    /// The properties of any shape: with `Users`, a list; otherwise one user, as before.
    pub fn from_properties(properties: &Value) -> Result<Self, Error> {
        match properties.get("Users") {
            None | Some(Value::Null) => SetPasswordRequest::from_properties(properties).map(Request::One),
            Some(users) => UserList::from_properties(properties, users).map(Request::Many),
        }
    }
}

impl UserList {
    fn from_properties(properties: &Value, users: &Value) -> Result<Self, Error> {
        let Value::Object(shared) = properties else {
            return Err(Error::invalid(
                "Users",
                "must come with the other properties in a JSON object",
            ));
        };
        // Refused as a whole, before anything else is looked at: a plaintext password anywhere
        // (an event refused for it ends normally instead of being retried into a queue).
        if let Some(key) = plaintext_key(shared) {
            return Err(Error::PlaintextPassword { key: key.to_owned() });
        }
        if let Value::Array(entries) = users {
            for (index, entry) in entries.iter().enumerate() {
                if let Some(key) = entry.as_object().and_then(plaintext_key) {
                    return Err(Error::PlaintextPassword {
                        key: format!("Users[{index}].{key}"),
                    });
                }
            }
        }
        let Value::Array(entries) = users else {
            return Err(Error::invalid(
                "Users",
                format!("must be a list of users, got {}", type_name(users)),
            ));
        };
        if entries.is_empty() || entries.len() > MAX_USERS {
            return Err(Error::invalid(
                "Users",
                format!("must hold 1 to {MAX_USERS} users, got {}", entries.len()),
            ));
        }
        for reference in [
            "PasswordSecretId",
            "PasswordParameterName",
            "PasswordSecretJsonKey",
            "PasswordSecretVersionStage",
            "PasswordSecretVersionId",
        ] {
            if shared.contains_key(reference) {
                return Err(Error::invalid(
                    reference,
                    "cannot be given beside `Users`: each entry names its own password reference",
                ));
            }
        }
        if shared.contains_key("Username") {
            return Err(Error::invalid(
                "Username",
                "cannot be given beside `Users`: give each user's `Username` in its entry",
            ));
        }
        let max_calls_per_second = match shared.get("MaxCallsPerSecond") {
            None | Some(Value::Null) => None,
            Some(value) => Some(parse_rate(value)?),
        };
        // What every entry shares unless it says otherwise: the pool, and `Permanent` and
        // `WaitForUserSeconds` as defaults. Password references are each entry's own.
        let mut defaults = Map::new();
        for key in ["UserPoolId", "Permanent", "WaitForUserSeconds"] {
            if let Some(value) = shared.get(key) {
                defaults.insert(key.into(), value.clone());
            }
        }
        let mut problems = Vec::new();
        let mut users = Vec::with_capacity(entries.len());
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (index, entry) in entries.iter().enumerate() {
            let Value::Object(entry) = entry else {
                problems.push(format!(
                    "Users[{index}] must be an object, got {}",
                    type_name(entry)
                ));
                continue;
            };
            if entry.contains_key("UserPoolId") {
                problems.push(format!(
                    "Users[{index}].UserPoolId: every entry uses the request's `UserPoolId`; remove it"
                ));
                continue;
            }
            let mut merged = defaults.clone();
            merged.extend(entry.iter().map(|(k, v)| (k.clone(), v.clone())));
            match SetPasswordRequest::from_properties(&Value::Object(merged)) {
                Ok(user) => {
                    if let Some(first) = seen.insert(user.username.clone(), index) {
                        problems.push(format!(
                            "Users[{index}].Username: `{}` is also Users[{first}]; each user once",
                            user.username
                        ));
                    }
                    users.push(user);
                }
                // "property `X` …" becomes "Users[3].X …"; other messages keep their words.
                Err(err) => problems.push(match err {
                    Error::InvalidProperty { field, problem } => format!("Users[{index}].{field} {problem}"),
                    other => format!("Users[{index}]: {other}"),
                }),
            }
        }
        if !problems.is_empty() {
            return Err(Error::InvalidUsers {
                count: problems.len(),
                listed: list(&problems),
            });
        }
        Ok(UserList {
            user_pool_id: users[0].user_pool_id.clone(),
            users,
            max_calls_per_second,
        })
    }
}

/// `MaxCallsPerSecond`: a positive number, at most 10,000 (CloudFormation passes a string).
pub fn parse_rate(value: &Value) -> Result<f64, Error> {
    let rate = match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    };
    match rate {
        Some(rate) if is_rate(rate) => Ok(rate),
        _ => Err(Error::invalid(
            "MaxCallsPerSecond",
            format!(
                "must be a number of calls per second from {MIN_CALLS_PER_SECOND} to {MAX_CALLS_PER_SECOND}, got {}",
                match value {
                    Value::String(text) => format!("\"{}\"", text.chars().take(32).collect::<String>()),
                    Value::Number(number) => number.to_string(),
                    other => type_name(other).to_owned(),
                }
            ),
        )),
    }
}

/// Up to [`MAX_LISTED`] items, `; `-separated, and how many more.
pub fn list(items: &[String]) -> String {
    let mut text = items
        .iter()
        .take(MAX_LISTED)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > MAX_LISTED {
        text.push_str(&format!("; and {} more", items.len() - MAX_LISTED));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn many(properties: Value) -> Result<UserList, String> {
        match Request::from_properties(&properties) {
            Ok(Request::Many(list)) => Ok(list),
            Ok(Request::One(_)) => Err("one".into()),
            Err(err) => Err(err.to_string()),
        }
    }

    #[test]
    fn entries_share_the_pool_and_defaults_and_keep_their_own_references() {
        let list = many(
            json!({"UserPoolId": "us-east-1_A", "Permanent": "false", "MaxCallsPerSecond": "20",
            "Users": [
                {"Username": "a", "PasswordSecretId": "s/a"},
                {"Username": "b", "PasswordParameterName": "/p/b", "Permanent": true},
            ]}),
        )
        .unwrap();
        assert_eq!(list.users.len(), 2);
        assert_eq!(list.max_calls_per_second, Some(20.0));
        assert!(!list.users[0].permanent && list.users[1].permanent);
        assert!(list.users.iter().all(|u| u.user_pool_id == "us-east-1_A"));
    }

    #[test]
    fn every_bad_entry_is_named_by_index_and_field() {
        let message = many(json!({"UserPoolId": "us-east-1_A", "Users": [
            {"Username": "a", "PasswordSecretId": "s/a"},
            {"PasswordSecretId": "s/b"},
            {"Username": "c"},
            "d",
            {"Username": "a", "PasswordSecretId": "s/a2"},
            {"Username": "e", "PasswordSecretId": "s/e", "Permanent": "maybe"},
        ]}))
        .unwrap_err();
        assert!(
            message.starts_with("the `Users` list has 5 invalid entries, so nothing was set"),
            "{message}"
        );
        for expected in [
            "Users[1].Username is required but missing",
            "Users[2]: no password reference",
            "Users[3] must be an object, got a string",
            "Users[4].Username: `a` is also Users[0]",
            "Users[5].Permanent must be true or false",
        ] {
            assert!(message.contains(expected), "{expected}: {message}");
        }
    }

    #[test]
    fn the_list_itself_is_checked() {
        let one = json!([{"Username": "a", "PasswordSecretId": "s"}]);
        let plaintext =
            many(json!({"UserPoolId": "us-east-1_A", "Password": "Hunter2-Hunter2!", "Users": one}))
                .unwrap_err();
        assert!(plaintext.contains("property `Password` is refused") && !plaintext.contains("Hunter2"));
        assert!(
            many(json!({"UserPoolId": "us-east-1_A", "PasswordSecretVersionStage": "AWSPREVIOUS", "Users": one}))
                .unwrap_err()
                .starts_with("property `PasswordSecretVersionStage` cannot be given beside `Users`")
        );
        assert!(
            many(json!({"UserPoolId": "us-east-1_A", "Users": []}))
                .unwrap_err()
                .contains("1 to 1000 users, got 0")
        );
        let big: Vec<Value> = (0..1001)
            .map(|i| json!({"Username": format!("u{i}"), "PasswordSecretId": "s"}))
            .collect();
        assert!(
            many(json!({"UserPoolId": "us-east-1_A", "Users": big}))
                .unwrap_err()
                .contains("got 1001")
        );
        assert!(
            many(json!({"UserPoolId": "us-east-1_A", "Users": {}}))
                .unwrap_err()
                .contains("must be a list")
        );
        assert!(
            many(json!({"UserPoolId": "us-east-1_A", "Username": "x", "Users": [{"Username": "a", "PasswordSecretId": "s"}]}))
                .unwrap_err()
                .contains("cannot be given beside `Users`")
        );
        for bad in [json!(0), json!("-1"), json!("fast"), json!(20000), json!("1e-20")] {
            let message = many(json!({"UserPoolId": "us-east-1_A", "MaxCallsPerSecond": bad,
                "Users": [{"Username": "a", "PasswordSecretId": "s"}]}))
            .unwrap_err();
            assert!(
                message.starts_with("property `MaxCallsPerSecond` must be a number"),
                "{message}"
            );
        }
    }
}
