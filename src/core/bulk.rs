//! Many users in one invocation (a `Users` list): every name looked up first (at its own rate; one
//! user named twice refuses the list), secrets read in batches, passwords set concurrently but
//! never faster than the rate limit, and every user accounted for: set, failed (and why), or not
//! done because the deadline came first; never silently dropped.

use std::collections::HashMap;
use std::sync::Arc;

use secrecy::SecretString;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::aws::clients::Clients;
use crate::aws::{regions, secrets};
use crate::core::binding::Policy;
use crate::core::identity::{self, Identity};
use crate::core::password::{PasswordRef, select_from_secret};
use crate::core::request::SetPasswordRequest;
use crate::core::setter::{self, RateLimiter, Resolved};
use crate::core::user_wait::UserWait;
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

/// The paces of a list: `AdminGetUser` calls (learning who each name means) and
/// `AdminSetUserPassword` calls, per second, each against its own Cognito quota.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub reads: f64,
    pub sets: f64,
}

/// Sets every user's password; the outcomes come back in the list's order. Every name is looked
/// up first, before any password is set: a list in which two entries mean one user is refused as
/// a whole.
pub async fn run(
    clients: &Clients,
    policy: Policy,
    list: &UserList,
    rates: Rates,
    deadline: Instant,
) -> Result<Vec<UserOutcome>, Error> {
    let (users, prefetched) = tokio::join!(
        identify_all(clients, list, rates.reads, deadline),
        prefetch(clients, &list.users, deadline)
    );
    refuse_same_user_twice(list, &users)?;
    let prefetched = Arc::new(prefetched);
    let limiter = Arc::new(RateLimiter::per_second(rates.sets));
    let mut results: Vec<Option<UserResult>> = (0..list.users.len()).map(|_| None).collect();
    let mut names: Vec<String> = list.users.iter().map(|user| user.username.clone()).collect();
    let mut running = JoinSet::new();
    let mut pending = list.users.iter().cloned().zip(users).enumerate();
    loop {
        while running.len() < CONCURRENCY {
            let Some((index, (request, user))) = pending.next() else {
                break;
            };
            if let Ok(user) = &user {
                names[index] = user.username.clone();
            }
            let (clients, prefetched, limiter) = (clients.clone(), prefetched.clone(), limiter.clone());
            running.spawn(async move {
                let result = match user {
                    Ok(user) => {
                        set_one(&clients, policy, &request, user, &prefetched, &limiter, deadline).await
                    }
                    Err(err) => UserResult::of(Err(err)),
                };
                (index, result)
            });
        }
        match running.join_next().await {
            Some(Ok((index, result))) => results[index] = Some(result),
            // A task that panicked: its user stays without a result and is reported below.
            Some(Err(_)) => {}
            None => break,
        }
    }
    Ok(names
        .into_iter()
        .zip(results)
        .map(|(username, result)| UserOutcome {
            username,
            result: result
                .unwrap_or_else(|| UserResult::Failed(Error::Internal("setting this user panicked".into()))),
        })
        .collect())
}

impl UserResult {
    fn of(outcome: Result<(), Error>) -> Self {
        match outcome {
            Ok(()) => UserResult::Set,
            Err(Error::NotReached) => UserResult::NotDone,
            Err(err) => UserResult::Failed(err),
        }
    }
}

/// Who each entry's name means, at most `rate` lookups per second (a user that does not exist
/// yet is waited for as its entry allows, each try in a slot of its own).
async fn identify_all(
    clients: &Clients,
    list: &UserList,
    rate: f64,
    deadline: Instant,
) -> Vec<Result<Identity, Error>> {
    let started = Instant::now();
    let limiter = Arc::new(RateLimiter::per_second(rate));
    let mut found: Vec<Option<Result<Identity, Error>>> = (0..list.users.len()).map(|_| None).collect();
    let mut running = JoinSet::new();
    let mut pending = list.users.iter().cloned().enumerate();
    loop {
        while running.len() < CONCURRENCY {
            let Some((index, request)) = pending.next() else {
                break;
            };
            let (clients, limiter) = (clients.clone(), limiter.clone());
            running.spawn(async move {
                let wait = UserWait {
                    wait: request.wait_for_user,
                    deadline,
                };
                let user = wait
                    .retry(|| async {
                        if !limiter.acquire(deadline).await {
                            return Err(Error::NotReached);
                        }
                        identity::look_up_waiting(
                            &clients,
                            &request.user_pool_id,
                            &request.username,
                            UserWait::none(),
                            deadline,
                        )
                        .await
                    })
                    .await;
                (index, user)
            });
        }
        match running.join_next().await {
            Some(Ok((index, user))) => found[index] = Some(user),
            Some(Err(_)) => {}
            None => break,
        }
    }
    tracing::info!(
        users = list.users.len(),
        read_ms = started.elapsed().as_millis() as u64,
        reads_per_second = rate,
        "looked up who each name of the list means"
    );
    found
        .into_iter()
        .map(|user| user.unwrap_or_else(|| Err(Error::Internal("looking this user up panicked".into()))))
        .collect()
}

/// Refuses a list in which two entries mean one user (a username and its alias or `sub`), naming
/// the first two.
fn refuse_same_user_twice(list: &UserList, users: &[Result<Identity, Error>]) -> Result<(), Error> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (index, user) in users.iter().enumerate() {
        let Ok(user) = user else { continue };
        if let Some(&first) = seen.get(user.username.as_str()) {
            let entry = |i: usize| format!("Users[{i}] (`{}`)", list.users[i].username);
            return Err(Error::SameUserTwice {
                first: entry(first),
                second: entry(index),
                username: user.username.clone(),
                user_pool_id: list.user_pool_id.clone(),
            });
        }
        seen.insert(&user.username, index);
    }
    Ok(())
}

async fn set_one(
    clients: &Clients,
    policy: Policy,
    request: &SetPasswordRequest,
    user: Identity,
    prefetched: &HashMap<String, SecretString>,
    limiter: &RateLimiter,
    deadline: Instant,
) -> UserResult {
    if Instant::now() >= deadline {
        return UserResult::NotDone;
    }
    let resolved = match &request.password {
        // The batch read the current value: only a reference that names no version may use it.
        PasswordRef::Secret {
            secret_id,
            json_key,
            version_stage: None,
            version_id: None,
        } if prefetched.contains_key(secret_id) => setter::bound(clients, policy, request, &user, deadline)
            .await
            .and_then(|()| {
                select_from_secret(
                    secret_id,
                    prefetched[secret_id].clone(),
                    json_key.as_deref(),
                    (&request.user_pool_id, &request.username),
                )
            })
            .map(|password| Resolved { user, password }),
        _ => setter::resolve(clients, policy, request, deadline, Some(user)).await,
    };
    UserResult::of(match resolved {
        Ok(Resolved { user, password }) => {
            setter::apply(clients, request, &user, &password, deadline, Some(limiter)).await
        }
        Err(err) => Err(err),
    })
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
