//! Many users in one invocation (a `Users` list): secrets read in batches, passwords set
//! concurrently but never faster than the rate limit, and every user accounted for: set, failed
//! (and why), or not done because the deadline came first; never silently dropped.

use std::collections::HashMap;
use std::sync::Arc;

use secrecy::SecretString;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::aws::clients::Clients;
use crate::aws::{regions, secrets};
use crate::core::binding::Policy;
use crate::core::password::{PasswordRef, select_from_secret};
use crate::core::request::SetPasswordRequest;
use crate::core::setter::{self, RateLimiter};
use crate::core::users::{UserList, list};
use crate::error::Error;

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
pub async fn run(
    clients: &Clients,
    policy: Policy,
    list: &UserList,
    rate: f64,
    deadline: Instant,
) -> Vec<UserOutcome> {
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
                    set_one(&clients, policy, &user, &prefetched, &limiter, deadline).await,
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
    policy: Policy,
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
        } if prefetched.contains_key(secret_id) => setter::bound(clients, policy, user, deadline)
            .await
            .and_then(|()| {
                select_from_secret(
                    secret_id,
                    prefetched[secret_id].clone(),
                    json_key.as_deref(),
                    (&user.user_pool_id, &user.username),
                )
            }),
        _ => setter::resolve(clients, policy, user, deadline).await,
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
    let home = clients.home_region();
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
        let batch = secrets::read_current_batch(&clients.stores.secrets_manager, chunk);
        match tokio::time::timeout_at(deadline, batch).await {
            Ok(Ok(read)) => values.extend(read),
            _ => tracing::debug!("BatchGetSecretValue failed; each secret is read on its own"),
        }
    }
    values
}

/// The outcomes in numbers, and the users not set with why, for the answer and the log.
pub struct Summary {
    pub total: usize,
    pub set: usize,
    /// Each user not set, and why, as the answer says it.
    pub not_set: Vec<String>,
    /// The same, with the facts about values that only the log may hold.
    pub not_set_for_log: Vec<String>,
}

impl Summary {
    pub fn of(outcomes: &[UserOutcome]) -> Self {
        let lines = |for_log: bool| -> Vec<String> {
            outcomes
                .iter()
                .filter_map(|outcome| match &outcome.result {
                    UserResult::Set => None,
                    UserResult::Failed(err) if for_log => {
                        Some(format!("`{}`: {}", outcome.username, err.for_log()))
                    }
                    UserResult::Failed(err) => Some(format!("`{}`: {err}", outcome.username)),
                    UserResult::NotDone => {
                        Some(format!("`{}`: not done before the deadline", outcome.username))
                    }
                })
                .collect()
        };
        let not_set = lines(false);
        Summary {
            total: outcomes.len(),
            set: outcomes.len() - not_set.len(),
            not_set,
            not_set_for_log: lines(true),
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
