//! One request, validated: the properties of any way in (a CloudFormation resource, an
//! EventBridge `detail`, a direct call, an SQS message) become a [`SetPasswordRequest`], or an
//! error that names the property and what was expected.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::core::fields::{
    check_user_pool_id, check_username, list_keys, plaintext_key, truncate_chars, type_name,
};
use crate::core::password::PasswordRef;
use crate::core::user_wait;
use crate::error::Error;

/// A validated request: which user, which password reference, and how to set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetPasswordRequest {
    pub user_pool_id: String,
    pub username: String,
    pub password: PasswordRef,
    pub permanent: bool,
    /// How long to wait for a user that does not exist yet (`WaitForUserSeconds`).
    pub wait_for_user: Duration,
}

/// The property names of the contract, as they appear in every shape. Fields are raw JSON so that
/// each wrong type gets a message naming its property (serde's own would not).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawProperties {
    user_pool_id: Option<Value>,
    username: Option<Value>,
    password_secret_id: Option<Value>,
    password_parameter_name: Option<Value>,
    password_secret_json_key: Option<Value>,
    password_secret_version_stage: Option<Value>,
    password_secret_version_id: Option<Value>,
    permanent: Option<Value>,
    wait_for_user_seconds: Option<Value>,
}

impl SetPasswordRequest {
    /// Validates the properties of any shape. Unknown properties are ignored (CloudFormation adds
    /// `ServiceToken`, and templates add dummy properties to force an Update), but they are listed
    /// when a required one is missing, so a misspelt name is easy to spot.
    pub fn from_properties(properties: &Value) -> Result<Self, Error> {
        let Value::Object(map) = properties else {
            return Err(Error::UnrecognisedEvent(format!(
                "the properties must be a JSON object, got {}",
                type_name(properties)
            )));
        };
        let raw: RawProperties = serde_json::from_value(Value::Object(map.clone())).unwrap_or_default();
        if let Some(key) = plaintext_key(map) {
            return Err(Error::PlaintextPassword { key: key.to_owned() });
        }

        let user_pool_id = required_string(&raw.user_pool_id, "UserPoolId", map)?;
        check_user_pool_id(&user_pool_id)?;
        let username = required_string(&raw.username, "Username", map)?;
        check_username(&username)?;

        let secret_id = optional_string(&raw.password_secret_id, "PasswordSecretId", 1, 2048)?;
        let parameter_name = optional_string(&raw.password_parameter_name, "PasswordParameterName", 1, 2048)?;
        let json_key = optional_string(&raw.password_secret_json_key, "PasswordSecretJsonKey", 1, 1024)?;
        let version_stage = optional_string(
            &raw.password_secret_version_stage,
            "PasswordSecretVersionStage",
            1,
            256,
        )?;
        let version_id = optional_string(&raw.password_secret_version_id, "PasswordSecretVersionId", 32, 64)?;

        let password = match (secret_id, parameter_name) {
            (Some(_), Some(_)) => return Err(Error::TwoPasswordSources),
            (None, None) => {
                return Err(Error::NoPasswordSource {
                    present: list_keys(map),
                });
            }
            (Some(secret_id), None) => PasswordRef::Secret {
                secret_id,
                json_key,
                version_stage,
                version_id,
            },
            (None, Some(name)) => {
                for (field, given) in [
                    ("PasswordSecretJsonKey", json_key.is_some()),
                    ("PasswordSecretVersionStage", version_stage.is_some()),
                    ("PasswordSecretVersionId", version_id.is_some()),
                ] {
                    if given {
                        return Err(Error::invalid(
                            field,
                            "applies only to a Secrets Manager secret (`PasswordSecretId`), not to \
                             `PasswordParameterName`; remove it",
                        ));
                    }
                }
                PasswordRef::Parameter { name }
            }
        };

        Ok(SetPasswordRequest {
            user_pool_id,
            username,
            password,
            permanent: parse_permanent(&raw.permanent)?,
            wait_for_user: parse_wait(&raw.wait_for_user_seconds)?,
        })
    }

    /// The CloudFormation physical id: a function of pool and user only, so that an Update that
    /// changes only the password reference keeps the resource, and one that changes the user
    /// replaces it. Pool ids cannot hold `/`, so the first one separates the two.
    pub fn physical_resource_id(&self) -> String {
        format!("{}/{}", self.user_pool_id, self.username)
    }
}

fn required_string(
    value: &Option<Value>,
    field: &'static str,
    map: &Map<String, Value>,
) -> Result<String, Error> {
    match value {
        None | Some(Value::Null) => Err(Error::invalid(
            field,
            format!("is required but missing (properties present: {})", list_keys(map)),
        )),
        Some(_) => Ok(optional_string(value, field, 1, usize::MAX)?.unwrap_or_default()),
    }
}

