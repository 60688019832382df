//! Many users in one invocation (a `Users` list): secrets read in batches, passwords set
//! concurrently but never faster than the rate limit, and every user accounted for: set, failed
//! (and why), or not done because the deadline came first; never silently dropped.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_secretsmanager::Client as SecretsManager;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::error::Error;
use crate::event::SetPasswordRequest;
use crate::handler::Clients;
use crate::password::{PasswordRef, select_from_secret};
use crate::regions;
use crate::setter::{self, RateLimiter};
use crate::users::{UserList, list};

/// Users worked on at once; the rate limit, not this, sets the pace.
const CONCURRENCY: usize = 16;
/// `BatchGetSecretValue` takes at most this many ids.
const BATCH: usize = 20;

/// What became of one user.
#[derive(Debug)]
pub enum UserResult {
    Set,
    Failed(Error),
    /// The deadline came before this user's turn.
    NotDone,
}

#[derive(Debug)]
pub struct UserOutcome {
    pub username: String,
    pub result: UserResult,
}

/// Sets every user's password; the outcomes come back in the list's order.
pub async fn run(clients: &Clients, list: &UserList, rate: f64, deadline: Instant) -> Vec<UserOutcome> {
    let prefetched = Arc::new(prefetch(clients, &list.users, deadline).await);
    let limiter = Arc::new(RateLimiter::per_second(rate));
    let mut results: Vec<Option<UserResult>> = (0..list.users.len()).map(|_| None).collect();
    let mut running = JoinSet::new();
    let mut pending = list.users.iter().cloned().enumerate();
    loop {
        while running.len() < CONCURRENCY {
            let Some((index, user)) = pending.next() else {
                break;
            };
            let (clients, prefetched, limiter) = (clients.clone(), prefetched.clone(), limiter.clone());
            running.spawn(async move {
                (
                    index,
                    set_one(&clients, &user, &prefetched, &limiter, deadline).await,
                )
            });
        }
        match running.join_next().await {
            Some(Ok((index, result))) => results[index] = Some(result),
            // A task that panicked: its user stays without a result and is reported below.
            Some(Err(_)) => {}
            None => break,
        }
    }
    list.users
        .iter()
        .zip(results)
        .map(|(user, result)| UserOutcome {
            username: user.username.clone(),
            result: result
                .unwrap_or_else(|| UserResult::Failed(Error::Internal("setting this user panicked".into()))),
        })
        .collect()
}

async fn set_one(
    clients: &Clients,
    user: &SetPasswordRequest,
    prefetched: &HashMap<String, SecretString>,
    limiter: &RateLimiter,
    deadline: Instant,
) -> UserResult {
    if Instant::now() >= deadline {
        return UserResult::NotDone;
    }
    let password = match &user.password {
        // The batch read the current value: only a reference that names no version may use it.
        PasswordRef::Secret {
            secret_id,
            json_key,
            version_stage: None,
            version_id: None,
        } if prefetched.contains_key(secret_id) => {
            select_from_secret(secret_id, prefetched[secret_id].clone(), json_key.as_deref())
        }
        _ => setter::resolve(clients, user, deadline).await,
    };
    let outcome = match password {
        Ok(password) => setter::apply(clients, user, &password, deadline, Some(limiter)).await,
        Err(err) => Err(err),
    };
    match outcome {
        Ok(()) => UserResult::Set,
        Err(Error::NotReached) => UserResult::NotDone,
        Err(err) => UserResult::Failed(err),
    }
}

/// The current value of every secret referenced without a version, read 20 at a time. What
/// the batch does not return (not found, denied, a batch call that failed) is left to each
/// user's own `GetSecretValue`, whose error names the secret and the fix.
async fn prefetch(
    clients: &Clients,
    users: &[SetPasswordRequest],
    deadline: Instant,
) -> HashMap<String, SecretString> {
    // One batch call reads one region: the function's own; secrets in other regions (by ARN)
    // are read on their own, in theirs.
    let client: &SecretsManager = &clients.stores.secrets_manager;
    let home = client.config().region().map(|region| region.as_ref());
    let mut ids: Vec<&str> = users
        .iter()
        .filter_map(|user| match &user.password {
            PasswordRef::Secret {
                secret_id,
                version_stage: None,
                version_id: None,
                ..
            } if regions::of_arn(secret_id).is_none_or(|region| Some(region) == home) => {
                Some(secret_id.as_str())
            }
            _ => None,
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut values = HashMap::new();
    if ids.len() < 2 {
        return values;
    }
    for chunk in ids.chunks(BATCH) {
        let call = client
            .batch_get_secret_value()
            .set_secret_id_list(Some(chunk.iter().map(|id| id.to_string()).collect()))
            .send();
        let Ok(Ok(output)) = tokio::time::timeout_at(deadline, call).await else {
            tracing::debug!("BatchGetSecretValue failed; each secret is read on its own");
            continue;
        };
        for value in output.secret_values.unwrap_or_default() {
            let Some(text) = value.secret_string else { continue };
            let text = SecretString::from(text);
            // The request may name a secret by name or by ARN.
            for id in chunk {
                if value.name.as_deref() == Some(*id) || value.arn.as_deref() == Some(*id) {
                    values.insert(id.to_string(), text.clone());
                }
            }
        }
    }
    values
}

/// The outcomes in numbers, and the users not set with why, for the answer and the log.
pub struct Summary {
    pub total: usize,
    pub set: usize,
    pub not_set: Vec<String>,
}

impl Summary {
    pub fn of(outcomes: &[UserOutcome]) -> Self {
        let not_set: Vec<String> = outcomes
            .iter()
            .filter_map(|outcome| match &outcome.result {
                UserResult::Set => None,
                UserResult::Failed(err) => Some(format!("`{}`: {err}", outcome.username)),
                UserResult::NotDone => Some(format!("`{}`: not done before the deadline", outcome.username)),
            })
            .collect();
        Summary {
            total: outcomes.len(),
            set: outcomes.len() - not_set.len(),
            not_set,
        }
    }

    /// `Ok` when every user was set; otherwise the error that lists who was not, and why.
    pub fn into_result(self) -> Result<Self, Error> {
        if self.not_set.is_empty() {
            Ok(self)
        } else {
            Err(Error::UsersNotSet {
                not_set: self.not_set.len(),
                total: self.total,
                listed: list(&self.not_set),
            })
        }
    }
}

/// Each user's outcome, as a direct call returns it: nothing secret, and small.
pub fn results_json(list: &UserList, outcomes: &[UserOutcome]) -> Value {
    let results: Vec<Value> = outcomes
        .iter()
        .map(|outcome| match &outcome.result {
            UserResult::Set => json!({"Username": outcome.username, "Result": "set"}),
            UserResult::Failed(err) => {
                json!({"Username": outcome.username, "Result": "FAILED", "Error": err.to_string()})
            }
            UserResult::NotDone => json!({"Username": outcome.username, "Result": "not done"}),
        })
        .collect();
    json!({"UserPoolId": list.user_pool_id, "Results": results})
}
