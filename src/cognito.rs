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
use crate::event::SetPasswordRequest;

/// `AdminSetUserPassword` accepts a `Password` of 1 to 256 characters matching `[\S]+`.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Checks `password` against `AdminSetUserPassword`'s own contract before it is sent: Cognito
/// answers a bare validation error for whitespace, and a policy error for an over-long value,
/// neither of which tells the user what to fix. `source_name` says where the value came from; the
/// message never holds the value.
pub fn check_password(source_name: &str, password: &SecretString) -> Result<(), Error> {
    let value = password.expose_secret();
    let refuse = |problem: String, fix: &str| {
        Err(Error::PasswordContract {
            source_name: source_name.to_owned(),
            problem,
            fix: fix.to_owned(),
        })
    };
    let chars = value.chars().count();
    if chars == 0 {
        return refuse("it is empty".into(), "store a password of 1 to 256 characters");
    }
    if chars > MAX_PASSWORD_CHARS {
        return refuse(
            format!(
                "it is {chars} characters long, and AdminSetUserPassword accepts at most {MAX_PASSWORD_CHARS}"
            ),
            "store a password of at most 256 characters",
        );
    }
    // `[\S]` is Java's: these six are its whitespace.
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r');
    let trimmed = value.trim_end_matches(['\n', '\r']);
    if trimmed.len() < value.len() && !trimmed.contains(is_space) {
        return refuse(
            "it ends in a line break, and AdminSetUserPassword accepts no whitespace (a value read \
             from a file keeps the file's last newline)"
                .into(),
            "store it without the line break: `--secret-string \"$(cat pw.txt)\"` (Secrets Manager) \
             or `--value \"$(cat pw.txt)\"` (SSM) drop it, where `file://pw.txt` keeps it",
        );
    }
    if let Some(found) = value.chars().find(|c| is_space(*c)) {
        return refuse(
            format!(
                "it contains whitespace ({}), and AdminSetUserPassword accepts none",
                match found {
                    ' ' => "a space",
                    '\t' => "a tab",
                    '\n' | '\r' => "a line break",
                    _ => "a form feed or vertical tab",
                }
            ),
            "store a password without spaces, tabs or line breaks",
        );
    }
    Ok(())
}

/// Sets the user's password: permanent (the user can sign in with it) or temporary (the user
/// stays in FORCE_CHANGE_PASSWORD and must choose a new one at first sign-in).
pub async fn set_password(
    client: &Client,
    request: &SetPasswordRequest,
    password: &SecretString,
) -> Result<(), Error> {
    check_password(&request.password.source_name(), password)?;
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
            Some(AdminSetUserPasswordError::PasswordHistoryPolicyViolationException(_)) => {
                Error::PasswordReused {
                    source_name: request.password.source_name(),
                    user_pool_id: request.user_pool_id.clone(),
                }
            }
            Some(failure @ AdminSetUserPasswordError::InvalidPasswordException(_)) => {
                Error::PasswordPolicy {
                    source_name: request.password.to_string(),
                    user_pool_id: request.user_pool_id.clone(),
                    // Cognito says which rule failed; keep that, but never risk echoing the value.
                    detail: scrub(failure.message().unwrap_or("rejected by the policy"), password),
                }
            }
            _ if err.code() == Some("OperationNotEnabledException") => Error::ReplicaRegion {
                user_pool_id: request.user_pool_id.clone(),
                region: client
                    .config()
                    .region()
                    .map_or_else(|| "?".to_owned(), |region| region.to_string()),
            },
            _ => Error::from_sdk(err, call(request)).scrubbed(password.expose_secret()),
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

/// The user's status (`CONFIRMED`, `FORCE_CHANGE_PASSWORD`, ...).
pub async fn user_status(client: &Client, user_pool_id: &str, username: &str) -> Result<String, Error> {
    let output = client
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
        })?;
    Ok(output
        .user_status
        .map(|status| status.as_str().to_owned())
        .unwrap_or_else(|| "UNKNOWN".into()))
}

fn pool_call(action: &'static str, user_pool_id: &str) -> AwsCall {
    AwsCall {
        action,
        resource: user_pool_id.to_owned(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: &str) -> Result<(), String> {
        check_password(
            "Secrets Manager secret `s`",
            &SecretString::from(value.to_owned()),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn secret_hash_matches_cognitos_definition() {
        // Computed independently: base64(hmac_sha256(b"s3cret", b"alice" + b"client1")).
        let hash = secret_hash(&SecretString::from("s3cret".to_owned()), "alice", "client1");
        assert_eq!(hash, "OLH8A5YiDq5WyVbgkLVAtm0hdL7P1QQ+z61K3T8oAEk=");
    }

    #[test]
    fn a_value_within_the_contract_passes() {
        assert!(check("Str0ng!Pass").is_ok());
        assert!(check(&"é".repeat(256)).is_ok(), "256 characters, not bytes");
    }

    #[test]
    fn a_trailing_line_break_is_named_with_its_fix_and_without_the_value() {
        for value in ["Str0ng!Pass\n", "Str0ng!Pass\r\n"] {
            let message = check(value).unwrap_err();
            assert!(
                message.starts_with("the password from Secrets Manager secret `s` cannot be sent"),
                "{message}"
            );
            assert!(message.contains("ends in a line break"), "{message}");
            assert!(message.contains("$(cat pw.txt)"), "{message}");
            assert!(!message.contains("Str0ng"), "{message}");
        }
    }

    #[test]
    fn whitespace_inside_is_named() {
        let message = check("Str0ng Pass").unwrap_err();
        assert!(message.contains("contains whitespace (a space)"), "{message}");
        assert!(check("a\tb").unwrap_err().contains("(a tab)"));
        assert!(check("a\nb\n").unwrap_err().contains("(a line break)"));
        assert!(!message.contains("Str0ng"));
    }

    #[test]
    fn length_is_named_with_the_limit() {
        let message = check(&"x".repeat(257)).unwrap_err();
        assert!(message.contains("it is 257 characters long"), "{message}");
        assert!(message.contains("at most 256"), "{message}");
        assert!(check("").unwrap_err().contains("it is empty"));
    }
}
