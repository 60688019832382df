//! Cognito: `AdminSetUserPassword` and the mapping of its errors to messages a user can act on,
//! and what rotation needs besides (the pool's password policy, a test sign-in, a user's status).

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::operation::admin_get_user::AdminGetUserError;
use aws_sdk_cognitoidentityprovider::operation::admin_initiate_auth::AdminInitiateAuthError;
use aws_sdk_cognitoidentityprovider::operation::admin_set_user_password::AdminSetUserPasswordError;
use aws_sdk_cognitoidentityprovider::operation::describe_user_pool::DescribeUserPoolError;
use aws_sdk_cognitoidentityprovider::operation::describe_user_pool_client::DescribeUserPoolClientError;
use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ChallengeNameType};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

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

/// Whether the password works, as a sign-in through the app client `client_id` tells.
#[derive(Debug, PartialEq, Eq)]
pub enum SignIn {
    /// Tokens, or an MFA challenge: the password was accepted.
    Works,
    /// Why not, in Cognito's words (never the password).
    Refused(String),
}

/// Signs in with `ADMIN_USER_PASSWORD_AUTH`, with a `SECRET_HASH` when the app client has a secret.
pub async fn sign_in(
    client: &Client,
    user_pool_id: &str,
    client_id: &str,
    username: &str,
    password: &SecretString,
) -> Result<SignIn, Error> {
    let app_client = client
        .describe_user_pool_client()
        .user_pool_id(user_pool_id)
        .client_id(client_id)
        .send()
        .await
        .map_err(|err| match err.as_service_error() {
            Some(DescribeUserPoolClientError::ResourceNotFoundException(_)) => Error::UnusableSecret {
                source_name: format!("app client `{client_id}` of user pool `{user_pool_id}`"),
                problem: "it does not exist; correct `ClientId` in the secret, or remove it to check the user's status instead of signing in".into(),
            },
            _ => Error::from_sdk(err, pool_call("cognito-idp:DescribeUserPoolClient", user_pool_id)),
        })?;
    let client_secret = app_client
        .user_pool_client
        .and_then(|c| c.client_secret)
        .map(SecretString::from);
    let mut request = client
        .admin_initiate_auth()
        .user_pool_id(user_pool_id)
        .client_id(client_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", password.expose_secret());
    if let Some(client_secret) = &client_secret {
        request = request.auth_parameters("SECRET_HASH", secret_hash(client_secret, username, client_id));
    }
    match request.send().await {
        Ok(output) if output.authentication_result.is_some() => Ok(SignIn::Works),
        Ok(output) => Ok(match output.challenge_name {
            Some(
                ChallengeNameType::SmsMfa
                | ChallengeNameType::SoftwareTokenMfa
                | ChallengeNameType::MfaSetup
                | ChallengeNameType::SelectMfaType
                | ChallengeNameType::EmailOtp,
            ) => SignIn::Works,
            Some(ChallengeNameType::NewPasswordRequired) => SignIn::Refused(
                "Cognito asks for a new password (NEW_PASSWORD_REQUIRED): the password is temporary".into(),
            ),
            Some(other) => SignIn::Refused(format!("Cognito answered the challenge {}", other.as_str())),
            None => SignIn::Refused("Cognito answered neither tokens nor a challenge".into()),
        }),
        Err(err) => match err.as_service_error() {
            Some(AdminInitiateAuthError::NotAuthorizedException(e)) => Ok(SignIn::Refused(scrub(
                &format!(
                    "NotAuthorizedException: {}",
                    e.message().unwrap_or("not authorized")
                ),
                password,
            ))),
            Some(AdminInitiateAuthError::UserNotFoundException(_)) => Err(Error::UserNotFound {
                username: username.to_owned(),
                user_pool_id: user_pool_id.to_owned(),
            }),
            _ => Err(
                Error::from_sdk(err, pool_call("cognito-idp:AdminInitiateAuth", user_pool_id))
                    .scrubbed(password.expose_secret()),
            ),
        },
    }
}

/// `Base64(HMAC-SHA256(client secret, username + client id))`, as Cognito defines it.
fn secret_hash(client_secret: &SecretString, username: &str, client_id: &str) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(client_secret.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(username.as_bytes());
    mac.update(client_id.as_bytes());
    aws_smithy_types::base64::encode(mac.finalize().into_bytes())
}

/// Who a name means in a pool: the username as the pool stores it, and the `sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub username: String,
    pub sub: Option<String>,
}

/// The user `username` (a username, an alias or a `sub`) means in the pool.
pub async fn identify(client: &Client, user_pool_id: &str, username: &str) -> Result<Identity, Error> {
    let output = get_user(client, user_pool_id, username).await?;
    let sub = output
        .user_attributes
        .unwrap_or_default()
        .into_iter()
        .find(|attribute| attribute.name == "sub")
        .and_then(|attribute| attribute.value);
    Ok(Identity {
        username: output.username,
        sub,
    })
}

/// The user's status (`CONFIRMED`, `FORCE_CHANGE_PASSWORD`, ...).
pub async fn user_status(client: &Client, user_pool_id: &str, username: &str) -> Result<String, Error> {
    let output = get_user(client, user_pool_id, username).await?;
    Ok(output
        .user_status
        .map(|status| status.as_str().to_owned())
        .unwrap_or_else(|| "UNKNOWN".into()))
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
            _ => Error::from_sdk(err, pool_call("cognito-idp:AdminGetUser", user_pool_id)),
        })
}

fn pool_call(action: &'static str, user_pool_id: &str) -> AwsCall {
    AwsCall {
        action,
        resource: user_pool_id.to_owned(),
    }
}

/// `AdminSetUserPassword`, as IAM names it, for messages and timeouts.
pub fn set_password_call(user_pool_id: &str) -> AwsCall {
    pool_call("cognito-idp:AdminSetUserPassword", user_pool_id)
}

fn scrub(message: &str, password: &SecretString) -> String {
    if message.contains(password.expose_secret()) {
        "rejected by the policy".into()
    } else {
        message.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hash_matches_cognitos_definition() {
        // Computed independently: base64(hmac_sha256(b"s3cret", b"alice" + b"client1")).
        let hash = secret_hash(&SecretString::from("s3cret".to_owned()), "alice", "client1");
        assert_eq!(hash, "OLH8A5YiDq5WyVbgkLVAtm0hdL7P1QQ+z61K3T8oAEk=");
    }
}
