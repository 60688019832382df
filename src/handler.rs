//! One invocation, end to end: recognise the event and hand it to its way in, within the
//! deadline. CloudFormation's protocol is in [`crate::cloudformation`]; rotation, sync, SQS and
//! Terraform each have a module that turns their event into requests and the outcome into their
//! answer.

use std::time::{Duration, SystemTime};

use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use tokio::time::Instant;

pub use crate::clients::Clients;
pub use crate::settings::{DEFAULT_RESPONSE_MARGIN, Settings};

use crate::bulk::{self, Summary, UserOutcome};
use crate::error::{AwsCall, Error};
use crate::event::{Invocation, SetPasswordRequest};
use crate::rotation::{self, RotationEvent};
use crate::setter::{self, RateLimiter, within};
use crate::sqs;
use crate::sync::{self, LabelUpdated, Synced};
use crate::terraform::{self, Action};
use crate::user_wait::{self, UserWait};
use crate::users::{Request, UserList};
use aws_lambda_events::event::sqs::SqsEvent;

/// What a Delete answers: there is nothing to undo, a password cannot be "unset".
pub(crate) const NOTHING_TO_DELETE: &str = "nothing to delete: the user and password are left as they are";
/// The budget when the runtime gives no deadline (a unit test's default context).
const NO_DEADLINE_BUDGET: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Function {
    pub clients: Clients,
    pub settings: Settings,
}

/// Two instants: until when AWS calls may run, and until when the response may still be sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadlines {
    pub(crate) work: Instant,
    pub(crate) respond: Instant,
}

