//! The CloudFormation way in: a custom resource request becomes one request (or a `Users` list),
//! and its outcome one response PUT to the ResponseURL, whatever happens: expired URLs and
//! undeliverable answers end the invocation normally, panics are answered, Deletes always succeed.
//! [`request`] reads the request, [`response`] is the response protocol.

pub mod iam_propagation;
pub mod request;
pub mod response;
pub mod response_url;

use std::collections::HashMap;
use std::time::SystemTime;

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;
use serde_json::{Map, Value, json};
use tokio::time::Instant;
use tracing::Instrument;

use crate::core::bulk::{self, Summary, UserResult};
use crate::core::fields::plaintext_key;
use crate::core::request::SetPasswordRequest;
use crate::core::users::{Request, UserList};
use crate::error::Error;
use crate::inbound::invocation::{Invocation, NOTHING_TO_DELETE, SET};
use crate::inbound::metrics::Outcome;
use iam_propagation::IamPropagation;
use request::{CfnRequest, Malformed};
use response::{CfnRequestIds, CfnResponse};
use response_url::Refused;

/// The error's share of a FAILED Reason; the rest of the 4096-byte body is for the log stream
/// and the ids CloudFormation sends.
const MAX_ERROR_IN_REASON: usize = 2500;

pub use request::recognises;

/// Answers a request that [`recognises`] took, once its ResponseURL is known to be CloudFormation's.
pub async fn handle(invocation: &Invocation<'_>, event: Map<String, Value>) -> Result<Value, Error> {
    let response_url = event
        .get("ResponseURL")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if let Err(refused) = response_url::check(
        response_url,
        invocation.function_arn(),
        &invocation.settings.response_url_hosts,
    ) {
        return Ok(refuse_response_url(invocation, refused));
    }
    match request::parse(event) {
        Ok(request) => handle_request(invocation, request).await,
        Err(malformed) => handle_malformed(invocation, *malformed).await,
    }
}

/// A ResponseURL that is not CloudFormation's: nothing is set and nothing is sent, and the
/// answer says neither where the URL points nor whether anything answers there.
fn refuse_response_url(invocation: &Invocation<'_>, refused: Refused) -> Value {
    let host = refused.host.as_deref().unwrap_or("none");
    let request_id = &invocation.context.request_id;
    if refused.looks_like_aws {
        tracing::error!(
            request_id = %request_id, event_kind = "CloudFormation", host, result = "REFUSED",
            "an unrecognised CloudFormation host: the ResponseURL is on AWS but not in a form this \
             function knows as CloudFormation's response bucket in its region; nothing was set or sent"
        );
    } else {
        tracing::error!(
            request_id = %request_id, event_kind = "CloudFormation", host, result = "REFUSED",
            "a ResponseURL that is not CloudFormation's: nothing was set or sent"
        );
    }
    invocation.count("CloudFormation", Outcome::Refused, 1);
    json!({
        "Result": "refused: the ResponseURL is not a CloudFormation response URL of this function's \
                   region, so nothing was set and no response was sent",
    })
}

/// A request with `RequestType` and `ResponseURL` that is malformed in some other way still gets
/// an answer, so the stack does not wait for an hour; a damaged Delete gets SUCCESS, so that it
/// never blocks a rollback or a stack deletion.
async fn handle_malformed(invocation: &Invocation<'_>, malformed: Malformed) -> Result<Value, Error> {
    let kind = "CloudFormation (malformed)";
    let ids = CfnRequestIds::of_raw(&malformed.raw);
    let physical_id = ids.physical_resource_id_or_stand_in();
    let response = if malformed.raw.get("RequestType").and_then(Value::as_str) == Some("Delete") {
        invocation.log_outcome(kind, None, Ok("SUCCESS (nothing to delete)"));
        CfnResponse::success(&ids, physical_id, NOTHING_TO_DELETE.into(), HashMap::new())
    } else {
        let err =
            Error::UnrecognisedEvent(format!("malformed CloudFormation request: {}", malformed.problem));
        invocation.log_outcome(kind, None, Err(&err));
        CfnResponse::failed(&ids, physical_id, reason(&err, invocation), HashMap::new())
    };
    deliver(invocation, &ids, response).await
}

