//! The rotation of a user's JSON secret ([`UserSecret`]): the four steps Secrets Manager invokes.
//! Every step is safe to repeat (Secrets Manager retries a failed or interrupted rotation from its
//! first step), and every failure names the step, the secret and the fix, so that a password
//! Cognito never got is never promoted.

use secrecy::SecretString;
use serde::Deserialize;

use crate::aws::clients::Clients;
use crate::aws::cognito;
use crate::aws::secrets::{self, AWSCURRENT, AWSPENDING, COGNITO_LABEL, Versions};
use crate::aws::sign_in::{self, SignIn};
use crate::core::binding::Policy;
use crate::core::contract::{MAX_PASSWORD_CHARS, check_password};
use crate::core::held::{self, Held};
use crate::core::password::PasswordRef;
use crate::core::user_secret::UserSecret;
use crate::core::user_wait::UserWait;
use crate::error::Error;
use crate::settings::Settings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Step {
    #[serde(rename = "createSecret")]
    Create,
    #[serde(rename = "setSecret")]
    Set,
    #[serde(rename = "testSecret")]
    Test,
    #[serde(rename = "finishSecret")]
    Finish,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Create => "createSecret",
            Step::Set => "setSecret",
            Step::Test => "testSecret",
            Step::Finish => "finishSecret",
        }
    }
}

/// Runs one `step` of the rotation of `secret_id` to version `token`; the `Ok` value says what
/// it did, for the log and the return value.
pub async fn rotate(
    clients: &Clients,
    settings: &Settings,
    step: Step,
    secret_id: &str,
    token: &str,
) -> Result<String, Error> {
    async {
        let secrets_manager = &clients.secrets_manager_for(secret_id);
        let versions = secrets::describe(secrets_manager, secret_id).await?;
        // The checks of AWS's own rotation templates, before every step.
        let refuse = |problem: String| Error::NotRotatable {
            secret_id: secret_id.to_owned(),
            problem,
        };
        if !versions.rotation_enabled {
            return Err(refuse(
                "rotation is not enabled for it; turn it on with `aws secretsmanager rotate-secret` \
                 or an `AWS::SecretsManager::RotationSchedule`"
                    .into(),
            ));
        }
        if !versions.exists(token) {
            return Err(refuse(format!(
                "the ClientRequestToken `{token}` is not a version of it; rotations are started by \
                 Secrets Manager (`rotate-secret`), which creates that version first"
            )));
        }
        if versions.has_label(token, AWSCURRENT) {
            return Ok(format!("nothing to do: version `{token}` is already AWSCURRENT"));
        }
        if !versions.has_label(token, AWSPENDING) {
            return Err(refuse(format!(
                "version `{token}` is not staged AWSPENDING; another rotation may have replaced it: \
                 start a new rotation with `aws secretsmanager rotate-secret`"
            )));
        }
        let rotation = Rotation {
            clients,
            policy: Policy::of(settings),
            secret_id,
            token,
            versions,
        };
        match step {
            Step::Create => rotation.create(settings.rotation_password_length).await,
            Step::Set => rotation.set().await,
            Step::Test => rotation.test().await,
            Step::Finish => rotation.finish().await,
        }
    }
    .await
    .map_err(|source| Error::RotationStep {
        step: step.name(),
        secret_id: secret_id.to_owned(),
        source: Box::new(source),
    })
}

struct Rotation<'a> {
    clients: &'a Clients,
    policy: Policy,
    secret_id: &'a str,
    token: &'a str,
    versions: Versions,
}

