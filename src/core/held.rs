//! Which version of a user's secret Cognito holds, and moving Cognito to a new one: the one path
//! that rotation's setSecret and the sync share. It refuses a version that names another user than
//! the secret's binding (its tag; labels are only a record, and anyone who may write versions can
//! move them), sets each version's password once, and records it with [`COGNITO_LABEL`].

use secrecy::ExposeSecret;

use crate::aws::clients::Clients;
use crate::aws::secrets::{self, COGNITO_LABEL, Versions};
use crate::aws::sign_in;
use crate::core::binding::{self, BINDING_TAG};
use crate::core::password::{DEFAULT_JSON_KEY, PasswordRef};
use crate::core::request::SetPasswordRequest;
use crate::core::setter::set_in_cognito;
use crate::core::user_secret::{Parsed, UserSecret};
use crate::core::user_wait::UserWait;
use crate::error::Error;

/// What moving Cognito to a version took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// The version already carried the label: nothing was done.
    Already,
    /// The password was set, and the label moved.
    Set,
    /// Cognito held the same password under an older version: only the label moved (a pool with
    /// password history would refuse it twice).
    SamePassword,
}

/// Refuses version `version_id` of `secret_id` unless the secret's binding names the user the
/// version names.
pub async fn check_bound(
    clients: &Clients,
    secret_id: &str,
    versions: &Versions,
    version_id: &str,
    secret: &UserSecret,
) -> Result<(), Error> {
    binding::check(
        clients,
        &source(secret_id, version_id),
        versions.tag(BINDING_TAG),
        &secret.user_pool_id,
        &secret.username,
    )
    .await
}

/// Where a version's password comes from, for messages.
pub fn source(secret_id: &str, version_id: &str) -> PasswordRef {
    PasswordRef::Secret {
        secret_id: secret_id.to_owned(),
        json_key: Some(DEFAULT_JSON_KEY.into()),
        version_stage: None,
        version_id: Some(version_id.to_owned()),
    }
}

/// Reads one version by id (and stage, when given) and parses it; `None` when it has no value.
pub async fn read(
    clients: &Clients,
    secret_id: &str,
    version_id: &str,
    stage: Option<&str>,
) -> Result<Option<Parsed>, Error> {
    let value = secrets::read(
        &clients.secrets_manager_for(secret_id),
        secret_id,
        Some(version_id),
        stage,
    )
    .await?;
    value
        .map(|value| UserSecret::parse_any(&source(secret_id, version_id).source_name(), value))
        .transpose()
}

/// Makes Cognito hold `new`, version `version_id` of `secret_id`, when the user it names is the
/// one the secret is bound to. `again`: set it even if its label says Cognito holds it (this run
/// may have set another version over it).
pub async fn hold(
    clients: &Clients,
    secret_id: &str,
    versions: &Versions,
    version_id: &str,
    new: &UserSecret,
    wait: UserWait,
    again: bool,
) -> Result<Held, Error> {
    check_bound(clients, secret_id, versions, version_id, new).await?;
    let held_version = versions.carrying(COGNITO_LABEL);
    if held_version == Some(version_id) && !again {
        return Ok(Held::Already);
    }
    // Only to spare a pool with password history a second set of the same password.
    let held = match held_version.filter(|_| !again) {
        Some(id) => match read(clients, secret_id, id, None).await? {
            Some(Parsed::User(secret)) if secret.same_user(new) => Some(secret),
            _ => None,
        },
        None => None,
    };
    let mut same_password = held
        .as_ref()
        .is_some_and(|held| held.password.expose_secret() == new.password.expose_secret());
    if !same_password {
        let request = SetPasswordRequest {
            user_pool_id: new.user_pool_id.clone(),
            username: new.username.clone(),
            password: source(secret_id, version_id),
            permanent: true,
            wait_for_user: wait.wait,
        };
        match wait
            .retry(|| set_in_cognito(clients, &request, &new.password))
            .await
        {
            Ok(()) => {}
            // An earlier attempt may have set this very password and failed only to move the
            // label (throttled, timed out): a pool with password history then refuses it again.
            // A sign-in tells whether Cognito holds it already.
            Err(refused @ Error::PasswordReused { .. }) => {
                let holds = match &new.client_id {
                    Some(client_id) => matches!(
                        sign_in::sign_in(
                            &clients.cognito_for(&new.user_pool_id),
                            &new.user_pool_id,
                            client_id,
                            &new.username,
                            &new.password
                        )
                        .await,
                        Ok(sign_in::SignIn::Works)
                    ),
                    None => false,
                };
                if !holds {
                    return Err(refused);
                }
                same_password = true;
            }
            Err(err) => return Err(err),
        }
    }
    secrets::move_label(
        &clients.secrets_manager_for(secret_id),
        secret_id,
        COGNITO_LABEL,
        version_id,
        // Never left behind on another version (moto lets two syncs leave it on two; AWS refuses
        // a move from a version that no longer has it, and the sync that lost is retried).
        versions.carrying_other_than(COGNITO_LABEL, version_id),
    )
    .await?;
    Ok(if same_password {
        Held::SamePassword
    } else {
        Held::Set
    })
}