fn optional_string(
    value: &Option<Value>,
    field: &'static str,
    min: usize,
    max: usize,
) -> Result<Option<String>, Error> {
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) => text,
        Some(other) => {
            return Err(Error::invalid(
                field,
                format!("must be a string, got {}", type_name(other)),
            ));
        }
    };
    let chars = text.chars().count();
    if chars < min || chars > max {
        let expected = if max == usize::MAX {
            format!("at least {min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(Error::invalid(
            field,
            format!("must be {expected} characters long, got {chars}"),
        ));
    }
    if let Some(bad) = text.chars().find(|c| c.is_control()) {
        return Err(Error::invalid(
            field,
            format!("must not contain control characters (found U+{:04X})", bad as u32),
        ));
    }
    Ok(Some(text.clone()))
}

/// A whole number of seconds, 0 to 900; CloudFormation passes it as a string.
fn parse_wait(value: &Option<Value>) -> Result<Duration, Error> {
    let seconds = match value {
        None | Some(Value::Null) => return Ok(user_wait::DEFAULT_WAIT),
        Some(Value::Number(number)) => number.as_u64(),
        Some(Value::String(text)) => text.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    match seconds {
        Some(seconds) if seconds <= user_wait::MAX_WAIT_SECONDS => Ok(Duration::from_secs(seconds)),
        _ => Err(Error::invalid(
            "WaitForUserSeconds",
            format!(
                "must be a whole number of seconds from 0 to {}, got {}",
                user_wait::MAX_WAIT_SECONDS,
                match value {
                    Some(Value::String(text)) => format!("\"{}\"", truncate_chars(text, 32)),
                    Some(Value::Number(number)) => number.to_string(),
                    Some(other) => type_name(other).to_owned(),
                    None => "nothing".into(),
                }
            ),
        )),
    }
}

/// CloudFormation passes every property as a string, so `"true"` / `"false"` count as booleans.
fn parse_permanent(value: &Option<Value>) -> Result<bool, Error> {
    match value {
        None | Some(Value::Null) => Ok(true),
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(Error::invalid(
            "Permanent",
            format!(
                "must be true or false (a JSON boolean, or the string \"true\" or \"false\"), got {}",
                match other {
                    Value::String(text) => format!("\"{}\"", truncate_chars(text, 32)),
                    other => type_name(other).to_owned(),
                }
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(extra: Value) -> Value {
        let mut base =
            json!({"UserPoolId": "us-east-1_Abc123", "Username": "alice", "PasswordSecretId": "app/alice"});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                base.as_object_mut().unwrap().remove(k);
            } else {
                base[k] = v.clone();
            }
        }
        base
    }

    fn err(properties: Value) -> String {
        SetPasswordRequest::from_properties(&properties)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn minimal_secret_reference_defaults_to_permanent() {
        let request = SetPasswordRequest::from_properties(&props(json!({}))).unwrap();
        assert_eq!(
            request,
            SetPasswordRequest {
                user_pool_id: "us-east-1_Abc123".into(),
                username: "alice".into(),
                password: PasswordRef::Secret {
                    secret_id: "app/alice".into(),
                    json_key: None,
                    version_stage: None,
                    version_id: None
                },
                permanent: true,
                wait_for_user: Duration::from_secs(30),
            }
        );
        assert_eq!(request.physical_resource_id(), "us-east-1_Abc123/alice");
    }

    #[test]
    fn permanent_accepts_booleans_and_cloudformation_strings() {
        for (given, expected) in [
            (json!(true), true),
            (json!(false), false),
            (json!("true"), true),
            (json!("false"), false),
            (json!("False"), false),
        ] {
            let request = SetPasswordRequest::from_properties(&props(json!({ "Permanent": given }))).unwrap();
            assert_eq!(request.permanent, expected, "Permanent = {given}");
        }
        assert!(
            err(props(json!({"Permanent": "yes"}))).contains("property `Permanent` must be true or false")
        );
        assert!(err(props(json!({"Permanent": 1}))).contains("got a number"));
    }

    #[test]
    fn wait_for_user_seconds_is_a_whole_number_up_to_900() {
        for (given, seconds) in [
            (json!(0), 0),
            (json!("0"), 0),
            (json!(900), 900),
            (json!("45"), 45),
        ] {
            let request =
                SetPasswordRequest::from_properties(&props(json!({ "WaitForUserSeconds": given }))).unwrap();
            assert_eq!(request.wait_for_user, Duration::from_secs(seconds), "{given}");
        }
        for (given, shown) in [
            (json!(901), "got 901"),
            (json!(-1), "got -1"),
            (json!(1.5), "got 1.5"),
            (json!("soon"), "got \"soon\""),
            (json!(true), "got a boolean"),
        ] {
            let message = err(props(json!({ "WaitForUserSeconds": given })));
            assert!(
                message.starts_with(
                    "property `WaitForUserSeconds` must be a whole number of seconds from 0 to 900"
                ),
                "{message}"
            );
            assert!(message.ends_with(shown), "{message}");
        }
    }

    #[test]
    fn parameter_reference_and_secret_options() {
        let request = SetPasswordRequest::from_properties(&props(
            json!({"PasswordSecretId": null, "PasswordParameterName": "/app/alice"}),
        ))
        .unwrap();
        assert_eq!(
            request.password,
            PasswordRef::Parameter {
                name: "/app/alice".into()
            }
        );

        let request = SetPasswordRequest::from_properties(&props(json!({
            "PasswordSecretJsonKey": "pw", "PasswordSecretVersionStage": "AWSPREVIOUS",
            "PasswordSecretVersionId": "0123456789abcdef0123456789abcdef"
        })))
        .unwrap();
        assert_eq!(
            request.password,
            PasswordRef::Secret {
                secret_id: "app/alice".into(),
                json_key: Some("pw".into()),
                version_stage: Some("AWSPREVIOUS".into()),
                version_id: Some("0123456789abcdef0123456789abcdef".into()),
            }
        );
    }

    #[test]
    fn secret_options_are_refused_with_a_parameter() {
        let message = err(props(
            json!({"PasswordSecretId": null, "PasswordParameterName": "/p", "PasswordSecretJsonKey": "pw"}),
        ));
        assert!(
            message.starts_with("property `PasswordSecretJsonKey` applies only to a Secrets Manager secret")
        );
    }

    #[test]
    fn plaintext_password_is_refused_without_echoing_it() {
        let message = err(props(json!({"Password": "Hunter2-Hunter2!"})));
        assert!(message.contains("property `Password` is refused"));
        assert!(message.contains("Secrets Manager"));
        assert!(!message.contains("Hunter2"));
    }

    #[test]
    fn both_or_neither_password_source() {
        let both = err(props(json!({"PasswordParameterName": "/p"})));
        assert!(both.contains("`PasswordSecretId`") && both.contains("`PasswordParameterName`"));
        assert!(both.contains("give exactly one"));
        let neither = err(props(
            json!({"PasswordSecretId": null, "PasswordSecretID": "typo"}),
        ));
        assert!(neither.contains("no password reference"));
        assert!(
            neither.contains("`PasswordSecretID`"),
            "lists the misspelt property: {neither}"
        );
    }

    #[test]
    fn required_properties_name_the_field() {
        assert!(
            err(props(json!({"UserPoolId": null})))
                .starts_with("property `UserPoolId` is required but missing")
        );
        assert!(
            err(props(json!({"Username": null}))).starts_with("property `Username` is required but missing")
        );
        assert_eq!(
            err(props(json!({"Username": 42}))),
            "property `Username` must be a string, got a number"
        );
        assert!(
            err(props(json!({"Username": ""})))
                .starts_with("property `Username` must be at least 1 characters")
        );
        assert!(err(props(json!({"Username": "a b"}))).contains("must not contain whitespace"));
        assert!(
            err(props(json!({"Username": "x".repeat(129)})))
                .contains("must be 1 to 128 characters long, got 129")
        );
        assert!(err(props(json!({"Username": "tab\u{7}"}))).contains("control characters"));
        assert!(
            err(props(json!({"PasswordSecretId": ""})))
                .starts_with("property `PasswordSecretId` must be 1 to 2048")
        );
    }

    #[test]
    fn unicode_usernames_are_accepted() {
        let request =
            SetPasswordRequest::from_properties(&props(json!({"Username": "zoë.ñandú@例え"}))).unwrap();
        assert_eq!(request.username, "zoë.ñandú@例え");
        let long = "é".repeat(128);
        assert!(SetPasswordRequest::from_properties(&props(json!({ "Username": long }))).is_ok());
    }

    #[test]
    fn user_pool_id_follows_cognitos_pattern() {
        for good in [
            "us-east-1_Abc123",
            "eu-west-2_x",
            "a_b",
            "us-east-1_795f10ba1c5245ebb700dff54c3e8320",
        ] {
            assert!(
                SetPasswordRequest::from_properties(&props(json!({ "UserPoolId": good }))).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "",
            "nounderscore",
            "_abc",
            "us-east-1_",
            "us-east-1_ab-c",
            "us east_1",
            &format!("a_{}", "b".repeat(54)),
        ] {
            let message = err(props(json!({ "UserPoolId": bad })));
            assert!(
                message.starts_with("property `UserPoolId` must"),
                "{bad}: {message}"
            );
        }
    }
}
