//! The Secrets Manager rotation function: the four steps Secrets Manager invokes for a user's JSON
//! secret ([`UserSecret`]). Every step is safe to repeat (Secrets Manager retries a failed or
//! interrupted rotation from its first step), and every failure is an invocation error that names
//! the step, the secret and the fix, so that a password Cognito never got is never promoted.

use secrecy::SecretString;
use serde::Deserialize;

use crate::cognito::{self, MAX_PASSWORD_CHARS, SignIn};
use crate::error::Error;
use crate::handler::{Clients, Settings};
use crate::held::{self, Held};
use crate::password::PasswordRef;
use crate::secrets::{self, AWSCURRENT, AWSPENDING, COGNITO_LABEL, Versions};
use crate::user_secret::UserSecret;
use crate::user_wait::UserWait;

/// The length of a generated password when the pool's policy asks for less.
pub const DEFAULT_PASSWORD_LENGTH: u32 = 32;

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

/// One step, as Secrets Manager invokes it. `RotationToken` (a credential) is not read at all.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationEvent {
    pub step: Step,
    pub secret_id: String,
    pub client_request_token: String,
}

impl RotationEvent {
    /// A rotation event has these three keys; no other shape does.
    pub fn is_one(map: &serde_json::Map<String, serde_json::Value>) -> bool {
        ["Step", "SecretId", "ClientRequestToken"]
            .iter()
            .all(|key| map.contains_key(*key))
    }
}

/// Runs one step; the `Ok` value says what it did, for the log and the return value.
pub async fn rotate(clients: &Clients, settings: &Settings, event: &RotationEvent) -> Result<String, Error> {
    run(clients, settings, event)
        .await
        .map_err(|source| Error::RotationStep {
            step: event.step.name(),
            secret_id: event.secret_id.clone(),
            source: Box::new(source),
        })
}

async fn run(clients: &Clients, settings: &Settings, event: &RotationEvent) -> Result<String, Error> {
    let secrets_manager = &clients.secrets_manager_for(&event.secret_id);
    let (secret_id, token) = (event.secret_id.as_str(), event.client_request_token.as_str());
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
        secret_id,
        token,
        versions,
    };
    match event.step {
        Step::Create => rotation.create(settings.rotation_password_length).await,
        Step::Set => rotation.set().await,
        Step::Test => rotation.test().await,
        Step::Finish => rotation.finish().await,
    }
}

struct Rotation<'a> {
    clients: &'a Clients,
    secret_id: &'a str,
    token: &'a str,
    versions: Versions,
}

impl Rotation<'_> {
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
        cognito::check_password(&self.source().source_name(), &password)?;
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
        let held = held::hold(
            self.clients,
            self.secret_id,
            &self.versions,
            self.token,
            &pending,
            AWSCURRENT,
            UserWait::none(),
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
                match cognito::sign_in(
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
                let status = cognito::user_status(cognito, &pending.user_pool_id, &pending.username).await?;
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
        UserSecret::parse(&self.source().source_name(), value)
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
        UserSecret::parse(&name, value)
    }
}
