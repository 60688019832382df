//! Cognito's `AdminSetUserPassword`, and the mapping of its errors to messages a user can act on.

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::operation::admin_set_user_password::AdminSetUserPasswordError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{AwsCall, Error};
use crate::event::SetPasswordRequest;

/// Sets the user's password: permanent (the user can sign in with it) or temporary (the user
/// stays in FORCE_CHANGE_PASSWORD and must choose a new one at first sign-in).
pub async fn set_password(
    client: &Client,
    request: &SetPasswordRequest,
    password: &SecretString,
) -> Result<(), Error> {
    client
        .admin_set_user_password()
        .user_pool_id(&request.user_pool_id)
        .username(&request.username)
        .password(password.expose_secret())
        .permanent(request.permanent)
        .send()
        .await
        .map(|_| ())
        .map_err(|err| match err.as_service_error() {
            Some(AdminSetUserPasswordError::UserNotFoundException(_)) => Error::UserNotFound {
                username: request.username.clone(),
                user_pool_id: request.user_pool_id.clone(),
            },
            Some(AdminSetUserPasswordError::ResourceNotFoundException(_)) => Error::UserPoolNotFound {
                user_pool_id: request.user_pool_id.clone(),
            },
            Some(failure @ AdminSetUserPasswordError::InvalidPasswordException(_)) => {
                Error::PasswordPolicy {
                    source_name: request.password.to_string(),
                    user_pool_id: request.user_pool_id.clone(),
                    // Cognito says which rule failed; keep that, but never risk echoing the value.
                    detail: scrub(failure.message().unwrap_or("rejected by the policy"), password),
                }
            }
            _ => Error::from_sdk(err, call(request)).scrubbed(password.expose_secret()),
        })
}

/// The call, as IAM names it, for messages and timeouts.
pub fn call(request: &SetPasswordRequest) -> AwsCall {
    AwsCall {
        action: "cognito-idp:AdminSetUserPassword",
        resource: request.user_pool_id.clone(),
    }
}

fn scrub(message: &str, password: &SecretString) -> String {
    if message.contains(password.expose_secret()) {
        "rejected by the policy".into()
    } else {
        message.to_owned()
    }
}
