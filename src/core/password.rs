//! Where the password comes from ([`PasswordRef`]: a Secrets Manager secret or an SSM parameter)
//! and resolving it into a redacted value that is never formatted and is wiped when dropped: a
//! JSON secret yields the value under its password key.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::aws::regions::SecretStores;
use crate::aws::{secrets, ssm};
use crate::core::fields::{CLIENT_ID, USER_POOL_ID, USERNAME, list_keys, type_name};
use crate::error::{AwsCall, Error};

/// The key read from a JSON secret when `PasswordSecretJsonKey` is not given.
pub const DEFAULT_JSON_KEY: &str = "password";

/// A reference to a password; never the password itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordRef {
    Secret {
        secret_id: String,
        json_key: Option<String>,
        version_stage: Option<String>,
        version_id: Option<String>,
    },
    Parameter {
        name: String,
    },
}

impl std::fmt::Display for PasswordRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PasswordRef::Secret { secret_id, .. } => {
                write!(f, "Secrets Manager secret `{secret_id}`")
            }
            PasswordRef::Parameter { name } => write!(f, "SSM parameter `{name}`"),
        }
    }
}

impl PasswordRef {
    /// Where the value comes from, key and version included, for messages about the value.
    pub fn source_name(&self) -> String {
        match self {
            PasswordRef::Secret {
                json_key,
                version_stage,
                version_id,
                ..
            } => {
                let mut name = self.to_string();
                if let Some(key) = json_key {
                    name.push_str(&format!(" (key `{key}`)"));
                }
                if let Some(version) = version_id.as_ref().or(version_stage.as_ref()) {
                    name.push_str(&format!(" (version `{version}`)"));
                }
                name
            }
            PasswordRef::Parameter { .. } => self.to_string(),
        }
    }

    /// The secret's or parameter's name or ARN.
    pub fn id(&self) -> &str {
        match self {
            PasswordRef::Secret { secret_id, .. } => secret_id,
            PasswordRef::Parameter { name } => name,
        }
    }

    /// The call that reads this reference, as IAM names it.
    pub fn call(&self) -> AwsCall {
        match self {
            PasswordRef::Secret { secret_id, .. } => secrets::read_call(secret_id),
            PasswordRef::Parameter { name } => ssm::read_call(name),
        }
    }

    /// Reads the referenced value into a redacted [`SecretString`] for `user` (pool id and
    /// username: a JSON secret that names a user must name this one); every error names the
    /// reference, never the value.
    pub async fn resolve(&self, stores: &SecretStores, user: (&str, &str)) -> Result<SecretString, Error> {
        match self {
            PasswordRef::Secret {
                secret_id,
                json_key,
                version_stage,
                version_id,
            } => {
                let value = secrets::read_password(
                    &stores.secrets_manager,
                    secret_id,
                    version_stage.as_deref(),
                    version_id.as_deref(),
                )
                .await?;
                select_from_secret(secret_id, value, json_key.as_deref(), user)
            }
            PasswordRef::Parameter { name } => non_empty(ssm::read_parameter(&stores.ssm, name).await?, self),
        }
    }
}

