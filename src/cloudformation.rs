//! The CloudFormation way in: a custom resource request becomes one request (or a `Users` list),
//! and its outcome one response PUT to the ResponseURL, whatever happens: expired URLs and
//! undeliverable answers end the invocation normally, panics are answered, Deletes always succeed.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;
use lambda_runtime::Context;
use serde_json::{Map, Value, json};
use tokio::time::Instant;
use tracing::Instrument;

use crate::bulk::{self, Summary, UserResult};
use crate::cfn::{self, CfnRequestIds, CfnResponse};
use crate::error::Error;
use crate::event::{self, CfnRequest, SetPasswordRequest};
use crate::handler::{Deadlines, Function, NOTHING_TO_DELETE, log_outcome};
use crate::users::{Request, UserList};

/// The error's share of a FAILED Reason; the rest of the 4096-byte body is for the log stream
/// and the ids CloudFormation sends.
const MAX_ERROR_IN_REASON: usize = 2500;

/// How long a stack's Create or Update retries `AccessDenied` while IAM propagates.
const IAM_PROPAGATION: Duration = Duration::from_secs(10);

impl Function {
    /// A request with `RequestType` and `ResponseURL` that is malformed in some other way still
    /// gets an answer, so the stack does not wait for an hour; a damaged Delete gets SUCCESS,
    /// so that it never blocks a rollback or a stack deletion.
    pub(crate) async fn handle_malformed_cloudformation(
        &self,
        raw: Map<String, Value>,
        problem: String,
        context: &Context,
        deadlines: Deadlines,
    ) -> Result<Value, Error> {
        let kind = "CloudFormation (malformed)";
        let ids = CfnRequestIds::of_raw(&raw);
        let physical_id = ids.physical_resource_id_or_stand_in();
        let response = if raw.get("RequestType").and_then(Value::as_str) == Some("Delete") {
            log_outcome(context, kind, None, Ok("SUCCESS (nothing to delete)"));
            CfnResponse::success(&ids, physical_id, NOTHING_TO_DELETE.into(), HashMap::new())
        } else {
            let err = Error::UnrecognisedEvent(format!("malformed CloudFormation request: {problem}"));
            log_outcome(context, kind, None, Err(&err));
            CfnResponse::failed(&ids, physical_id, reason(&err, context), HashMap::new())
        };
        self.deliver(&ids, response, deadlines).await
    }

    pub(crate) async fn handle_cloudformation(
        &self,
        request: CfnRequest,
        context: &Context,
        deadlines: Deadlines,
    ) -> Result<Value, Error> {
        let ids = CfnRequestIds::of(&request);
        // CloudFormation gives up on a request when its ResponseURL expires; Lambda may still
        // deliver it (async retries, an event kept for hours). Acting on it then would set a
        // password that no stack asked for any more.
        if let Some(expiry) = cfn::response_url_expiry(&ids.response_url)
            && expiry <= SystemTime::now()
        {
            let expired_s_ago = SystemTime::now()
                .duration_since(expiry)
                .unwrap_or_default()
                .as_secs();
            tracing::error!(
                request_id = %context.request_id, event_kind = event::cfn_kind(&request), stack_id = %ids.stack_id,
                logical_resource_id = %ids.logical_resource_id, result = "IGNORED", expired_s_ago,
                "the request's ResponseURL has expired, so CloudFormation no longer waits for it: nothing was set"
            );
            return Ok(
                json!({"Result": "ignored: the ResponseURL expired, CloudFormation gave up on this request"}),
            );
        }
        // The answer is worked out in a task of its own so that a panic in it is caught here and
        // still answered: an unanswered request leaves the stack waiting for an hour. This relies
        // on `panic = "unwind"` in the release profile. The task carries the invocation's span,
        // so its lines have the same context (`requestId`) as every other line.
        let task = tokio::spawn(
            {
                let (function, context) = (self.clone(), context.clone());
                async move { function.cfn_response(request, &context, deadlines).await }
            }
            .instrument(tracing::Span::current()),
        );
        let response = match task.await {
            Ok(response) => response,
            Err(failure) => {
                let err = Error::Internal(
                    if failure.is_panic() {
                        "it panicked"
                    } else {
                        "it was cancelled"
                    }
                    .into(),
                );
                log_outcome(context, "CloudFormation", None, Err(&err));
                CfnResponse::failed(
                    &ids,
                    ids.physical_resource_id_or_stand_in(),
                    reason(&err, context),
                    HashMap::new(),
                )
            }
        };
        self.deliver(&ids, response, deadlines).await
    }

