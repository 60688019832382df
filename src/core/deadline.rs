//! The invocation's deadlines: until when AWS calls may run, and until when an answer may still be
//! sent; and running one call within them, so that a hung endpoint is reported by name while
//! there is still time to answer.

use std::time::{Duration, SystemTime};

use lambda_runtime::Context;
use tokio::time::Instant;

use crate::error::{AwsCall, Error};

/// The budget when the runtime gives no deadline (a unit test's default context).
const NO_DEADLINE_BUDGET: Duration = Duration::from_secs(60);
/// Kept back from the deadline for the answer itself (a return value, or a PUT's last bytes).
const ANSWER_MARGIN: Duration = Duration::from_millis(100);

/// Two instants: until when AWS calls may run, and until when the response may still be sent.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    pub work: Instant,
    pub respond: Instant,
}

impl Deadlines {
    /// The invocation's: work stops `response_margin` before its deadline, so that the answer
    /// (a CloudFormation PUT, say) still has time to go out.
    pub fn of(context: &Context, response_margin: Duration) -> Self {
        let left = if context.deadline == 0 {
            NO_DEADLINE_BUDGET
        } else {
            context
                .deadline()
                .duration_since(SystemTime::now())
                .unwrap_or_default()
        };
        let now = Instant::now();
        Deadlines {
            work: now + left.saturating_sub(response_margin),
            respond: now + left.saturating_sub(ANSWER_MARGIN),
        }
    }
}

/// Runs one AWS call until `deadline`; past it, the call is reported by name.
pub async fn within<T>(
    deadline: Instant,
    call: AwsCall,
    work: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    tokio::time::timeout_at(deadline, work)
        .await
        .map_err(|_| Error::Timeout {
            call,
            detail: "no answer before the invocation's deadline".into(),
        })?
}
