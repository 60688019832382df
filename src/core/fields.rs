//! How a property's value is named in a message (its type, a key list, a shortened text; never a
//! secret's value), and the checks that a request's and a user secret's pool id and username share.

use serde_json::{Map, Value};

use crate::error::Error;

/// The keys of a user's secret that name its user: never a password.
pub const USER_POOL_ID: &str = "UserPoolId";
pub const USERNAME: &str = "Username";
pub const CLIENT_ID: &str = "ClientId";

/// The properties that name where a password comes from: the only ones whose names may say
/// "password".
pub const REFERENCE_KEYS: [&str; 5] = [
    "PasswordSecretId",
    "PasswordParameterName",
    "PasswordSecretJsonKey",
    "PasswordSecretVersionStage",
    "PasswordSecretVersionId",
];

/// The first property whose name says it holds a password (`Password`, `password`,
/// `TemporaryPassword`: any that contains "password" in any case), other than the references (in
/// any case, so that a misspelt `PasswordSecretID` is named as a misspelling, not as a password).
pub fn plaintext_key(map: &Map<String, Value>) -> Option<&str> {
    map.keys().map(String::as_str).find(|key| {
        key.to_lowercase().contains("password")
            && !REFERENCE_KEYS
                .iter()
                .any(|reference| reference.eq_ignore_ascii_case(key))
    })
}

/// A JSON value's type, for messages: never the value.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Names of a JSON object's keys for a message: sorted, each at most 64 characters, at most 20
/// of them. Keys, never values.
pub fn list_keys(map: &Map<String, Value>) -> String {
    const MAX_KEYS: usize = 20;
    if map.is_empty() {
        return "none".into();
    }
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    let mut listed: Vec<String> = keys
        .iter()
        .take(MAX_KEYS)
        .map(|k| format!("`{}`", truncate_chars(k, 64)))
        .collect();
    if keys.len() > MAX_KEYS {
        listed.push(format!("and {} more", keys.len() - MAX_KEYS));
    }
    listed.join(", ")
}

/// `text`, cut after `max` characters with an ellipsis.
pub fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Cognito's pattern for a user pool id: `[\w-]+_[0-9a-zA-Z]+`, 1–55 characters.
pub fn check_user_pool_id(id: &str) -> Result<(), Error> {
    let problem = || {
        Error::invalid(
            "UserPoolId",
            format!(
                "must look like `us-east-1_AbC123xyz` (region, underscore, letters and digits; at most 55 \
                 characters), got `{}`",
                truncate_chars(id, 64)
            ),
        )
    };
    if id.len() > 55
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(problem());
    }
    match id.rfind('_') {
        Some(at)
            if at > 0 && at + 1 < id.len() && id[at + 1..].chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            Ok(())
        }
        _ => Err(problem()),
    }
}

/// Cognito allows 1–128 characters of letters, marks, symbols, numbers and punctuation: no
/// whitespace and no control characters.
pub fn check_username(username: &str) -> Result<(), Error> {
    let chars = username.chars().count();
    if chars > 128 {
        return Err(Error::invalid(
            "Username",
            format!("must be 1 to 128 characters long, got {chars}"),
        ));
    }
    if let Some(bad) = username.chars().find(|c| c.is_whitespace()) {
        return Err(Error::invalid(
            "Username",
            format!("must not contain whitespace (found U+{:04X})", bad as u32),
        ));
    }
    Ok(())
}
