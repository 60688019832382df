//! Secrets Manager: reading a password's secret (one, or many in a batch), and for rotation and
//! sync a secret's versions and their staging labels, reading a version, storing the pending one,
//! moving labels, and generating a password.

use std::collections::HashMap;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{AwsCall, Error};

pub const AWSCURRENT: &str = "AWSCURRENT";
pub const AWSPENDING: &str = "AWSPENDING";
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";
/// The function's own staging label: on the version whose password Cognito holds, put there
/// after each successful set. `describe-secret` shows drift at a glance: when it is not on the
/// same version as `AWSCURRENT`, Cognito does not hold the current password.
pub const COGNITO_LABEL: &str = "COGNITO_CURRENT";

/// A secret's rotation switch and the staging labels of each of its versions.
#[derive(Debug, Clone)]
pub struct Versions {
    pub rotation_enabled: bool,
    stages: HashMap<String, Vec<String>>,
    tags: Vec<(String, String)>,
}

impl Versions {
    /// The value of the secret's tag `key`.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn exists(&self, version_id: &str) -> bool {
        self.stages.contains_key(version_id)
    }

    pub fn has_label(&self, version_id: &str, label: &str) -> bool {
        self.stages
            .get(version_id)
            .is_some_and(|labels| labels.iter().any(|l| l == label))
    }

    /// A version other than `version_id` that carries `label`, if any: where to move it from.
    pub fn carrying_other_than(&self, label: &str, version_id: &str) -> Option<&str> {
        self.stages
            .iter()
            .find(|(id, labels)| *id != version_id && labels.iter().any(|l| l == label))
            .map(|(id, _)| id.as_str())
    }

    /// The version that carries `label`, if any (a label is on one version at most).
    pub fn carrying(&self, label: &str) -> Option<&str> {
        self.stages
            .iter()
            .find(|(_, labels)| labels.iter().any(|l| l == label))
            .map(|(id, _)| id.as_str())
    }
}

/// `GetSecretValue`, as IAM names it, on `secret_id`.
pub fn read_call(secret_id: &str) -> AwsCall {
    call("secretsmanager:GetSecretValue", secret_id)
}

fn call(action: &'static str, secret_id: &str) -> AwsCall {
    AwsCall {
        action,
        resource: secret_id.to_owned(),
    }
}

/// The SecretString of a password's secret, at the version given (else `AWSCURRENT`); every
/// error names the secret, never the value.
pub async fn read_password(
    client: &Client,
    secret_id: &str,
    version_stage: Option<&str>,
    version_id: Option<&str>,
) -> Result<SecretString, Error> {
    let call = read_call(secret_id);
    let source_name = || format!("Secrets Manager secret `{secret_id}`");
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .set_version_stage(version_stage.map(str::to_owned))
        .set_version_id(version_id.map(str::to_owned))
        .send()
        .await
        .map_err(|err| match err.as_service_error() {
            Some(GetSecretValueError::ResourceNotFoundException(_)) => Error::NotFound {
                source_name: source_name(),
                call: call.clone(),
                hint: if version_stage.is_some() || version_id.is_some() {
                    ", with the version stage or version id given"
                } else {
                    ""
                },
            },
            Some(GetSecretValueError::DecryptionFailure(_)) => decryption_failure(secret_id),
            _ => Error::from_sdk(err, call.clone()),
        })?;
    // The plaintext is moved into a SecretString as soon as the SDK hands it over.
    output
        .secret_string
        .map(SecretString::from)
        .ok_or_else(|| Error::UnusableSecret {
            source_name: source_name(),
            problem: "it has no SecretString (only SecretBinary); store the password as a string".into(),
        })
}

/// The current SecretString of each of `ids` (at most 20, as `BatchGetSecretValue` takes), keyed
/// by the id as given (a name or an ARN). A secret the answer leaves out is not in the map.
pub async fn read_current_batch(
    client: &Client,
    ids: &[&str],
) -> Result<HashMap<String, SecretString>, Error> {
    let output = client
        .batch_get_secret_value()
        .set_secret_id_list(Some(ids.iter().map(|id| id.to_string()).collect()))
        .send()
        .await
        .map_err(|err| Error::from_sdk(err, call("secretsmanager:BatchGetSecretValue", "*")))?;
    let mut values = HashMap::new();
    for value in output.secret_values.unwrap_or_default() {
        let Some(text) = value.secret_string else { continue };
        let text = SecretString::from(text);
        for id in ids {
            if value.name.as_deref() == Some(*id) || value.arn.as_deref() == Some(*id) {
                values.insert(id.to_string(), text.clone());
            }
        }
    }
    Ok(values)
}

