//! One invocation, end to end: recognise the event, set the password within the deadline, and
//! answer the way the caller expects (a CloudFormation response, or a return value / error).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::Instrument;

use crate::cfn::{self, CfnRequestIds, CfnResponse};

use crate::bulk::{self, Summary, UserOutcome};
use crate::error::{AwsCall, Error};
use crate::event::{self, CfnRequest, Invocation, SetPasswordRequest};
use crate::password::{PasswordRef, SecretStores};
use crate::regions::{self, Regions};
use crate::rotation::{self, RotationEvent};
use crate::setter::{self, RateLimiter, within};
use crate::sqs;
use crate::sync::{self, LabelUpdated, Synced};
use crate::terraform::{self, Action};
use crate::user_wait::{self, UserWait};
use crate::users::{self, Request, UserList};
use aws_lambda_events::event::sqs::SqsEvent;

/// What a Delete answers: there is nothing to undo, a password cannot be "unset".
const NOTHING_TO_DELETE: &str = "nothing to delete: the user and password are left as they are";
/// The error's share of a FAILED Reason; the rest of the 4096-byte body is for the log stream
/// and the ids CloudFormation sends.
const MAX_ERROR_IN_REASON: usize = 2500;

/// Time kept back from the invocation's deadline to deliver the CloudFormation response.
pub const DEFAULT_RESPONSE_MARGIN: Duration = Duration::from_millis(2000);
/// How long a stack's Create or Update retries `AccessDenied` while IAM propagates.
const IAM_PROPAGATION: Duration = Duration::from_secs(10);
/// The budget when the runtime gives no deadline (a unit test's default context).
const NO_DEADLINE_BUDGET: Duration = Duration::from_secs(60);

/// The clients, built once per cold start and shared by every invocation.
#[derive(Debug, Clone)]
pub struct Clients {
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub stores: SecretStores,
    /// The clients of the region each id names (see [`crate::regions`]).
    pub regions: Regions,
    pub http: reqwest::Client,
}

impl Clients {
    /// Cognito in the region the user pool id names.
    pub fn cognito_for(&self, user_pool_id: &str) -> aws_sdk_cognitoidentityprovider::Client {
        self.regions.get(regions::of_user_pool(user_pool_id)).cognito
    }

    /// Secrets Manager in the region the secret's ARN names (a name: the function's own).
    pub fn secrets_manager_for(&self, secret_id: &str) -> aws_sdk_secretsmanager::Client {
        self.regions
            .get(regions::of_arn(secret_id))
            .stores
            .secrets_manager
    }

    /// The stores in the region the reference's ARN names.
    pub fn stores_for(&self, reference: &PasswordRef) -> SecretStores {
        let id = match reference {
            PasswordRef::Secret { secret_id, .. } => secret_id,
            PasswordRef::Parameter { name } => name,
        };
        self.regions.get(regions::of_arn(id)).stores
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// See [`DEFAULT_RESPONSE_MARGIN`]; `RESPONSE_MARGIN_MS` in the environment.
    pub response_margin: Duration,
    /// The length of a password that rotation generates, unless the pool's policy asks for more
    /// (`ROTATION_PASSWORD_LENGTH`; at most 256).
    pub rotation_password_length: u32,
    /// Calls per second to Cognito when a request sets many users and does not say
    /// (`MAX_CALLS_PER_SECOND`; Cognito's default quota for its user-update calls is 25).
    pub max_calls_per_second: f64,
    /// The key Terraform's `aws_lambda_invocation` adds to the input (`TERRAFORM_KEY`; the
    /// resource's `terraform_key`).
    pub terraform_key: String,
    /// A test hook (`TEST_PANIC_FOR_USERNAME`): a request for this user panics while it is
    /// handled, so the tests can prove on the release build that a panic is still answered.
    pub panic_for_username: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            response_margin: DEFAULT_RESPONSE_MARGIN,
            rotation_password_length: rotation::DEFAULT_PASSWORD_LENGTH,
            terraform_key: terraform::DEFAULT_KEY.into(),
            max_calls_per_second: users::DEFAULT_MAX_CALLS_PER_SECOND,
            panic_for_username: None,
        }
    }
}

impl Settings {
    /// Reads the settings from the environment. A value that does not parse is reported and
    /// replaced by its default: failing the cold start would leave CloudFormation unanswered.
    pub fn from_env() -> Self {
        let mut settings = Settings::default();
        if let Ok(text) = std::env::var("RESPONSE_MARGIN_MS") {
            match text.trim().parse::<u64>() {
                Ok(millis) => settings.response_margin = Duration::from_millis(millis),
                Err(_) => tracing::error!(
                    value = %text,
                    default_ms = DEFAULT_RESPONSE_MARGIN.as_millis() as u64,
                    "RESPONSE_MARGIN_MS must be a whole number of milliseconds; using the default"
                ),
            }
        }
        if let Ok(text) = std::env::var("ROTATION_PASSWORD_LENGTH") {
            match text.trim().parse::<u32>() {
                Ok(length @ 1..=256) => settings.rotation_password_length = length,
                _ => tracing::error!(
                    value = %text,
                    default = rotation::DEFAULT_PASSWORD_LENGTH,
                    "ROTATION_PASSWORD_LENGTH must be a whole number from 1 to 256; using the default"
                ),
            }
        }
        if let Ok(text) = std::env::var("MAX_CALLS_PER_SECOND") {
            match users::parse_rate(&Value::String(text.clone())) {
                Ok(rate) => settings.max_calls_per_second = rate,
                Err(_) => tracing::error!(
                    value = %text,
                    default = users::DEFAULT_MAX_CALLS_PER_SECOND,
                    "MAX_CALLS_PER_SECOND must be a number above 0 and at most 10000; using the default"
                ),
            }
        }
        if let Ok(key) = std::env::var("TERRAFORM_KEY")
            && !key.trim().is_empty()
        {
            settings.terraform_key = key.trim().to_owned();
        }
        settings.panic_for_username = std::env::var("TEST_PANIC_FOR_USERNAME")
            .ok()
            .filter(|name| !name.is_empty());
        settings
    }
}

