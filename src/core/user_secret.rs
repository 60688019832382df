//! The JSON secret that a rotated or synced user's password lives in: `UserPoolId`, `Username`,
//! `password`, an optional `ClientId` for the sign-in test, and any other keys, which are carried
//! over unchanged to a new version. Its `Debug` shows names only: the other keys may hold
//! credentials too.

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use crate::core::fields::{check_user_pool_id, check_username, list_keys, type_name};
use crate::core::password::DEFAULT_JSON_KEY;
use crate::error::Error;

pub use crate::core::fields::{CLIENT_ID, USER_POOL_ID, USERNAME};

/// One version of a user's secret, parsed.
pub struct UserSecret {
    pub user_pool_id: String,
    pub username: String,
    pub client_id: Option<String>,
    pub password: SecretString,
    /// Every other key, as stored.
    others: Map<String, Value>,
}

impl std::fmt::Debug for UserSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSecret")
            .field("user_pool_id", &self.user_pool_id)
            .field("username", &self.username)
            .field("client_id", &self.client_id)
            .field("password", &"[REDACTED]")
            .field("other_keys", &list_keys(&self.others))
            .finish()
    }
}

/// What a secret version holds, for the sync: a user's secret, or a value that names no user
/// (a plain password, or a JSON object without `UserPoolId` and `Username`).
pub enum Parsed {
    User(UserSecret),
    NoUser,
}

impl UserSecret {
    /// Parses a version that must name a user (rotation).
    pub fn parse(source_name: &str, value: SecretString) -> Result<Self, Error> {
        match Self::parse_any(source_name, value)? {
            Parsed::User(secret) => Ok(secret),
            Parsed::NoUser => Err(unusable(
                source_name,
                "it is not a JSON object with `UserPoolId`, `Username` and `password`".into(),
            )),
        }
    }

    /// Parses a version that may name no user at all; a version that names one must do so fully.
    pub fn parse_any(source_name: &str, value: SecretString) -> Result<Parsed, Error> {
        let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(value.expose_secret()) else {
            return Ok(Parsed::NoUser);
        };
        if !object.contains_key(USER_POOL_ID) && !object.contains_key(USERNAME) {
            return Ok(Parsed::NoUser);
        }
        let mut take = |key: &'static str, required: bool| -> Result<Option<String>, Error> {
            match object.remove(key) {
                Some(Value::String(text)) if !text.is_empty() => Ok(Some(text)),
                None | Some(Value::Null) if !required => Ok(None),
                None => Err(unusable(
                    source_name,
                    format!(
                        "the key `{key}` is missing (keys present: {})",
                        list_keys(&object)
                    ),
                )),
                Some(Value::String(_)) => Err(unusable(source_name, format!("the key `{key}` is empty"))),
                Some(other) => Err(unusable(
                    source_name,
                    format!(
                        "the key `{key}` must hold a non-empty string, not {}",
                        type_name(&other)
                    ),
                )),
            }
        };
        let user_pool_id = take(USER_POOL_ID, true)?.unwrap_or_default();
        let username = take(USERNAME, true)?.unwrap_or_default();
        let client_id = take(CLIENT_ID, false)?;
        let password = take(DEFAULT_JSON_KEY, true)?
            .map(SecretString::from)
            .unwrap_or_default();
        // The same rules as the properties of a request, named as the keys of the secret.
        for check in [check_user_pool_id(&user_pool_id), check_username(&username)] {
            if let Err(Error::InvalidProperty { field, problem }) = check {
                return Err(unusable(source_name, format!("the key `{field}` {problem}")));
            }
        }
        Ok(Parsed::User(UserSecret {
            user_pool_id,
            username,
            client_id,
            password,
            others: object,
        }))
    }

    /// A version that names no user (a plain password) of a secret bound to this user.
    pub fn of_bound_user(user_pool_id: String, username: String, password: SecretString) -> Self {
        UserSecret {
            user_pool_id,
            username,
            client_id: None,
            password,
            others: Map::new(),
        }
    }

    /// The same secret with another password: the JSON to store as a new version.
    pub fn with_password(&self, password: &SecretString) -> SecretString {
        let mut object = self.others.clone();
        object.insert(USER_POOL_ID.into(), Value::String(self.user_pool_id.clone()));
        object.insert(USERNAME.into(), Value::String(self.username.clone()));
        if let Some(client_id) = &self.client_id {
            object.insert(CLIENT_ID.into(), Value::String(client_id.clone()));
        }
        object.insert(
            DEFAULT_JSON_KEY.into(),
            Value::String(password.expose_secret().to_owned()),
        );
        SecretString::from(Value::Object(object).to_string())
    }

    /// Whether two versions name the same user: a secret sets the password of one user only.
    pub fn same_user(&self, other: &UserSecret) -> bool {
        self.user_pool_id == other.user_pool_id && self.username == other.username
    }

    /// `user `alice` in user pool `us-east-1_X``, for messages.
    pub fn who(&self) -> String {
        format!("user `{}` in user pool `{}`", self.username, self.user_pool_id)
    }
}

