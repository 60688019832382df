//! The one path that sets a password, whatever the way in: resolve the reference, learn which
//! user the name means and check that the reference is bound to that user, check the value, set
//! it, each call within the deadline, waiting for a user that is being created, and, for many
//! users, no faster than a client-side rate limit.

use std::sync::Mutex;
use std::time::Duration;

use secrecy::SecretString;
use tokio::time::Instant;

use crate::aws::clients::Clients;
use crate::aws::cognito::{self, NewPassword};
use crate::core::binding::{self, Policy};
use crate::core::contract::check_password;
use crate::core::deadline::within;
use crate::core::identity::{self, Identity};
use crate::core::password::PasswordRef;
use crate::core::request::SetPasswordRequest;
use crate::core::user_wait::UserWait;
use crate::error::Error;
use crate::settings::SecretBinding;

/// Kept back from the deadline for a call that starts in the last rate-limited slot.
const LAST_SLOT_MARGIN: Duration = Duration::from_secs(1);

/// Spaces calls evenly: at most `rate` per second, shared by every task of one invocation.
/// Cognito's quotas are per account and per second; a burst past them is throttled, and a
/// throttled bulk run fails half-way. Throttling that still happens is retried by the SDK.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl RateLimiter {
    pub fn per_second(rate: f64) -> Self {
        RateLimiter {
            interval: Duration::from_secs_f64(1.0 / rate),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for the next free slot; `false` (and no slot taken) when it would come too late
    /// for a call to finish before `deadline`.
    pub async fn acquire(&self, deadline: Instant) -> bool {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let slot = (*next).max(Instant::now());
            if slot + LAST_SLOT_MARGIN > deadline {
                return false;
            }
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
        true
    }
}

/// Resolves the reference and sets the password (see [`apply`]); `Ok` is the user it was set for,
/// as the pool names it.
pub async fn set_password(
    clients: &Clients,
    policy: Policy,
    request: &SetPasswordRequest,
    deadline: Instant,
    limiter: Option<&RateLimiter>,
) -> Result<Identity, Error> {
    let Resolved { user, password } = resolve(clients, policy, request, deadline, None).await?;
    apply(clients, request, &user, &password, deadline, limiter).await?;
    Ok(user)
}

/// A request made ready to set: who its name means, and the password for that user.
pub struct Resolved {
    pub user: Identity,
    pub password: SecretString,
}

/// Reads the password reference, its binding and who the request's name means, side by side and
/// within the deadline (`known`: who it means, already looked up). The value is returned only for
/// the user the reference is bound to, and never for a federated user's profile unless the
/// deployment allows it.
pub async fn resolve(
    clients: &Clients,
    policy: Policy,
    request: &SetPasswordRequest,
    deadline: Instant,
    known: Option<Identity>,
) -> Result<Resolved, Error> {
    // Before the read: a refused selector must not tell whether that version exists.
    refuse_selector(policy, request)?;
    let (pool, name) = (request.user_pool_id.as_str(), request.username.as_str());
    let stores = clients.stores_for(request.password.id());
    let read = within(
        deadline,
        request.password.call(),
        request.password.resolve(&stores, (pool, name)),
    );
    let user = async {
        match known {
            Some(user) => Ok(user),
            None => identity::look_up_waiting(clients, pool, name, UserWait::none(), deadline).await,
        }
    };
    let (tag, value, user) = tokio::join!(read_tag(clients, policy, request, deadline), read, user);
    let (tag, binding) = match tag {
        Ok(tag) => {
            let binding = check_tag(
                clients,
                policy,
                request,
                tag.as_deref(),
                user.as_ref().ok(),
                deadline,
            )
            .await;
            (tag, binding)
        }
        Err(err) => (None, Err(err)),
    };
    let password = match (binding, value) {
        // A secret that is missing or denied says so first: there is nothing to bind yet. What
        // the value holds is never told before the binding allows it.
        (Err(_), Err(read @ (Error::NotFound { .. } | Error::AccessDenied { .. }))) => return Err(read),
        (Err(refused), _) => return Err(refused),
        (Ok(()), value) => value?,
    };
    let user = match user {
        // The binding passed on the name as written: wait for the user it means, then hold the
        // binding to that user.
        Err(Error::UserNotFound { .. }) if !request.wait_for_user.is_zero() => {
            let wait = UserWait {
                wait: request.wait_for_user,
                deadline,
            };
            let user = identity::look_up_waiting(clients, pool, name, wait, deadline).await?;
            check_tag(clients, policy, request, tag.as_deref(), Some(&user), deadline).await?;
            user
        }
        other => other?,
    };
    identity::refuse_federated(policy.allow_federated_users, pool, &user)?;
    Ok(Resolved { user, password })
}

/// Refuses a request the deployment's [`Policy`] does not allow for `user`: a version selector
/// where they are refused, a reference not bound to that user, a federated profile. Nothing is
/// cached: a binding is read on every request.
pub async fn bound(
    clients: &Clients,
    policy: Policy,
    request: &SetPasswordRequest,
    user: &Identity,
    deadline: Instant,
) -> Result<(), Error> {
    refuse_selector(policy, request)?;
    let tag = read_tag(clients, policy, request, deadline).await?;
    check_tag(clients, policy, request, tag.as_deref(), Some(user), deadline).await?;
    identity::refuse_federated(policy.allow_federated_users, &request.user_pool_id, user)
}

/// The reference's binding tag, read now; `None` also where the deployment binds nothing.
async fn read_tag(
    clients: &Clients,
    policy: Policy,
    request: &SetPasswordRequest,
    deadline: Instant,
) -> Result<Option<String>, Error> {
    if policy.binding == SecretBinding::None {
        return Ok(None);
    }
    let source: &PasswordRef = &request.password;
    within(
        deadline,
        binding::read_call(source),
        binding::read(&clients.stores_for(source.id()), source),
    )
    .await
}

/// Holds the request to the binding `tag` names (see [`binding::check`]).
async fn check_tag(
    clients: &Clients,
    policy: Policy,
    request: &SetPasswordRequest,
    tag: Option<&str>,
    user: Option<&Identity>,
    deadline: Instant,
) -> Result<(), Error> {
    if policy.binding == SecretBinding::None {
        return Ok(());
    }
    within(
        deadline,
        cognito::get_user_call(&request.user_pool_id),
        binding::check(
            clients,
            &request.password,
            tag,
            &request.user_pool_id,
            &request.username,
            user,
        ),
    )
    .await
}

fn refuse_selector(policy: Policy, request: &SetPasswordRequest) -> Result<(), Error> {
    match binding::selector(&request.password) {
        Some(selector) if !policy.allow_version_selectors => Err(Error::VersionSelectorRefused {
            source_name: request.password.to_string(),
            selector,
        }),
        _ => Ok(()),
    }
}

/// Sets an already resolved password for `user` (by its username as the pool stores it): each
/// attempt within the deadline and, with a `limiter`, in a slot of its own; a user that is gone
/// for a moment is waited for as the request allows.
pub async fn apply(
    clients: &Clients,
    request: &SetPasswordRequest,
    user: &Identity,
    password: &SecretString,
    deadline: Instant,
    limiter: Option<&RateLimiter>,
) -> Result<(), Error> {
    let request = &SetPasswordRequest {
        username: user.username.clone(),
        ..request.clone()
    };
    let wait = UserWait {
        wait: request.wait_for_user,
        deadline,
    };
    wait.retry(|| async {
        if let Some(limiter) = limiter
            && !limiter.acquire(deadline).await
        {
            return Err(Error::NotReached);
        }
        within(
            deadline,
            cognito::set_password_call(&request.user_pool_id),
            set_in_cognito(clients, request, password),
        )
        .await
    })
    .await
}

/// Checks the value against the API's contract, then sets it: the one call that changes a
/// password, for every way in, rotation and sync included.
pub async fn set_in_cognito(
    clients: &Clients,
    request: &SetPasswordRequest,
    password: &SecretString,
) -> Result<(), Error> {
    let source_detail = request.password.source_name();
    check_password(&source_detail, password)?;
    let new = NewPassword {
        user_pool_id: &request.user_pool_id,
        username: &request.username,
        password,
        permanent: request.permanent,
        source: &request.password.to_string(),
        source_detail: &source_detail,
    };
    cognito::set_password(&clients.cognito_for(&request.user_pool_id), &new).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slots_are_spaced_and_none_is_given_too_late() {
        let limiter = RateLimiter::per_second(20.0);
        let start = Instant::now();
        let deadline = start + Duration::from_secs(2);
        let mut granted = Vec::new();
        while limiter.acquire(deadline).await {
            granted.push(Instant::now() - start);
        }
        // 0, 50, ..., 950 ms: 20 slots fit before the deadline less the last slot's margin.
        assert_eq!(granted.len(), 21, "{granted:?}");
        assert!(
            granted
                .windows(2)
                .all(|w| w[1] - w[0] == Duration::from_millis(50))
        );
    }
}
