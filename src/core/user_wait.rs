//! Waiting, within bounds, for a user that is being created. CloudFormation creates resources in
//! parallel: a template without `DependsOn` on the user (or a user made by another stack, a
//! trigger or a script a moment later) sends the request before the user exists. Retrying
//! `UserNotFoundException` with backoff for a bounded time turns that race into a short wait.

use std::time::Duration;

use tokio::time::Instant;

use crate::error::Error;

/// `WaitForUserSeconds` when the request does not say.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);
/// The largest `WaitForUserSeconds` accepted (Lambda's own limit on an invocation is 900 s).
pub const MAX_WAIT_SECONDS: u64 = 900;

const FIRST_PAUSE: Duration = Duration::from_millis(250);
const MAX_PAUSE: Duration = Duration::from_secs(3);
/// Kept back from the deadline for the last attempt after the wait.
const LAST_ATTEMPT: Duration = Duration::from_secs(1);

/// How long to wait for a missing user: at most `wait`, and never past `deadline`.
#[derive(Debug, Clone, Copy)]
pub struct UserWait {
    pub wait: Duration,
    pub deadline: Instant,
}

impl UserWait {
    /// No waiting: a missing user fails at once (rotation's setSecret, which Secrets Manager
    /// retries by itself).
    pub fn none() -> Self {
        UserWait {
            wait: Duration::ZERO,
            deadline: Instant::now(),
        }
    }

    /// Runs `attempt` until it does anything but fail with [`Error::UserNotFound`], or the wait
    /// is over. Logs once when the wait starts and once when it ends.
    pub async fn retry<T, F, Fut>(self, mut attempt: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let started = Instant::now();
        let end = (started + self.wait).min(self.deadline.checked_sub(LAST_ATTEMPT).unwrap_or(self.deadline));
        let mut pause = FIRST_PAUSE;
        let mut waiting = false;
        loop {
            let outcome = attempt().await;
            let Err(Error::UserNotFound {
                username,
                user_pool_id,
            }) = outcome
            else {
                if waiting {
                    tracing::info!(
                        waited_ms = started.elapsed().as_millis() as u64,
                        found = outcome.is_ok(),
                        "the wait for the user is over: the user was found after {:.1} s",
                        started.elapsed().as_secs_f64()
                    );
                }
                return outcome;
            };
            let now = Instant::now();
            if now >= end {
                if !waiting {
                    // No wait allowed (WaitForUserSeconds 0, or no time left): today's answer.
                    return Err(Error::UserNotFound {
                        username,
                        user_pool_id,
                    });
                }
                let waited = started.elapsed();
                tracing::warn!(
                    username = %username, user_pool_id = %user_pool_id, waited_ms = waited.as_millis() as u64,
                    "the wait for the user is over: it did not appear"
                );
                return Err(Error::UserNeverAppeared {
                    username,
                    user_pool_id,
                    waited_seconds: waited.as_secs_f64().round() as u64,
                });
            }
            if !waiting {
                waiting = true;
                tracing::info!(
                    username = %username, user_pool_id = %user_pool_id,
                    wait_s = end.saturating_duration_since(started).as_secs(),
                    "the user does not exist (yet): waiting for it to be created"
                );
            }
            let jittered = pause / 2 + pause.mul_f64(fastrand::f64() / 2.0);
            tokio::time::sleep(jittered.min(end.saturating_duration_since(now))).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }
}