impl Function {
    pub fn new(clients: Clients, settings: Settings) -> Self {
        Function { clients, settings }
    }

    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        let (payload, context) = event.into_parts();
        let deadlines = self.deadlines(&context);
        let invocation = match Invocation::recognise(payload) {
            Ok(invocation) => invocation,
            Err(err) => {
                tracing::error!(request_id = %context.request_id, event_kind = "unrecognised", result = "FAILED", error = %err);
                return Err(err);
            }
        };
        let kind = invocation.kind();
        match invocation {
            Invocation::CloudFormation(request) => {
                self.handle_cloudformation(*request, &context, deadlines).await
            }
            Invocation::MalformedCloudFormation { raw, problem } => {
                self.handle_malformed_cloudformation(raw, problem, &context, deadlines)
                    .await
            }
            Invocation::EventBridge(event) => {
                self.handle_direct(&event.detail, &context, kind, deadlines).await
            }
            Invocation::Direct(properties) => {
                match terraform::action(&properties, &self.settings.terraform_key) {
                    None => self.handle_direct(&properties, &context, kind, deadlines).await,
                    Some(Ok(Action::Delete)) => {
                        // As a CloudFormation Delete: nothing to undo, and never a blocked destroy.
                        log_outcome(
                            &context,
                            Action::Delete.kind(),
                            None,
                            Ok("SUCCESS (nothing to delete)"),
                        );
                        Ok(json!({ "Result": NOTHING_TO_DELETE }))
                    }
                    Some(Ok(action)) => {
                        self.handle_direct(&properties, &context, action.kind(), deadlines)
                            .await
                    }
                    Some(Err(err)) => {
                        log_outcome(&context, "Terraform", None, Err(&err));
                        Err(err)
                    }
                }
            }
            Invocation::Rotation(event) => self.handle_rotation(&event, &context, deadlines).await,
            Invocation::Sqs(event) => self.handle_sqs(*event, &context, deadlines).await,
            Invocation::SecretLabelUpdated(event) => self.handle_sync(&event, &context, deadlines).await,
        }
    }

    /// An SQS batch: each record is one request, worked on in turn at the rate limit; the answer
    /// lists the records that failed (or were not reached before the deadline), so that only
    /// those are retried.
    async fn handle_sqs(
        &self,
        event: SqsEvent,
        context: &Context,
        deadlines: Deadlines,
    ) -> Result<Value, Error> {
        let rate = self.settings.queue_calls_per_second();
        let limiter = RateLimiter::per_second(rate);
        let mut failed = Vec::new();
        for (message_id, body) in sqs::records(event) {
            // A record the deadline leaves no time for goes back to the queue as not done.
            let body = if Instant::now() >= deadlines.work {
                Err(Error::NotReached)
            } else {
                body.map_err(Error::BadMessage)
            };
            let outcome = match body.and_then(|b| Request::from_properties(&b)) {
                Err(err) => Err(err),
                Ok(Request::One(request)) => {
                    setter::set_password(&self.clients, &request, deadlines.work, Some(&limiter)).await
                }
                Ok(Request::Many(list)) => self
                    .run_many(
                        &UserList {
                            max_calls_per_second: list.max_calls_per_second.or(Some(rate)),
                            ..list
                        },
                        context,
                        "SQS",
                        deadlines,
                    )
                    .await
                    .0
                    .into_result()
                    .map(|_| ()),
            };
            match outcome {
                Ok(()) => {
                    tracing::info!(request_id = %context.request_id, event_kind = "SQS", message_id, result = "SUCCESS", "record handled")
                }
                Err(err) => {
                    tracing::error!(request_id = %context.request_id, event_kind = "SQS", message_id, result = "FAILED", error = %err, "record failed; it goes back to the queue");
                    failed.push(message_id);
                }
            }
        }
        serde_json::to_value(sqs::answer(failed)).map_err(|err| Error::Internal(err.to_string()))
    }

    /// A rotation step: the result is logged and returned; a failure is an invocation error, so
    /// that Secrets Manager marks the rotation failed and tries again.
    async fn handle_rotation(
        &self,
        event: &RotationEvent,
        context: &Context,
        deadlines: Deadlines,
    ) -> Result<Value, Error> {
        let call = AwsCall {
            action: event.step.name(),
            resource: event.secret_id.clone(),
        };
        let outcome = within(
            deadlines.work,
            call,
            rotation::rotate(&self.clients, &self.settings, event),
        )
        .await;
        let (step, secret_id, version) = (event.step.name(), &event.secret_id, &event.client_request_token);
        match outcome {
            Ok(result) => {
                tracing::info!(request_id = %context.request_id, event_kind = "rotation", step, secret_id, version, result, "rotation step done");
                Ok(json!({"Step": step, "SecretId": secret_id, "Result": result}))
            }
            Err(err) => {
                tracing::error!(request_id = %context.request_id, event_kind = "rotation", step, secret_id, version, result = "FAILED", retryable = err.is_retryable(), error = %err, "rotation step failed");
                Err(err)
            }
        }
    }

    /// `Secret Label Updated`: a failure is an invocation error, so that EventBridge's retries and
    /// the dead-letter queue apply.
    async fn handle_sync(
        &self,
        event: &LabelUpdated,
        context: &Context,
        deadlines: Deadlines,
    ) -> Result<Value, Error> {
        let call = AwsCall {
            action: "sync",
            resource: event.secret_id.clone(),
        };
        let wait = UserWait {
            wait: user_wait::DEFAULT_WAIT,
            deadline: deadlines.work,
        };
        let outcome = within(deadlines.work, call, sync::sync(&self.clients, event, wait)).await;
        let (secret_id, label, version) = (&event.secret_id, &event.label, &event.version_id);
        match outcome {
            Ok(Synced::Set {
                user_pool_id,
                username,
            }) => {
                tracing::info!(request_id = %context.request_id, event_kind = "sync", secret_id, label, version, user_pool_id, username, result = "SUCCESS", "password set from the new AWSCURRENT");
                Ok(
                    json!({"SecretId": secret_id, "VersionId": version, "UserPoolId": user_pool_id, "Username": username, "Result": "set"}),
                )
            }
            Ok(Synced::Skipped(why)) => {
                tracing::info!(request_id = %context.request_id, event_kind = "sync", secret_id, label, version, result = "SKIPPED", why, "nothing to sync");
                Ok(json!({"SecretId": secret_id, "VersionId": version, "Result": why}))
            }
            Err(err) => {
                tracing::error!(request_id = %context.request_id, event_kind = "sync", secret_id, label, version, result = "FAILED", retryable = err.is_retryable(), error = %err, "sync failed");
                Err(err)
            }
        }
    }

    fn deadlines(&self, context: &Context) -> Deadlines {
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
            work: now + left.saturating_sub(self.settings.response_margin),
            respond: now + left.saturating_sub(Duration::from_millis(100)),
        }
    }

    /// EventBridge and direct calls: the result is the return value, a failure is an
    /// invocation error (so EventBridge retries and dead-letter queues apply).
    async fn handle_direct(
        &self,
        properties: &Value,
        context: &Context,
        kind: &'static str,
        deadlines: Deadlines,
    ) -> Result<Value, Error> {
        let request = match Request::from_properties(properties) {
            Ok(Request::One(request)) => request,
            Ok(Request::Many(list)) => {
                let (summary, outcomes) = self.run_many(&list, context, kind, deadlines).await;
                return summary
                    .into_result()
                    .map(|_| bulk::results_json(&list, &outcomes));
            }
            Err(err) => {
                log_outcome(context, kind, None, Err(&err));
                return Err(err);
            }
        };
        match self.set_password(&request, deadlines.work).await {
            Ok(()) => {
                log_outcome(context, kind, Some(&request), Ok("SUCCESS"));
                Ok(json!({
                    "UserPoolId": request.user_pool_id,
                    "Username": request.username,
                    "Permanent": request.permanent,
                }))
            }
            Err(err) => {
                log_outcome(context, kind, Some(&request), Err(&err));
                Err(err)
            }
        }
    }

    /// Runs a `Users` list at its rate, and logs the outcome (see [`Function::log_many`]).
    pub(crate) async fn run_many(
        &self,
        list: &UserList,
        context: &Context,
        kind: &'static str,
        deadlines: Deadlines,
    ) -> (Summary, Vec<UserOutcome>) {
        let started = Instant::now();
        let outcomes = bulk::run(&self.clients, list, self.rate_of(list), deadlines.work).await;
        (self.log_many(list, context, kind, started, &outcomes), outcomes)
    }

    /// The request's own `MaxCallsPerSecond`, else the setting's.
    pub(crate) fn rate_of(&self, list: &UserList) -> f64 {
        list.max_calls_per_second
            .unwrap_or(self.settings.max_calls_per_second)
    }

    /// Logs what became of a list: one line for the whole, and one for each user not set.
    pub(crate) fn log_many(
        &self,
        list: &UserList,
        context: &Context,
        kind: &'static str,
        started: Instant,
        outcomes: &[UserOutcome],
    ) -> Summary {
        let summary = Summary::of(outcomes);
        for line in &summary.not_set {
            tracing::error!(request_id = %context.request_id, event_kind = kind, user_pool_id = %list.user_pool_id, user = %line, "a user of the list was not set");
        }
        tracing::info!(
            request_id = %context.request_id, event_kind = kind, user_pool_id = %list.user_pool_id,
            users = summary.total, set = summary.set, not_set = summary.not_set.len(), max_calls_per_second = self.rate_of(list),
            elapsed_ms = started.elapsed().as_millis() as u64,
            result = if summary.not_set.is_empty() { "SUCCESS" } else { "FAILED" },
            "users list handled"
        );
        summary
    }

    /// Resolves the password reference and sets it, each call bounded by `deadline` so that a
    /// hung endpoint is reported by name while there is still time to answer.
    pub async fn set_password(&self, request: &SetPasswordRequest, deadline: Instant) -> Result<(), Error> {
        if self.settings.panic_for_username.as_deref() == Some(request.username.as_str()) {
            panic!("injected panic: TEST_PANIC_FOR_USERNAME names this user");
        }
        setter::set_password(&self.clients, request, deadline, None).await
    }
}

/// One line per outcome, with what an operator searches logs by.
pub(crate) fn log_outcome(
    context: &Context,
    kind: &str,
    request: Option<&SetPasswordRequest>,
    result: Result<&str, &Error>,
) {
    let pool = request.map(|r| r.user_pool_id.as_str()).unwrap_or("-");
    let user = request.map(|r| r.username.as_str()).unwrap_or("-");
    match result {
        Ok(result) => tracing::info!(
            request_id = %context.request_id, event_kind = kind, user_pool_id = pool, username = user,
            permanent = request.map(|r| r.permanent), result, "password request handled"
        ),
        Err(err) => tracing::error!(
            request_id = %context.request_id, event_kind = kind, user_pool_id = pool, username = user,
            result = "FAILED", retryable = err.is_retryable(), error = %err, "password request failed"
        ),
    }
}
