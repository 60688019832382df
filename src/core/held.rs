//! Which version of a user's secret Cognito holds, and moving Cognito to a new one: the one path
//! that rotation's setSecret and the sync share. It refuses a version that names another user than
//! the secret's binding (its tag; labels are only a record, and anyone who may write versions can
//! move them), sets each version's password once, and records it with [`COGNITO_LABEL`].

use secrecy::ExposeSecret;

use crate::aws::clients::Clients;
use crate::aws::secrets::{self, COGNITO_LABEL, Versions};
use crate::aws::sign_in;
use crate::core::binding::{self, BINDING_TAG, Policy};
use crate::core::identity::{self, Identity};
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

/// One version of a user's secret, and the secret's versions (with its tags) as just described.
#[derive(Debug, Clone, Copy)]
pub struct Version<'a> {
    pub secret_id: &'a str,
    pub versions: &'a Versions,
    pub version_id: &'a str,
}

/// Refuses a version of a secret unless the secret's binding names the user the
/// version names, and that user may be given a password (not a federated profile, unless
/// `policy` allows it); `Ok` is that user, as the pool names it. A user that does not exist yet is
/// waited for as `wait` allows, only when the tag spells its name.
pub async fn check_bound(
    clients: &Clients,
    policy: Policy,
    version: Version<'_>,
    secret: &UserSecret,
    wait: UserWait,
) -> Result<Identity, Error> {
    let Version {
        secret_id,
        versions,
        version_id,
    } = version;
    let (pool, name) = (secret.user_pool_id.as_str(), secret.username.as_str());
    let source = source(secret_id, version_id);
    let tag = versions.tag(BINDING_TAG);
    let user = match identity::look_up(clients, pool, name).await {
        Ok(user) => user,
        Err(Error::UserNotFound { .. }) => {
            binding::check(clients, &source, tag, pool, name, None).await?;
            wait.retry(|| identity::look_up(clients, pool, name)).await?
        }
        Err(err) => return Err(err),
    };
    binding::check(clients, &source, tag, pool, name, Some(&user)).await?;
    identity::refuse_federated(policy.allow_federated_users, pool, &user)?;
    Ok(user)
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

/// Makes Cognito hold `new`, from `version`, when the user it names is the
/// one the secret is bound to; also says who that user is, as the pool names it. `again`: set it
/// even if its label says Cognito holds it (this run may have set another version over it).
pub async fn hold(
    clients: &Clients,
    policy: Policy,
    version: Version<'_>,
    new: &UserSecret,
    wait: UserWait,
    again: bool,
) -> Result<(Held, Identity), Error> {
    let user = check_bound(clients, policy, version, new, wait).await?;
    let Version {
        secret_id,
        versions,
        version_id,
    } = version;
    let held_version = versions.carrying(COGNITO_LABEL);
    if held_version == Some(version_id) && !again {
        return Ok((Held::Already, user));
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
            username: user.username.clone(),
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
                            &user.username,
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
    let held = if same_password {
        Held::SamePassword
    } else {
        Held::Set
    };
    Ok((held, user))
}
