//! Waiting, briefly, for IAM: a stack's Create or Update may run moments after the same stack
//! created the function's role or policy.

use std::time::Duration;

use tokio::time::Instant;

/// How long a stack's Create or Update retries `AccessDenied` while IAM propagates.
const IAM_PROPAGATION: Duration = Duration::from_secs(10);

/// A stack's Create or Update may run moments after the same stack created the function's role
/// or policy, and IAM takes a few seconds to propagate: `AccessDenied` is retried for
/// [`IAM_PROPAGATION`], ending a second before the deadline, before it is final. Direct calls,
/// events and queues do not wait: there, denied is an answer to act on.
pub struct IamPropagation {
    started: Instant,
    until: Instant,
    pause: Duration,
}

impl IamPropagation {
    pub fn new(deadline: Instant) -> Self {
        let started = Instant::now();
        IamPropagation {
            started,
            until: (started + IAM_PROPAGATION)
                .min(deadline.checked_sub(Duration::from_secs(1)).unwrap_or(deadline)),
            pause: Duration::from_millis(500),
        }
    }

    /// Waits before another try of `call` (jittered, doubling to 4 s); `false`, at once, when
    /// the time for IAM to propagate is over.
    pub async fn wait(&mut self, call: &str) -> bool {
        if Instant::now() + self.pause >= self.until {
            return false;
        }
        tracing::warn!(call = %call, waited_ms = self.started.elapsed().as_millis() as u64,
            "access denied; retrying briefly, since IAM may still be propagating a new role or policy");
        tokio::time::sleep(self.pause / 2 + self.pause.mul_f64(fastrand::f64() / 2.0)).await;
        self.pause = (self.pause * 2).min(Duration::from_secs(4));
        true
    }
}