fn decryption_failure(secret_id: &str) -> Error {
    Error::AccessDenied {
        call: AwsCall {
            action: "kms:Decrypt",
            resource: format!("the KMS key of secret {secret_id}"),
        },
        detail: "Secrets Manager could not decrypt the secret".into(),
    }
}

pub async fn describe(client: &Client, secret_id: &str) -> Result<Versions, Error> {
    let call = call("secretsmanager:DescribeSecret", secret_id);
    let output = client
        .describe_secret()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|err| match err.as_service_error() {
            Some(DescribeSecretError::ResourceNotFoundException(_)) => Error::NotFound {
                source_name: format!("Secrets Manager secret `{secret_id}`"),
                call: call.clone(),
                hint: "",
            },
            _ => Error::from_sdk(err, call.clone()),
        })?;
    Ok(Versions {
        rotation_enabled: output.rotation_enabled.unwrap_or(false),
        stages: output.version_ids_to_stages.unwrap_or_default(),
        tags: output
            .tags
            .unwrap_or_default()
            .into_iter()
            .filter_map(|tag| Some((tag.key?, tag.value.unwrap_or_default())))
            .collect(),
    })
}

/// Reads one version by id (and, to be sure it is still there, stage) or by stage alone; `None`
/// when there is no such version or it has no value yet. Always names the version: moto (and a
/// cache) may answer an unqualified read with an older version.
pub async fn read(
    client: &Client,
    secret_id: &str,
    version_id: Option<&str>,
    stage: Option<&str>,
) -> Result<Option<SecretString>, Error> {
    let call = call("secretsmanager:GetSecretValue", secret_id);
    let result = client
        .get_secret_value()
        .secret_id(secret_id)
        .set_version_id(version_id.map(str::to_owned))
        .set_version_stage(stage.map(str::to_owned))
        .send()
        .await;
    match result {
        Ok(output) => Ok(output.secret_string.map(SecretString::from)),
        Err(err) => match err.as_service_error() {
            Some(GetSecretValueError::ResourceNotFoundException(_)) => Ok(None),
            Some(GetSecretValueError::DecryptionFailure(_)) => Err(decryption_failure(secret_id)),
            _ => Err(Error::from_sdk(err, call)),
        },
    }
}

/// Stores `value` as version `token`, staged `AWSPENDING`. Repeating it with the same token and
/// value is accepted by Secrets Manager (the token is an idempotency token).
pub async fn put_pending(
    client: &Client,
    secret_id: &str,
    token: &str,
    value: &SecretString,
) -> Result<(), Error> {
    client
        .put_secret_value()
        .secret_id(secret_id)
        .client_request_token(token)
        .secret_string(value.expose_secret())
        .version_stages(AWSPENDING)
        .send()
        .await
        .map(|_| ())
        .map_err(|err| {
            Error::from_sdk(err, call("secretsmanager:PutSecretValue", secret_id))
                .scrubbed(value.expose_secret())
        })
}

/// Moves `label` to version `to`, taking it off `from` (the version that has it now, if any).
pub async fn move_label(
    client: &Client,
    secret_id: &str,
    label: &str,
    to: &str,
    from: Option<&str>,
) -> Result<(), Error> {
    client
        .update_secret_version_stage()
        .secret_id(secret_id)
        .version_stage(label)
        .move_to_version_id(to)
        .set_remove_from_version_id(from.filter(|from| *from != to).map(str::to_owned))
        .send()
        .await
        .map(|_| ())
        .map_err(|err| Error::from_sdk(err, call("secretsmanager:UpdateSecretVersionStage", secret_id)))
}

/// A new password of `length` characters with at least one upper- and lower-case letter, digit
/// and symbol, so that any pool policy of that length or less accepts it. Every symbol
/// `GetRandomPassword` uses (ASCII punctuation) is one Cognito accepts; spaces are left out,
/// since `AdminSetUserPassword` accepts no whitespace.
pub async fn random_password(client: &Client, length: u32) -> Result<SecretString, Error> {
    let call = AwsCall {
        action: "secretsmanager:GetRandomPassword",
        resource: "*".into(),
    };
    let output = client
        .get_random_password()
        .password_length(i64::from(length))
        .require_each_included_type(true)
        .include_space(false)
        .send()
        .await
        .map_err(|err| Error::from_sdk(err, call.clone()))?;
    output
        .random_password
        .map(SecretString::from)
        .ok_or_else(|| Error::Aws {
            call,
            detail: "the answer held no password".into(),
            retryable: true,
        })
}
