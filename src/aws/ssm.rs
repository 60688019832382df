//! SSM Parameter Store: reading a password's SecureString parameter, decrypted, and its tags.

use aws_sdk_ssm::Client;
use aws_sdk_ssm::operation::get_parameter::GetParameterError;
use aws_sdk_ssm::operation::list_tags_for_resource::ListTagsForResourceError;
use aws_sdk_ssm::types::{ParameterType, ResourceTypeForTagging};
use secrecy::SecretString;

use crate::error::{AwsCall, Error};

/// `GetParameter`, as IAM names it, on parameter `name`.
pub fn read_call(name: &str) -> AwsCall {
    AwsCall {
        action: "ssm:GetParameter",
        resource: name.to_owned(),
    }
}

/// The value of tag `key` of the parameter named `name` (a name, not an ARN or a selector).
pub async fn tag(client: &Client, name: &str, key: &str) -> Result<Option<String>, Error> {
    let call = AwsCall {
        action: "ssm:ListTagsForResource",
        resource: name.to_owned(),
    };
    let output = client
        .list_tags_for_resource()
        .resource_type(ResourceTypeForTagging::Parameter)
        .resource_id(name)
        .send()
        .await
        .map_err(|err| match err.as_service_error() {
            Some(ListTagsForResourceError::InvalidResourceId(_)) => Error::NotFound {
                source_name: format!("SSM parameter `{name}`"),
                call: call.clone(),
                hint: "",
            },
            _ => Error::from_sdk(err, call.clone()),
        })?;
    Ok(output
        .tag_list
        .unwrap_or_default()
        .into_iter()
        .find(|tag| tag.key == key)
        .map(|tag| tag.value))
}

/// The parameter's value, decrypted; a StringList is refused, and a plain String is used with a
/// warning. Every error names the parameter, never the value.
pub async fn read_parameter(client: &Client, name: &str) -> Result<SecretString, Error> {
    let source_name = || format!("SSM parameter `{name}`");
    let output = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|err| match err.as_service_error() {
            Some(
                GetParameterError::ParameterNotFound(_) | GetParameterError::ParameterVersionNotFound(_),
            ) => Error::NotFound {
                source_name: source_name(),
                call: read_call(name),
                hint: "",
            },
            Some(GetParameterError::InvalidKeyId(_)) => Error::AccessDenied {
                call: AwsCall {
                    action: "kms:Decrypt",
                    resource: format!("the KMS key of parameter {name}"),
                },
                detail: "SSM could not decrypt the SecureString".into(),
            },
            _ => Error::from_sdk(err, read_call(name)),
        })?;
    let parameter = output.parameter.ok_or_else(|| Error::UnusableSecret {
        source_name: source_name(),
        problem: "SSM returned no parameter".into(),
    })?;
    match parameter.r#type {
        Some(ParameterType::StringList) => {
            return Err(Error::UnusableSecret {
                source_name: source_name(),
                problem: "it is a StringList; store the password as a SecureString".into(),
            });
        }
        Some(ParameterType::String) => tracing::warn!(
            parameter = %name,
            "the password parameter is a plain String, stored unencrypted; store it as a SecureString"
        ),
        _ => {}
    }
    Ok(SecretString::from(parameter.value.unwrap_or_default()))
}