async fn handle_request(invocation: &Invocation<'_>, request: CfnRequest) -> Result<Value, Error> {
    let ids = CfnRequestIds::of(&request);
    // CloudFormation gives up on a request when its ResponseURL expires; Lambda may still
    // deliver it (async retries, an event kept for hours). Acting on it then would set a
    // password that no stack asked for any more.
    if let Some(expiry) = response::response_url_expiry(&ids.response_url)
        && expiry <= SystemTime::now()
    {
        let expired_s_ago = SystemTime::now()
            .duration_since(expiry)
            .unwrap_or_default()
            .as_secs();
        tracing::error!(
            request_id = %invocation.context.request_id, event_kind = request::kind(&request), stack_id = %ids.stack_id,
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
            let (clients, settings) = (invocation.clients.clone(), invocation.settings.clone());
            let (context, deadlines) = (invocation.context.clone(), invocation.deadlines);
            async move {
                let invocation = Invocation {
                    clients: &clients,
                    settings: &settings,
                    context: &context,
                    deadlines,
                };
                cfn_response(&invocation, request).await
            }
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
            invocation.log_outcome("CloudFormation", None, Err(&err));
            CfnResponse::failed(
                &ids,
                ids.physical_resource_id_or_stand_in(),
                reason(&err, invocation),
                HashMap::new(),
            )
        }
    };
    deliver(invocation, &ids, response).await
}

/// An Update whose plaintext password property is the one the resource already had (a stack
/// deployed before such properties were refused, or the rollback of one) is logged at ERROR and
/// goes on without it, so that no stack is stuck; any other is refused by the validation. The
/// properties without those keys, or `None` when there is nothing to let through.
fn grandfather_plaintext(invocation: &Invocation<'_>, properties: &Value, old: &Value) -> Option<Value> {
    let (Value::Object(new), Value::Object(old)) = (properties, old) else {
        return None;
    };
    let mut kept = new.clone();
    let mut dropped = Vec::new();
    while let Some(key) = plaintext_key(&kept).map(str::to_owned) {
        if old.get(&key) != kept.get(&key) {
            break;
        }
        kept.remove(&key);
        dropped.push(key);
    }
    if dropped.is_empty() {
        return None;
    }
    tracing::error!(
        request_id = %invocation.context.request_id, event_kind = "CloudFormation Update", properties = ?dropped,
        "the resource carries a plaintext password property it had before (it was let through, unchanged, so \
         that the stack can update or roll back, and it is ignored): remove it from the template, since \
         anyone who can read the stack can read it"
    );
    Some(Value::Object(kept))
}

/// Works out the answer to one CloudFormation request (setting the password on Create and
/// Update); it cannot fail, since a failure is itself an answer.
async fn cfn_response(invocation: &Invocation<'_>, request: CfnRequest) -> CfnResponse {
    let ids = CfnRequestIds::of(&request);
    let kind = request::kind(&request);
    let Some(properties) = request::resource_properties(&request) else {
        let err = Error::UnrecognisedEvent("unknown CloudFormation RequestType".into());
        invocation.log_outcome(kind, None, Err(&err));
        return CfnResponse::failed(
            &ids,
            ids.physical_resource_id_or_stand_in(),
            reason(&err, invocation),
            HashMap::new(),
        );
    };
    let is_delete = matches!(request, CloudFormationCustomResourceRequest::Delete(_));
    let is_update = matches!(request, CloudFormationCustomResourceRequest::Update(_));
    let grandfathered = match &request {
        CloudFormationCustomResourceRequest::Update(update) => {
            grandfather_plaintext(invocation, properties, &update.old_resource_properties)
        }
        _ => None,
    };
    let parsed = Request::from_properties(grandfathered.as_ref().unwrap_or(properties));
    let data = match &parsed {
        Ok(Request::One(request)) => data_of(request),
        Ok(Request::Many(list)) => HashMap::from([
            ("UserPoolId".to_owned(), list.user_pool_id.clone()),
            ("Count".to_owned(), list.users.len().to_string()),
        ]),
        Err(_) => HashMap::new(),
    };
    if !is_delete && let Ok(Request::Many(list)) = &parsed {
        return cfn_many(invocation, list, &ids, kind, data).await;
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
        invocation.log_outcome(kind, validated.as_ref().ok(), Ok("SUCCESS (nothing to delete)"));
        return CfnResponse::success(
            &ids,
            ids.physical_resource_id_or_stand_in(),
            NOTHING_TO_DELETE.into(),
            data,
        );
    }
    let outcome = match validated {
        Ok(request) => match set_password_for_stack(invocation, &request).await {
            Ok(carried_out) => Ok(carried_out),
            Err(err) => Err((Some(request), err)),
        },
        Err(err) => Err((None, err)),
    };
    match outcome {
        Ok(request) => {
            invocation.log_outcome(kind, Some(&request), Ok(SET));
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
            invocation.log_outcome(kind, request.as_ref(), Err(&err));
            // An Update that fails keeps the resource it had; a Create that fails gets
            // the id it would have had, or a stand-in when the properties are invalid.
            let physical_id = ids
                .physical_resource_id
                .clone()
                .or_else(|| request.map(|r| r.physical_resource_id()))
                .unwrap_or_else(|| ids.physical_resource_id_or_stand_in());
            let mut why = reason(&err, invocation);
            if is_update && matches!(err, Error::PasswordReused { .. }) {
                why = format!("{}. {why}", rollback_recovery(&ids));
            }
            CfnResponse::failed(&ids, physical_id, why, data)
        }
    }
}