    /// Works out the answer to one CloudFormation request (setting the password on Create and
    /// Update); it cannot fail, since a failure is itself an answer.
    async fn cfn_response(
        &self,
        request: CfnRequest,
        context: &Context,
        deadlines: Deadlines,
    ) -> CfnResponse {
        let ids = CfnRequestIds::of(&request);
        let kind = event::cfn_kind(&request);
        let Some(properties) = event::resource_properties(&request) else {
            let err = Error::UnrecognisedEvent("unknown CloudFormation RequestType".into());
            log_outcome(context, kind, None, Err(&err));
            return CfnResponse::failed(
                &ids,
                ids.physical_resource_id_or_stand_in(),
                reason(&err, context),
                HashMap::new(),
            );
        };
        let is_delete = matches!(request, CloudFormationCustomResourceRequest::Delete(_));
        let is_update = matches!(request, CloudFormationCustomResourceRequest::Update(_));
        let parsed = Request::from_properties(properties);
        let data = match &parsed {
            Ok(Request::One(request)) => data_of(request),
            Ok(Request::Many(list)) => HashMap::from([
                ("UserPoolId".to_owned(), list.user_pool_id.clone()),
                ("Count".to_owned(), list.users.len().to_string()),
            ]),
            Err(_) => HashMap::new(),
        };
        if !is_delete && let Ok(Request::Many(list)) = &parsed {
            return self.cfn_many(list, &ids, context, kind, deadlines, data).await;
        }
        // From here on: one user, or a Delete (of either), which sets nothing.
        let validated = parsed.and_then(|request| match request {
            Request::One(request) => Ok(request),
            Request::Many(_) => Err(Error::Internal("a Users list reached the one-user path".into())),
        });

        if is_delete {
            // Nothing to undo: a password cannot be "unset". A Delete always succeeds, also after
            // a failed Create and with properties that no longer validate, so that a rollback or
            // a stack deletion is never blocked.
            log_outcome(
                context,
                kind,
                validated.as_ref().ok(),
                Ok("SUCCESS (nothing to delete)"),
            );
            CfnResponse::success(
                &ids,
                ids.physical_resource_id_or_stand_in(),
                NOTHING_TO_DELETE.into(),
                data,
            )
        } else {
            let outcome = match validated {
                Ok(request) => match self.set_password_for_stack(&request, deadlines.work).await {
                    Ok(()) => Ok(request),
                    Err(err) => Err((Some(request), err)),
                },
                Err(err) => Err((None, err)),
            };
            match outcome {
                Ok(request) => {
                    log_outcome(context, kind, Some(&request), Ok("SUCCESS"));
                    CfnResponse::success(
                        &ids,
                        request.physical_resource_id(),
                        format!(
                            "set the password of user {} in user pool {}",
                            request.username, request.user_pool_id
                        ),
                        data,
                    )
                }
                Err((request, err)) => {
                    log_outcome(context, kind, request.as_ref(), Err(&err));
                    // An Update that fails keeps the resource it had; a Create that fails gets
                    // the id it would have had, or a stand-in when the properties are invalid.
                    let physical_id = ids
                        .physical_resource_id
                        .clone()
                        .or_else(|| request.map(|r| r.physical_resource_id()))
                        .unwrap_or_else(|| ids.physical_resource_id_or_stand_in());
                    let mut why = reason(&err, context);
                    if is_update && matches!(err, Error::PasswordReused { .. }) {
                        why = format!("{}. {why}", rollback_recovery(&ids));
                    }
                    CfnResponse::failed(&ids, physical_id, why, data)
                }
            }
        }
    }

    /// A Create or Update with a `Users` list: SUCCESS only when every user was set; FAILED
    /// names the users that were not, and why (the full list is in the log).
    async fn cfn_many(
        &self,
        list: &UserList,
        ids: &CfnRequestIds,
        context: &Context,
        kind: &'static str,
        deadlines: Deadlines,
        data: HashMap<String, String>,
    ) -> CfnResponse {
        let summary = self.run_many_for_stack(list, context, kind, deadlines).await;
        // A function of the pool only: another pool is another resource (CloudFormation then
        // replaces it), and a changed list keeps it, as a changed reference does for one user.
        // An Update that fails keeps the resource it had.
        let physical_id = format!("{}/users", list.user_pool_id);
        match summary.into_result() {
            Ok(summary) => CfnResponse::success(
                ids,
                physical_id,
                format!(
                    "set the passwords of {} users in user pool {}",
                    summary.total, list.user_pool_id
                ),
                data,
            ),
            Err(err) => CfnResponse::failed(
                ids,
                ids.physical_resource_id.clone().unwrap_or(physical_id),
                reason(&err, context),
                data,
            ),
        }
    }

    async fn deliver(
        &self,
        ids: &CfnRequestIds,
        response: CfnResponse,
        deadlines: Deadlines,
    ) -> Result<Value, Error> {
        let body = response.body();
        match cfn::respond(
            &self.clients.http,
            &ids.response_url,
            body.clone(),
            deadlines.respond,
        )
        .await
        {
            Ok(()) => Ok(serde_json::from_str(&body).unwrap_or(Value::Null)),
            // Lambda retries any function error of an async invocation; a response that can never
            // be delivered (4xx: the pre-signed URL expired or was refused) would only be worked
            // out again. Only a delivery that may still succeed is left to Lambda's retries.
            Err(err) if !err.is_retryable() => {
                tracing::error!(request_id = %ids.request_id, error = %err, "the CloudFormation response was not delivered, and cannot be: not retried");
                Ok(json!({
                    "Result": "undeliverable",
                    "Error": err.to_string(),
                    "Response": serde_json::from_str::<Value>(&body).unwrap_or(Value::Null),
                }))
            }
            Err(err) => {
                tracing::error!(request_id = %ids.request_id, error = %err, "the CloudFormation response was not delivered");
                Err(err)
            }
        }
    }