impl Rotation<'_> {
    fn version<'v>(&'v self, version_id: &'v str) -> held::Version<'v> {
        held::Version {
            secret_id: self.secret_id,
            versions: &self.versions,
            version_id,
        }
    }

    /// A password the pool accepts, stored as the `AWSPENDING` version; a pending version that
    /// already has a value (a repeated step, or a test-only rotation) is kept.
    async fn create(&self, setting: u32) -> Result<String, Error> {
        let current = self.read(None, Some(AWSCURRENT)).await?;
        if self.pending_value().await?.is_some() {
            return Ok(format!("kept the value version `{}` already has", self.token));
        }
        let minimum = cognito::minimum_password_length(
            &self.clients.cognito_for(&current.user_pool_id),
            &current.user_pool_id,
        )
        .await?;
        let length = setting.max(minimum).min(MAX_PASSWORD_CHARS as u32);
        let password =
            secrets::random_password(&self.clients.secrets_manager_for(self.secret_id), length).await?;
        check_password(&self.source().source_name(), &password)?;
        secrets::put_pending(
            &self.clients.secrets_manager_for(self.secret_id),
            self.secret_id,
            self.token,
            &current.with_password(&password),
        )
        .await?;
        Ok(format!(
            "stored a new {length}-character password as version `{}` (AWSPENDING)",
            self.token
        ))
    }

    /// Sets the pending password in Cognito, once: the version then carries [`COGNITO_LABEL`].
    /// Does not wait for a missing user: Secrets Manager retries the step.
    async fn set(&self) -> Result<String, Error> {
        let pending = self.pending().await?;
        let (held, _) = held::hold(
            self.clients,
            self.policy,
            self.version(self.token),
            &pending,
            UserWait::none(),
            false,
        )
        .await?;
        Ok(match held {
            Held::Already => format!("nothing to do: Cognito already holds version `{}`", self.token),
            Held::SamePassword => format!(
                "Cognito already holds this password; labelled version `{}` {COGNITO_LABEL}",
                self.token
            ),
            Held::Set => format!(
                "set the password of {} from version `{}`",
                pending.who(),
                self.token
            ),
        })
    }

    /// Signs in with the pending password when the secret names an app client; otherwise checks
    /// that the user is `CONFIRMED` and says that the password itself was not tried.
    async fn test(&self) -> Result<String, Error> {
        let pending = self.pending().await?;
        let cognito = &self.clients.cognito_for(&pending.user_pool_id);
        match &pending.client_id {
            Some(client_id) => {
                match sign_in::sign_in(
                    cognito,
                    &pending.user_pool_id,
                    client_id,
                    &pending.username,
                    &pending.password,
                )
                .await?
                {
                    SignIn::Works => Ok(format!(
                        "signed in as {} through app client `{client_id}`",
                        pending.who()
                    )),
                    SignIn::Refused(detail) => Err(Error::SignInFailed {
                        who: pending.who(),
                        detail: format!(
                            "signing in through app client `{client_id}` failed ({detail}); check that setSecret \
                             ran, and that the app client allows ALLOW_ADMIN_USER_PASSWORD_AUTH"
                        ),
                    }),
                }
            }
            None => {
                let status = cognito::identify(cognito, &pending.user_pool_id, &pending.username)
                    .await?
                    .status;
                if status != "CONFIRMED" {
                    return Err(Error::SignInFailed {
                        who: pending.who(),
                        detail: format!("the user's status is {status}, not CONFIRMED"),
                    });
                }
                tracing::info!(
                    secret_id = self.secret_id,
                    "the password itself was not tried: add `ClientId` (an app client that allows \
                     ALLOW_ADMIN_USER_PASSWORD_AUTH) to the secret to sign in with it"
                );
                Ok(format!(
                    "{} is CONFIRMED (the password itself was not tried: the secret has no ClientId)",
                    pending.who()
                ))
            }
        }
    }

    /// Moves `AWSCURRENT` to the new version, only once Cognito holds it.
    async fn finish(&self) -> Result<String, Error> {
        if !self.versions.has_label(self.token, COGNITO_LABEL) {
            return Err(Error::NotRotatable {
                secret_id: self.secret_id.to_owned(),
                problem: format!(
                    "Cognito does not hold version `{}` (it has no {COGNITO_LABEL} label: setSecret has not \
                     set it), so AWSCURRENT was not moved; rotate again",
                    self.token
                ),
            });
        }
        secrets::move_label(
            &self.clients.secrets_manager_for(self.secret_id),
            self.secret_id,
            AWSCURRENT,
            self.token,
            self.versions.carrying(AWSCURRENT),
        )
        .await?;
        Ok(format!("moved AWSCURRENT to version `{}`", self.token))
    }

    /// Where the pending password comes from, for messages.
    fn source(&self) -> PasswordRef {
        held::source(self.secret_id, self.token)
    }

    async fn pending_value(&self) -> Result<Option<SecretString>, Error> {
        secrets::read(
            &self.clients.secrets_manager_for(self.secret_id),
            self.secret_id,
            Some(self.token),
            Some(AWSPENDING),
        )
        .await
    }

    async fn pending(&self) -> Result<UserSecret, Error> {
        let value = self.pending_value().await?.ok_or_else(|| Error::NotRotatable {
            secret_id: self.secret_id.to_owned(),
            problem: format!(
                "version `{}` has no value yet: createSecret has not run for it; rotate again",
                self.token
            ),
        })?;
        let pending = UserSecret::parse(&self.source().source_name(), value)?;
        // testSecret signs in as this user: only ever the one the secret is bound to.
        held::check_bound(
            self.clients,
            self.policy,
            self.version(self.token),
            &pending,
            UserWait::none(),
        )
        .await?;
        Ok(pending)
    }

    async fn read(&self, version_id: Option<&str>, stage: Option<&str>) -> Result<UserSecret, Error> {
        let name = format!(
            "Secrets Manager secret `{}` (version `{}`)",
            self.secret_id,
            version_id.or(stage).unwrap_or("?")
        );
        let value = secrets::read(
            &self.clients.secrets_manager_for(self.secret_id),
            self.secret_id,
            version_id,
            stage,
        )
        .await?
        .ok_or_else(|| Error::UnusableSecret {
            source_name: name.clone(),
            problem: "it has no value".into(),
        })?;
        let secret = UserSecret::parse(&name, value)?;
        held::check_bound(
            self.clients,
            self.policy,
            self.version(version_id.unwrap_or(self.token)),
            &secret,
            UserWait::none(),
        )
        .await?;
        Ok(secret)
    }
}