/// What is wrong is a fact about the value (keys present, types): the log holds it, the answer
/// states the shape expected.
fn unusable(source_name: &str, problem: String) -> Error {
    Error::UnusableValue {
        source_name: source_name.to_owned(),
        problem: "it is not a user's secret: a JSON object with `UserPoolId`, `Username` and `password` \
                  strings, and optionally `ClientId`"
            .into(),
        facts: problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<UserSecret, String> {
        UserSecret::parse("secret `s`", SecretString::from(value.to_string())).map_err(|e| e.for_log())
    }

    #[test]
    fn other_keys_are_carried_over_to_a_new_version() {
        let secret = parse(json!({"UserPoolId": "us-east-1_A", "Username": "alice",
            "password": "Old-Passw0rd!", "ClientId": "c1", "note": {"owner": "ops"}, "n": 3}))
        .unwrap();
        assert_eq!(secret.client_id.as_deref(), Some("c1"));
        let new = secret.with_password(&SecretString::from("New-Passw0rd!".to_owned()));
        let new: Value = serde_json::from_str(new.expose_secret()).unwrap();
        assert_eq!(
            new,
            json!({"UserPoolId": "us-east-1_A", "Username": "alice", "password": "New-Passw0rd!",
                "ClientId": "c1", "note": {"owner": "ops"}, "n": 3})
        );
    }

    #[test]
    fn a_bad_user_secret_names_the_key_and_never_the_password() {
        let missing = parse(json!({"UserPoolId": "us-east-1_A", "password": "Sekret-9!"})).unwrap_err();
        assert!(missing.contains("the key `Username` is missing"), "{missing}");
        assert!(!missing.contains("Sekret-9!"));
        let bad_pool = parse(json!({"UserPoolId": "nope", "Username": "a", "password": "x"})).unwrap_err();
        assert!(
            bad_pool.contains("the key `UserPoolId` must look like"),
            "{bad_pool}"
        );
        let number = parse(json!({"UserPoolId": "us-east-1_A", "Username": "a", "password": 5})).unwrap_err();
        assert!(
            number.contains("`password` must hold a non-empty string, not a number"),
            "{number}"
        );
        assert!(parse(json!("plain")).unwrap_err().contains("not a JSON object"));
    }

    #[test]
    fn debug_shows_names_only() {
        let secret = parse(json!({"UserPoolId": "us-east-1_A", "Username": "alice",
            "password": "Sekret-9!", "api_key": "Other-Sekret"}))
        .unwrap();
        let debug = format!("{secret:?}");
        assert!(debug.contains("alice") && debug.contains("`api_key`"), "{debug}");
        assert!(!debug.contains("Sekret"), "{debug}");
    }

    #[test]
    fn a_value_that_names_no_user_is_told_apart() {
        for value in ["Plain-Passw0rd!", r#"{"password": "x"}"#] {
            let parsed = UserSecret::parse_any("s", SecretString::from(value.to_owned())).unwrap();
            assert!(matches!(parsed, Parsed::NoUser));
        }
    }
}