#[derive(Debug, Clone)]
pub struct Function {
    pub clients: Clients,
    pub settings: Settings,
}

/// Two instants: until when AWS calls may run, and until when the response may still be sent.
#[derive(Debug, Clone, Copy)]
struct Deadlines {
    work: Instant,
    respond: Instant,
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
                let ids = CfnRequestIds::of_raw(&raw);
                let physical_id = ids.physical_resource_id_or_stand_in();
                // Even a damaged Delete must not block a rollback or a stack deletion.
                let response = if raw.get("RequestType").and_then(Value::as_str) == Some("Delete") {
                    log_outcome(&context, kind, None, Ok("SUCCESS (nothing to delete)"));
                    CfnResponse::success(&ids, physical_id, NOTHING_TO_DELETE.into(), HashMap::new())
                } else {
                    let err =
                        Error::UnrecognisedEvent(format!("malformed CloudFormation request: {problem}"));
                    log_outcome(&context, kind, None, Err(&err));
                    CfnResponse::failed(&ids, physical_id, reason(&err, &context), HashMap::new())
                };
                self.deliver(&ids, response, deadlines).await
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
        let limiter = RateLimiter::per_second(self.settings.max_calls_per_second);
        let mut failed = Vec::new();
        for (message_id, body) in sqs::records(event) {
            let outcome = match body
                .map_err(Error::BadMessage)
                .and_then(|b| Request::from_properties(&b))
            {
                Err(err) => Err(err),
                Ok(Request::One(request)) => {
                    setter::set_password(&self.clients, &request, deadlines.work, Some(&limiter)).await
                }
                Ok(Request::Many(list)) => self
                    .run_many(&list, context, "SQS", deadlines)
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

    async fn handle_cloudformation(
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
        let summary = self.run_many(list, context, kind, deadlines).await.0;
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

    /// Runs a `Users` list at the request's rate (else the setting's), and logs the outcome: one
    /// line for the whole, and one for each user not set.
    async fn run_many(
        &self,
        list: &UserList,
        context: &Context,
        kind: &'static str,
        deadlines: Deadlines,
    ) -> (Summary, Vec<UserOutcome>) {
        let rate = list
            .max_calls_per_second
            .unwrap_or(self.settings.max_calls_per_second);
        let started = Instant::now();
        let outcomes = bulk::run(&self.clients, list, rate, deadlines.work).await;
        let summary = Summary::of(&outcomes);
        for line in &summary.not_set {
            tracing::error!(request_id = %context.request_id, event_kind = kind, user_pool_id = %list.user_pool_id, user = %line, "a user of the list was not set");
        }
        tracing::info!(
            request_id = %context.request_id, event_kind = kind, user_pool_id = %list.user_pool_id,
            users = summary.total, set = summary.set, not_set = summary.not_set.len(), max_calls_per_second = rate,
            elapsed_ms = started.elapsed().as_millis() as u64,
            result = if summary.not_set.is_empty() { "SUCCESS" } else { "FAILED" },
            "users list handled"
        );
        (summary, outcomes)
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

    /// [`Function::set_password`] for a stack's Create or Update, which may run moments after the
    /// same stack created the function's role or policy: IAM takes a few seconds to propagate, so
    /// `AccessDenied` is retried for [`IAM_PROPAGATION`] (within the deadline) before it is final.
    async fn set_password_for_stack(
        &self,
        request: &SetPasswordRequest,
        deadline: Instant,
    ) -> Result<(), Error> {
        let started = Instant::now();
        let until =
            (started + IAM_PROPAGATION).min(deadline.checked_sub(Duration::from_secs(1)).unwrap_or(deadline));
        let mut pause = Duration::from_millis(500);
        loop {
            match self.set_password(request, deadline).await {
                Err(Error::AccessDenied { call, .. }) if Instant::now() + pause < until => {
                    tracing::warn!(call = %call, waited_ms = started.elapsed().as_millis() as u64,
                        "access denied; retrying briefly, since IAM may still be propagating a new role or policy");
                    tokio::time::sleep(pause / 2 + pause.mul_f64(fastrand::f64() / 2.0)).await;
                    pause = (pause * 2).min(Duration::from_secs(4));
                }
                outcome => return outcome,
            }
        }
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

/// One line per outcome, with what an operator searches logs by.
fn log_outcome(
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