/// A Create or Update with a `Users` list: SUCCESS only when every user was set; FAILED
/// names the users that were not, and why (the full list is in the log).
async fn cfn_many(
    invocation: &Invocation<'_>,
    list: &UserList,
    ids: &CfnRequestIds,
    kind: &'static str,
    data: HashMap<String, String>,
) -> CfnResponse {
    let summary = run_many_for_stack(invocation, list, kind).await;
    // A function of the pool only: another pool is another resource (CloudFormation then
    // replaces it), and a changed list keeps it, as a changed reference does for one user.
    // An Update that fails keeps the resource it had.
    let physical_id = format!("{}/users", list.user_pool_id);
    match summary.and_then(Summary::into_result) {
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
            reason(&err, invocation),
            data,
        ),
    }
}

async fn deliver(
    invocation: &Invocation<'_>,
    ids: &CfnRequestIds,
    response: CfnResponse,
) -> Result<Value, Error> {
    let body = response.body();
    match response::respond(
        &invocation.clients.http,
        &ids.response_url,
        body.clone(),
        invocation.deadlines.respond,
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

/// [`Invocation::set_password`] for a stack's Create or Update: `AccessDenied` is retried
/// while IAM may still be propagating (see [`IamPropagation`]).
async fn set_password_for_stack(
    invocation: &Invocation<'_>,
    request: &SetPasswordRequest,
) -> Result<SetPasswordRequest, Error> {
    let mut iam = IamPropagation::new(invocation.deadlines.work);
    loop {
        match invocation.set_password(request).await {
            Err(Error::AccessDenied { call, .. }) if iam.wait(&call.to_string()).await => {}
            outcome => return outcome,
        }
    }
}

/// [`Invocation::run_many`] for a stack's Create or Update: the users denied access are tried
/// again while IAM may still be propagating; the others are not touched twice (a second set
/// of the same password is refused by a pool that keeps password history). The outcome is
/// logged once, for the whole list. `Err` when the list is refused as a whole.
async fn run_many_for_stack(
    invocation: &Invocation<'_>,
    list: &UserList,
    kind: &'static str,
) -> Result<Summary, Error> {
    let (started, rates, deadline) = (
        Instant::now(),
        invocation.rates_of(list),
        invocation.deadlines.work,
    );
    let mut iam = IamPropagation::new(deadline);
    let mut outcomes = bulk::run(invocation.clients, invocation.policy(), list, rates, deadline)
        .await
        .inspect_err(|err| invocation.log_refused_list(list, kind, err))?;
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
        let Ok(retried) = bulk::run(invocation.clients, invocation.policy(), &again, rates, deadline).await
        else {
            break;
        };
        for ((i, _), outcome) in denied.into_iter().zip(retried) {
            // A retry the deadline cut short keeps the denial, which says what to fix.
            if !matches!(outcome.result, UserResult::NotDone) {
                outcomes[i] = outcome;
            }
        }
    }
    Ok(invocation.log_many(list, kind, started, &outcomes))
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
fn reason(err: &Error, invocation: &Invocation<'_>) -> String {
    let context = invocation.context;
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
