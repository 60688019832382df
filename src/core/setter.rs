//! The one path that sets a password, whatever the way in: resolve the reference and check that
//! it is bound to the user, check the value, set it, each call within the deadline, waiting for a
//! user that is being created, and, for many users, no faster than a client-side rate limit.

use std::sync::Mutex;
use std::time::Duration;

use secrecy::SecretString;
use tokio::time::Instant;

use crate::aws::clients::Clients;
use crate::aws::cognito::{self, NewPassword};
use crate::core::binding::{self, Policy};
use crate::core::contract::check_password;
use crate::core::deadline::within;
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

/// Resolves the reference and sets the password (see [`apply`]).
pub async fn set_password(
    clients: &Clients,
    policy: Policy,
    request: &SetPasswordRequest,
    deadline: Instant,
    limiter: Option<&RateLimiter>,
) -> Result<(), Error> {
    let password = resolve(clients, policy, request, deadline).await?;
    apply(clients, request, &password, deadline, limiter).await
}

/// Reads the password reference and, beside it, its binding, within the deadline: the value is
/// returned only for the user the reference is bound to (see [`bound`]).
pub async fn resolve(
    clients: &Clients,
    policy: Policy,
    request: &SetPasswordRequest,
    deadline: Instant,
) -> Result<SecretString, Error> {
    // Before the read: a refused selector must not tell whether that version exists.
    refuse_selector(policy, request)?;
    let user = (request.user_pool_id.as_str(), request.username.as_str());
    let stores = clients.stores_for(request.password.id());
    let read = within(
        deadline,
        request.password.call(),
        request.password.resolve(&stores, user),
    );
    let (binding, value) = tokio::join!(check_binding(clients, policy, request, deadline), read);
    match (binding, value) {
        // A secret that is missing or denied says so first: there is nothing to bind yet. What
        // the value holds is never told before the binding allows it.
        (Err(_), Err(read @ (Error::NotFound { .. } | Error::AccessDenied { .. }))) => Err(read),
        (Err(refused), _) => Err(refused),
        (Ok(()), value) => value,
    }
}

/// Refuses a request the deployment's [`Policy`] does not allow: a version selector where they
/// are refused, or a reference not bound to the request's user. Nothing is cached: a binding is
/// read on every request.
pub async fn bound(
    clients: &Clients,
    policy: Policy,
    request: &SetPasswordRequest,
    deadline: Instant,
) -> Result<(), Error> {
    refuse_selector(policy, request)?;
    check_binding(clients, policy, request, deadline).await
}

/// The binding half of [`bound`]: the reference's tag, read now, against the request's user.
async fn check_binding(
    clients: &Clients,
    policy: Policy,
    request: &SetPasswordRequest,
    deadline: Instant,
) -> Result<(), Error> {
    if policy.binding == SecretBinding::None {
        return Ok(());
    }
    let source: &PasswordRef = &request.password;
    within(deadline, binding::read_call(source), async {
        let tag = binding::read(&clients.stores_for(source.id()), source).await?;
        binding::check(
            clients,
            source,
            tag.as_deref(),
            &request.user_pool_id,
            &request.username,
        )
        .await
    })
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

/// Sets an already resolved password: each attempt within the deadline and, with a `limiter`,
/// in a slot of its own; a user that does not exist yet is waited for as the request allows.
pub async fn apply(
    clients: &Clients,
    request: &SetPasswordRequest,
    password: &SecretString,
    deadline: Instant,
    limiter: Option<&RateLimiter>,
) -> Result<(), Error> {
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