/// A plain SecretString is the password; a JSON object yields the value under `json_key` (or
/// [`DEFAULT_JSON_KEY`]). A password that merely starts with `{` but is not a JSON object is
/// taken as it is. A user's secret (one with `UserPoolId` or `Username`) yields a password only
/// for the user it names, and only from its password key: the keys that name a user or an app
/// client are public, and are never read as a password.
pub fn select_from_secret(
    secret_id: &str,
    value: SecretString,
    json_key: Option<&str>,
    (user_pool_id, username): (&str, &str),
) -> Result<SecretString, Error> {
    let source = || PasswordRef::Secret {
        secret_id: secret_id.to_owned(),
        json_key: None,
        version_stage: None,
        version_id: None,
    };
    let parsed = match serde_json::from_str::<Value>(value.expose_secret()) {
        Ok(Value::Object(object)) => Some(object),
        _ => None,
    };
    let Some(mut object) = parsed else {
        if let Some(key) = json_key {
            return Err(Error::UnusableValue {
                source_name: source().to_string(),
                problem: format!("no password could be read under `PasswordSecretJsonKey` `{key}`"),
                facts: "the SecretString is not a JSON object; remove `PasswordSecretJsonKey` or store a \
                        JSON object"
                    .into(),
            });
        }
        return non_empty(value, &source());
    };
    let key = json_key.unwrap_or(DEFAULT_JSON_KEY);
    if [USER_POOL_ID, USERNAME, CLIENT_ID]
        .iter()
        .any(|public| public.eq_ignore_ascii_case(key))
    {
        return Err(Error::UnusableSecret {
            source_name: source().to_string(),
            problem: format!(
                "`PasswordSecretJsonKey` is `{key}`, which names a user or an app client and is never \
                 read as a password; name the key that holds the password"
            ),
        });
    }
    // The invoker chooses the key: where the secret has a `password` key, only that one is a
    // password (another key of the user's own secret, an email say, may be known to anyone).
    if key != DEFAULT_JSON_KEY && object.contains_key(DEFAULT_JSON_KEY) {
        return Err(Error::UnusableValue {
            source_name: source().to_string(),
            problem: format!("no password could be read under `PasswordSecretJsonKey` `{key}`"),
            facts: format!(
                "it has a `{DEFAULT_JSON_KEY}` key, and then only that key is read as a password; leave \
                 out `PasswordSecretJsonKey`"
            ),
        });
    }
    if object.contains_key(USER_POOL_ID) || object.contains_key(USERNAME) {
        if key != DEFAULT_JSON_KEY {
            return Err(Error::UnusableValue {
                source_name: source().to_string(),
                problem: format!("no password could be read under `PasswordSecretJsonKey` `{key}`"),
                facts: format!(
                    "it is a user's secret (it has `{USER_POOL_ID}`/`{USERNAME}`), which yields a \
                     password only from its `{DEFAULT_JSON_KEY}` key; leave out `PasswordSecretJsonKey`"
                ),
            });
        }
        let named = |field: &str| {
            object
                .get(field)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (named_pool, named_user) = (named(USER_POOL_ID), named(USERNAME));
        if named_pool != user_pool_id || named_user != username {
            return Err(Error::BoundToAnother {
                source_name: source().to_string(),
                bound: format!("user `{named_user}` in user pool `{named_pool}` (the user its value names)"),
                requested: format!("user `{username}` in user pool `{user_pool_id}`"),
            });
        }
    }
    match object.remove(key) {
        Some(Value::String(password)) => non_empty(SecretString::from(password), &source()),
        Some(other) => Err(Error::UnusableValue {
            source_name: source().to_string(),
            problem: format!("the key `{key}` does not hold a password (a non-empty string)"),
            facts: format!("the key `{key}` holds {}, not a string", type_name(&other)),
        }),
        None => Err(Error::SecretKeyMissing {
            secret_id: secret_id.to_owned(),
            key: key.to_owned(),
            present: list_keys(&object),
        }),
    }
}

fn non_empty(value: SecretString, source: &PasswordRef) -> Result<SecretString, Error> {
    if value.expose_secret().is_empty() {
        return Err(Error::UnusableValue {
            source_name: source.to_string(),
            problem: "it holds no password".into(),
            facts: "the password is empty".into(),
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value, or the refusal as the log holds it (the answer leaves the facts out: see
    /// `the_answer_leaves_out_the_keys_present_and_the_types`).
    fn select(value: &str, key: Option<&str>) -> Result<String, String> {
        select_from_secret(
            "app/alice",
            SecretString::from(value.to_owned()),
            key,
            ("pool", "alice"),
        )
        .map(|s| s.expose_secret().to_owned())
        .map_err(|e| e.for_log())
    }

    #[test]
    fn the_answer_leaves_out_the_keys_present_and_the_types() {
        for (value, key) in [
            (r#"{"user":"a","pass":"Sekret-Value-9!"}"#, None),
            (r#"{"password": 12345678}"#, None),
            ("Plain-Value-9!", Some("pw")),
            (r#"{"password": ""}"#, None),
        ] {
            let err = select_from_secret(
                "app/alice",
                SecretString::from(value.to_owned()),
                key,
                ("pool", "alice"),
            )
            .unwrap_err();
            let answer = err.to_string();
            for fact in ["`pass`", "`user`", "a number", "not a JSON object", "is empty"] {
                assert!(!answer.contains(fact), "{fact} in {answer}");
            }
            assert!(answer.contains("the function's log for this request"), "{answer}");
            assert!(err.value_facts().is_some(), "{answer}");
        }
    }

    #[test]
    fn plain_secret_string_is_the_password() {
        assert_eq!(select("Plain-Pass-123!", None).unwrap(), "Plain-Pass-123!");
        assert_eq!(select("{not-json", None).unwrap(), "{not-json");
        assert_eq!(select("[1,2]", None).unwrap(), "[1,2]");
    }

    #[test]
    fn json_secret_yields_password_key_or_the_given_key() {
        assert_eq!(
            select(r#"{"username":"a","password":"Json-Pass-1!"}"#, None).unwrap(),
            "Json-Pass-1!"
        );
        assert_eq!(
            select(r#"{"pw":"Other-Key-1!","user":"x"}"#, Some("pw")).unwrap(),
            "Other-Key-1!"
        );
    }

    #[test]
    fn where_a_secret_has_a_password_key_no_other_key_is_a_password() {
        // The invoker chooses the key: another key of the user's own secret may be known.
        let message = select(
            r#"{"email":"admin@example.com","password":"Real-Pass-1!"}"#,
            Some("email"),
        )
        .unwrap_err();
        assert!(
            message.contains("only that key is read as a password"),
            "{message}"
        );
        for key in ["username", "USERPOOLID", "clientId"] {
            let message = select(
                r#"{"username":"admin","userpoolid":"p","clientid":"c"}"#,
                Some(key),
            )
            .unwrap_err();
            assert!(
                message.contains("is never read as a password"),
                "{key}: {message}"
            );
        }
    }

    #[test]
    fn missing_key_names_the_key_and_the_keys_present_but_no_value() {
        let message = select(r#"{"user":"Visible-Not!","pass":"Sekret-Value-9!"}"#, None).unwrap_err();
        assert!(message.contains("without the key `password`"), "{message}");
        assert!(message.contains("keys present: `pass`, `user`"), "{message}");
        assert!(message.contains("PasswordSecretJsonKey"));
        assert!(!message.contains("Sekret-Value-9!") && !message.contains("Visible-Not!"));
    }

    #[test]
    fn unusable_values_are_explained_without_the_value() {
        let message = select(r#"{"password": 12345678}"#, None).unwrap_err();
        assert!(
            message.contains("the key `password` holds a number, not a string"),
            "{message}"
        );
        assert!(!message.contains("12345678"));
        let message = select("Sekret-Value-9!", Some("pw")).unwrap_err();
        assert!(message.contains("is not a JSON object"), "{message}");
        assert!(!message.contains("Sekret-Value-9!"));
        assert!(select("", None).unwrap_err().contains("the password is empty"));
        assert!(
            select(r#"{"password": ""}"#, None)
                .unwrap_err()
                .contains("the password is empty")
        );
    }

    #[test]
    fn a_users_secret_yields_only_its_password_and_only_for_its_user() {
        let carol = r#"{"UserPoolId":"pool","Username":"carol","ClientId":"c1","password":"Carol-Pass-1!"}"#;
        // The public keys are never a password, whatever PasswordSecretJsonKey says.
        for key in ["UserPoolId", "Username", "ClientId"] {
            let message = select(carol, Some(key)).unwrap_err();
            assert!(message.contains("is never read as a password"), "{message}");
        }
        let message = select(
            r#"{"UserPoolId":"pool","Username":"alice","pw":"Other-1!"}"#,
            Some("pw"),
        )
        .unwrap_err();
        assert!(message.contains("only from its `password` key"), "{message}");
        // It sets the user it names, and no other.
        let message = select(carol, None).unwrap_err();
        assert!(
            message.contains("bound to user `carol` in user pool `pool`"),
            "{message}"
        );
        assert!(
            message.contains("not to user `alice` in user pool `pool`"),
            "{message}"
        );
        let alice = r#"{"UserPoolId":"pool","Username":"alice","password":"Alice-Pass-1!"}"#;
        assert_eq!(select(alice, None).unwrap(), "Alice-Pass-1!");
    }

    #[test]
    fn debug_of_the_resolved_value_is_redacted() {
        let secret = select_from_secret(
            "s",
            SecretString::from("Sekret-Value-9!".to_owned()),
            None,
            ("p", "u"),
        )
        .unwrap();
        assert!(!format!("{secret:?}").contains("Sekret"));
    }
}