    /// [`Function::set_password`] for a stack's Create or Update: `AccessDenied` is retried
    /// while IAM may still be propagating (see [`IamPropagation`]).
    pub(crate) async fn set_password_for_stack(
        &self,
        request: &SetPasswordRequest,
        deadline: Instant,
    ) -> Result<(), Error> {
        let mut iam = IamPropagation::new(deadline);
        loop {
            match self.set_password(request, deadline).await {
                Err(Error::AccessDenied { call, .. }) if iam.wait(&call.to_string()).await => {}
                outcome => return outcome,
            }
        }
    }

    /// [`Function::run_many`] for a stack's Create or Update: the users denied access are tried
    /// again while IAM may still be propagating; the others are not touched twice (a second set
    /// of the same password is refused by a pool that keeps password history). The outcome is
    /// logged once, for the whole list.
    async fn run_many_for_stack(
        &self,
        list: &UserList,
        context: &Context,
        kind: &'static str,
        deadlines: Deadlines,
    ) -> Summary {
        let (started, rate) = (Instant::now(), self.rate_of(list));
        let mut iam = IamPropagation::new(deadlines.work);
        let mut outcomes = bulk::run(&self.clients, list, rate, deadlines.work).await;
        loop {
            let denied: Vec<(usize, String)> = outcomes
                .iter()
                .enumerate()
                .filter_map(|(i, outcome)| match &outcome.result {
                    UserResult::Failed(Error::AccessDenied { call, .. }) => Some((i, call.to_string())),
                    _ => None,
                })
                .collect();
            let Some((_, call)) = denied.first() else { break };
            if !iam.wait(call).await {
                break;
            }
            let again = UserList {
                users: denied.iter().map(|(i, _)| list.users[*i].clone()).collect(),
                ..list.clone()
            };
            let retried = bulk::run(&self.clients, &again, rate, deadlines.work).await;
            for ((i, _), outcome) in denied.into_iter().zip(retried) {
                // A retry the deadline cut short keeps the denial, which says what to fix.
                if !matches!(outcome.result, UserResult::NotDone) {
                    outcomes[i] = outcome;
                }
            }
        }
        self.log_many(list, context, kind, started, &outcomes)
    }
}

/// A stack's Create or Update may run moments after the same stack created the function's role
/// or policy, and IAM takes a few seconds to propagate: `AccessDenied` is retried for
/// [`IAM_PROPAGATION`], ending a second before the deadline, before it is final. Direct calls,
/// events and queues do not wait: there, denied is an answer to act on.
struct IamPropagation {
    started: Instant,
    until: Instant,
    pause: Duration,
}

impl IamPropagation {
    fn new(deadline: Instant) -> Self {
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
    async fn wait(&mut self, call: &str) -> bool {
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

/// A rollback sends an Update with the previous properties; a pool with password history refuses
/// the previous password, and the stack would end in UPDATE_ROLLBACK_FAILED. FAILED is still the
/// truthful answer (the password was not set), so the Reason leads with the way out.
fn rollback_recovery(ids: &CfnRequestIds) -> String {
    // arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/ID
    let stack = ids.stack_id.split('/').nth(1).unwrap_or(&ids.stack_id);
    format!(
        "If this is a rollback and the stack is now UPDATE_ROLLBACK_FAILED, recover with `aws \
         cloudformation continue-update-rollback --stack-name {stack} --resources-to-skip {}` (the \
         user keeps the password it has), then store a new password in the secret and update the stack",
        ids.logical_resource_id
    )
}

fn data_of(request: &SetPasswordRequest) -> HashMap<String, String> {
    HashMap::from([
        ("UserPoolId".to_owned(), request.user_pool_id.clone()),
        ("Username".to_owned(), request.username.clone()),
    ])
}

/// The FAILED Reason: the error, and where to read more. The error is shortened first, so that
/// the log stream survives even when the message is long (a 2048-character secret ARN, say).
fn reason(err: &Error, context: &Context) -> String {
    let mut message = err.to_string();
    if message.len() > MAX_ERROR_IN_REASON {
        message.truncate(message.floor_char_boundary(MAX_ERROR_IN_REASON));
        message.push('…');
    }
    let stream = &context.env_config.log_stream;
    if stream.is_empty() {
        message
    } else {
        format!(
            "{message} (log stream: {}, {stream})",
            context.env_config.log_group
        )
    }
}
