//! Cognito: `AdminSetUserPassword` and the mapping of its errors to messages a user can act on,
//! who a name means (`AdminGetUser`), and what rotation needs besides (the pool's password
//! policy). The test sign-in is [`sign_in`](super::sign_in).

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::operation::admin_get_user::AdminGetUserError;
use aws_sdk_cognitoidentityprovider::operation::admin_set_user_password::AdminSetUserPasswordError;
use aws_sdk_cognitoidentityprovider::operation::describe_user_pool::DescribeUserPoolError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{AwsCall, Error};

/// A password to set, with where it came from (for messages; never the value).
pub struct NewPassword<'a> {
    pub user_pool_id: &'a str,
    pub username: &'a str,
    pub password: &'a SecretString,
    /// Permanent (the user can sign in with it) or temporary (the user stays in
    /// FORCE_CHANGE_PASSWORD and must choose a new one at first sign-in).
    pub permanent: bool,
    /// Where the password came from: `Secrets Manager secret `x``.
    pub source: &'a str,
    /// The same with the key and version it was read from.
    pub source_detail: &'a str,
}

/// `AdminSetUserPassword`, its errors mapped to messages that say what to fix.
pub async fn set_password(client: &Client, new: &NewPassword<'_>) -> Result<(), Error> {
    let (user_pool_id, username, password) = (new.user_pool_id, new.username, new.password);
    client
        .admin_set_user_password()
        .user_pool_id(user_pool_id)
        .username(username)
        .password(password.expose_secret())
        .permanent(new.permanent)
        .send()
        .await
        .map(|_| ())
        .map_err(|err| match err.as_service_error() {
            Some(AdminSetUserPasswordError::UserNotFoundException(_)) => Error::UserNotFound {
                username: username.to_owned(),
                user_pool_id: user_pool_id.to_owned(),
            },
            Some(AdminSetUserPasswordError::ResourceNotFoundException(_)) => Error::UserPoolNotFound {
                user_pool_id: user_pool_id.to_owned(),
            },
            Some(AdminSetUserPasswordError::PasswordHistoryPolicyViolationException(_)) => {
                Error::PasswordReused {
                    source_name: new.source_detail.to_owned(),
                    user_pool_id: user_pool_id.to_owned(),
                }
            }
            Some(failure @ AdminSetUserPasswordError::InvalidPasswordException(_)) => {
                Error::PasswordPolicy {
                    source_name: new.source.to_owned(),
                    user_pool_id: user_pool_id.to_owned(),
                    // Cognito says which rule failed; keep that, but never risk echoing the value.
                    detail: scrub(failure.message().unwrap_or("rejected by the policy"), password),
                }
            }
            _ if err.code() == Some("OperationNotEnabledException") => Error::ReplicaRegion {
                user_pool_id: user_pool_id.to_owned(),
                region: client
                    .config()
                    .region()
                    .map_or_else(|| "?".to_owned(), |region| region.to_string()),
            },
            _ => Error::from_sdk(err, set_password_call(user_pool_id)).scrubbed(password.expose_secret()),
        })
}

/// The pool's minimum password length (`DescribeUserPool`'s `PasswordPolicy`).
pub async fn minimum_password_length(client: &Client, user_pool_id: &str) -> Result<u32, Error> {
    let output = client
        .describe_user_pool()
        .user_pool_id(user_pool_id)
        .send()
        .await
        .map_err(|err| match err.as_service_error() {
            Some(DescribeUserPoolError::ResourceNotFoundException(_)) => Error::UserPoolNotFound {
                user_pool_id: user_pool_id.to_owned(),
            },
            _ => Error::from_sdk(err, pool_call("cognito-idp:DescribeUserPool", user_pool_id)),
        })?;
    Ok(output
        .user_pool
        .and_then(|pool| pool.policies)
        .and_then(|policies| policies.password_policy)
        .and_then(|policy| policy.minimum_length)
        .map_or(0, |length| length.max(0) as u32))
}

/// Who a name means in a pool (`AdminGetUser`): the username as the pool stores it, the `sub`,
/// the status, and the addresses a pool that signs in by email or phone takes for a username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub username: String,
    pub sub: Option<String>,
    /// `CONFIRMED`, `FORCE_CHANGE_PASSWORD`, `EXTERNAL_PROVIDER`, ...
    pub status: String,
    pub email: Option<String>,
    pub phone_number: Option<String>,
}

/// The status of a federated user's profile: one who signs in through a third-party provider.
pub const EXTERNAL_PROVIDER: &str = "EXTERNAL_PROVIDER";

/// The user `username` (a username, an alias or a `sub`) means in the pool.
pub async fn identify(client: &Client, user_pool_id: &str, username: &str) -> Result<Identity, Error> {
    let output = get_user(client, user_pool_id, username).await?;
    let attributes = output.user_attributes.unwrap_or_default();
    let attribute = |name: &str| {
        attributes
            .iter()
            .find(|attribute| attribute.name == name)
            .and_then(|attribute| attribute.value.clone())
    };
    Ok(Identity {
        sub: attribute("sub"),
        email: attribute("email"),
        phone_number: attribute("phone_number"),
        status: output
            .user_status
            .map(|status| status.as_str().to_owned())
            .unwrap_or_else(|| "UNKNOWN".into()),
        username: output.username,
    })
}

/// `AdminGetUser`, as IAM names it, for messages and timeouts.
pub fn get_user_call(user_pool_id: &str) -> AwsCall {
    pool_call("cognito-idp:AdminGetUser", user_pool_id)
}

async fn get_user(
    client: &Client,
    user_pool_id: &str,
    username: &str,
) -> Result<aws_sdk_cognitoidentityprovider::operation::admin_get_user::AdminGetUserOutput, Error> {
    client
        .admin_get_user()
        .user_pool_id(user_pool_id)
        .username(username)
        .send()
        .await
        .map_err(|err| match err.as_service_error() {
            Some(AdminGetUserError::UserNotFoundException(_)) => Error::UserNotFound {
                username: username.to_owned(),
                user_pool_id: user_pool_id.to_owned(),
            },
            Some(AdminGetUserError::ResourceNotFoundException(_)) => Error::UserPoolNotFound {
                user_pool_id: user_pool_id.to_owned(),
            },
            _ => Error::from_sdk(err, get_user_call(user_pool_id)),
        })
}

pub(super) fn pool_call(action: &'static str, user_pool_id: &str) -> AwsCall {
    AwsCall {
        action,
        resource: user_pool_id.to_owned(),
    }
}

/// `AdminSetUserPassword`, as IAM names it, for messages and timeouts.
pub fn set_password_call(user_pool_id: &str) -> AwsCall {
    pool_call("cognito-idp:AdminSetUserPassword", user_pool_id)
}

pub(super) fn scrub(message: &str, password: &SecretString) -> String {
    if message.contains(password.expose_secret()) {
        "rejected by the policy".into()
    } else {
        message.to_owned()
    }
}
