//! A test sign-in that leaves no session behind: `AdminInitiateAuth` with the password, then
//! `RevokeToken` of the refresh token it got, so that a sign-in made to check a password never
//! becomes a session someone could use.

use std::time::Duration;

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::config::retry::RetryConfig;
use aws_sdk_cognitoidentityprovider::operation::admin_initiate_auth::AdminInitiateAuthError;
use aws_sdk_cognitoidentityprovider::operation::describe_user_pool_client::DescribeUserPoolClientError;
use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ChallengeNameType};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use super::cognito::{pool_call, scrub};
use crate::error::Error;

/// How long the one `RevokeToken` try may take: a failed revoke is reported, never waited out.
const REVOKE_WITHIN: Duration = Duration::from_secs(2);

/// Whether the password works, as a sign-in through the app client `client_id` tells.
#[derive(Debug, PartialEq, Eq)]
pub enum SignIn {
    /// Tokens, or an MFA challenge: the password was accepted.
    Works,
    /// Why not, in Cognito's words (never the password).
    Refused(String),
}

/// Signs in with `ADMIN_USER_PASSWORD_AUTH`, with a `SECRET_HASH` when the app client has a
/// secret, and revokes the refresh token Cognito answers with.
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
        Ok(output) if output.authentication_result.is_some() => {
            if let Some(refresh_token) = output
                .authentication_result
                .and_then(|tokens| tokens.refresh_token)
            {
                revoke(
                    client,
                    client_id,
                    client_secret.as_ref(),
                    SecretString::from(refresh_token),
                )
                .await;
            }
            Ok(SignIn::Works)
        }
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

/// `RevokeToken` of the refresh token a test sign-in got, tried once within [`REVOKE_WITHIN`]. It
/// needs no IAM grant: the client id (and the client's secret, when it has one) authorise it. A
/// failure (a client with token revocation off, say) is logged at WARN and never fails the step
/// that signed in: the password was proven, and the token expires on its own.
async fn revoke(
    client: &Client,
    client_id: &str,
    client_secret: Option<&SecretString>,
    refresh_token: SecretString,
) {
    let mut request = client
        .revoke_token()
        .token(refresh_token.expose_secret())
        .client_id(client_id);
    if let Some(client_secret) = client_secret {
        request = request.client_secret(client_secret.expose_secret());
    }
    let once = request.customize().config_override(
        aws_sdk_cognitoidentityprovider::Config::builder().retry_config(RetryConfig::disabled()),
    );
    let problem = match tokio::time::timeout(REVOKE_WITHIN, once.send()).await {
        Ok(Ok(_)) => return,
        Ok(Err(err)) => {
            let detail = format!(
                "{}: {}",
                err.code().unwrap_or("no error code"),
                err.message().unwrap_or("no message")
            );
            let quoted = |secret: &SecretString| detail.contains(secret.expose_secret());
            if quoted(&refresh_token) || client_secret.is_some_and(quoted) {
                "Cognito's answer quoted the token or the client secret; not repeated here".into()
            } else {
                detail
            }
        }
        Err(_) => format!("no answer within {} s", REVOKE_WITHIN.as_secs()),
    };
    tracing::warn!(
        client_id,
        problem = %problem,
        "the refresh token of the test sign-in through app client `{client_id}` was not revoked \
         (it expires with the client's refresh token validity); turn on token revocation for that \
         app client (EnableTokenRevocation)"
    );
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
