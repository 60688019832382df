//! What every way in is handed (the clients, the settings, the invocation's context and
//! deadlines), the calls they share, and one log line per outcome, with what an operator searches
//! logs by.

use lambda_runtime::Context;
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::aws::clients::Clients;
use crate::core::binding::Policy;
use crate::core::bulk::{self, Rates, Summary, UserOutcome, UserResult};
use crate::core::deadline::Deadlines;
use crate::core::fields::type_name;
use crate::core::request::SetPasswordRequest;
use crate::core::setter;
use crate::core::users::UserList;
use crate::error::Error;
use crate::inbound::metrics::{self, Outcome};
use crate::settings::Settings;

/// The result logged for a request whose password was set.
pub const SET: &str = "SUCCESS";
/// What a Delete answers: there is nothing to undo, a password cannot be "unset".
pub const NOTHING_TO_DELETE: &str = "nothing to delete: the user and password are left as they are";

/// The invoked function's ARN, `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`:
/// the account and region the function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionArn<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
}

impl<'a> FunctionArn<'a> {
    pub fn parse(arn: &'a str) -> Option<Self> {
        let mut parts = arn.split(':');
        let (Some("arn"), Some(partition), Some("lambda"), Some(region), Some(account), Some("function")) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let well_formed = !partition.is_empty()
            && !region.is_empty()
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit());
        well_formed.then_some(FunctionArn {
            partition,
            region,
            account,
        })
    }
}

/// One invocation, as a way in works on it.
#[derive(Debug, Clone, Copy)]
pub struct Invocation<'a> {
    pub clients: &'a Clients,
    pub settings: &'a Settings,
    pub context: &'a Context,
    pub deadlines: Deadlines,
}

impl<'a> Invocation<'a> {
    pub fn new(clients: &'a Clients, settings: &'a Settings, context: &'a Context) -> Self {
        Invocation {
            clients,
            settings,
            context,
            deadlines: Deadlines::of(context, settings.response_margin),
        }
    }

    /// The invoked function's account, region and partition; `None` when the runtime gave no ARN
    /// (every refusal that needs it then refuses).
    pub fn function_arn(&self) -> Option<FunctionArn<'a>> {
        FunctionArn::parse(&self.context.invoked_function_arn)
    }

    /// Resolves the password reference and sets it, within the deadline; `Ok` is the request as
    /// carried out, naming the user as the pool stores it (for the answer, the log and a
    /// CloudFormation physical id, so that a username and its alias are one resource).
    pub async fn set_password(&self, request: &SetPasswordRequest) -> Result<SetPasswordRequest, Error> {
        if self.settings.panic_for_username.as_deref() == Some(request.username.as_str()) {
            panic!("injected panic: TEST_PANIC_FOR_USERNAME names this user");
        }
        let user =
            setter::set_password(self.clients, self.policy(), request, self.deadlines.work, None).await?;
        Ok(SetPasswordRequest {
            username: user.username,
            ..request.clone()
        })
    }

    /// What the deployment lets a request do with a reference (binding, version selectors).
    pub fn policy(&self) -> Policy {
        Policy::of(self.settings)
    }

    /// Runs a `Users` list at its rates, and logs the outcome (see [`Invocation::log_many`]); `Err`
    /// when the list is refused as a whole, before anything is set.
    pub async fn run_many(
        &self,
        list: &UserList,
        kind: &'static str,
    ) -> Result<(Summary, Vec<UserOutcome>), Error> {
        let started = Instant::now();
        let outcomes = bulk::run(
            self.clients,
            self.policy(),
            list,
            self.rates_of(list),
            self.deadlines.work,
        )
        .await
        .inspect_err(|err| self.log_refused_list(list, kind, err))?;
        Ok((self.log_many(list, kind, started, &outcomes), outcomes))
    }

    /// The list's paces: the lookups at the setting's read rate (shared by the bulk queue's
    /// copies), the sets at [`Invocation::rate_of`].
    pub fn rates_of(&self, list: &UserList) -> Rates {
        Rates {
            reads: self.settings.reads_per_second(),
            sets: self.rate_of(list),
        }
    }

    /// Logs and counts a list refused as a whole.
    pub fn log_refused_list(&self, list: &UserList, kind: &'static str, err: &Error) {
        tracing::error!(
            request_id = %self.context.request_id, event_kind = kind, user_pool_id = %list.user_pool_id,
            users = list.users.len(), result = "FAILED", error = %err.for_log(), "users list refused"
        );
        self.count(kind, Outcome::of(err), list.users.len());
    }

    /// The setting's rate, or the request's own `MaxCallsPerSecond` when that is lower: a request
    /// may slow itself down, never raise the rate the deployment keeps to (Cognito's quota is the
    /// account's, shared with the applications that sign users in).
    pub fn rate_of(&self, list: &UserList) -> f64 {
        let setting = self.settings.max_calls_per_second;
        list.max_calls_per_second
            .map_or(setting, |asked| asked.min(setting))
    }

    /// Logs what became of a list: one line for the whole, and one for each user not set.
    pub fn log_many(
        &self,
        list: &UserList,
        kind: &'static str,
        started: Instant,
        outcomes: &[UserOutcome],
    ) -> Summary {
        let summary = Summary::of(outcomes);
        self.count(kind, Outcome::Set, summary.set);
        for outcome in outcomes {
            match &outcome.result {
                UserResult::Set => {}
                UserResult::Failed(err) => self.count(kind, Outcome::of(err), 1),
                UserResult::NotDone => self.count(kind, Outcome::Failed, 1),
            }
        }
        let request_id = &self.context.request_id;
        for line in &summary.not_set_for_log {
            tracing::error!(request_id = %request_id, event_kind = kind, user_pool_id = %list.user_pool_id, user = %line, "a user of the list was not set");
        }
        tracing::info!(
            request_id = %request_id, event_kind = kind, user_pool_id = %list.user_pool_id,
            users = summary.total, set = summary.set, not_set = summary.not_set.len(), max_calls_per_second = self.rate_of(list),
            elapsed_ms = started.elapsed().as_millis() as u64,
            result = if summary.not_set.is_empty() { "SUCCESS" } else { "FAILED" },
            "users list handled"
        );
        summary
    }

    /// An event that its way in cannot read: logged and counted, and the error is the answer.
    pub fn unrecognised(&self, err: Error) -> Error {
        tracing::error!(request_id = %self.context.request_id, event_kind = "unrecognised", result = "FAILED", error = %err.for_log());
        self.count("unrecognised", Outcome::Refused, 1);
        err
    }

    /// Counts `n` outcomes of the way in `kind` as a CloudWatch metric (see [`metrics`]).
    pub fn count(&self, kind: &str, outcome: Outcome, n: usize) {
        let context = self.context;
        metrics::emit(
            &context.env_config.function_name,
            &context.request_id,
            kind,
            outcome,
            n,
        );
    }

    /// One line per outcome of one request.
    pub fn log_outcome(
        &self,
        kind: &str,
        request: Option<&SetPasswordRequest>,
        result: Result<&str, &Error>,
    ) {
        let pool = request.map(|r| r.user_pool_id.as_str()).unwrap_or("-");
        let user = request.map(|r| r.username.as_str()).unwrap_or("-");
        let request_id = &self.context.request_id;
        match result {
            Ok(result) => tracing::info!(
                request_id = %request_id, event_kind = kind, user_pool_id = pool, username = user,
                permanent = request.map(|r| r.permanent), result, "password request handled"
            ),
            Err(err) => tracing::error!(
                request_id = %request_id, event_kind = kind, user_pool_id = pool, username = user,
                result = "FAILED", retryable = err.is_retryable(), error = %err.for_log(), "password request failed"
            ),
        }
        match result {
            Ok(SET) => self.count(kind, Outcome::Set, 1),
            Ok(_) => {}
            Err(err) => self.count(kind, Outcome::of(err), 1),
        }
    }
}

/// The event as a JSON object: every shape is one, and an empty one is no request at all.
pub fn object(event: Value) -> Result<Map<String, Value>, Error> {
    match event {
        Value::Object(map) if map.is_empty() => {
            Err(Error::UnrecognisedEvent("the event is an empty object".into()))
        }
        Value::Object(map) => Ok(map),
        other => Err(Error::UnrecognisedEvent(format!(
            "expected a JSON object, got {}",
            type_name(&other)
        ))),
    }
}

/// Serde's messages can quote the offending value; events carry no passwords, but the message is
/// kept to its category and position all the same, since it ends up in a CloudFormation Reason.
pub fn describe_serde_error(err: &serde_json::Error) -> String {
    let text = err.to_string();
    // "missing field `X`" and "unknown variant `X`, expected one of ..." name fields, not values.
    if text.starts_with("missing field") || text.starts_with("unknown variant") {
        text
    } else {
        format!("a field has the wrong type ({:?} error)", err.classify())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_function_arn_names_its_account_and_region() {
        let arn = FunctionArn::parse("arn:aws-cn:lambda:cn-north-1:012345678912:function:f:live").unwrap();
        assert_eq!(
            (arn.partition, arn.region, arn.account),
            ("aws-cn", "cn-north-1", "012345678912")
        );
        for bad in [
            "",
            "arn:aws:lambda:us-east-1:12345:function:f",
            "arn:aws:sqs:us-east-1:012345678912:function:f",
            "arn:aws:lambda::012345678912:function:f",
        ] {
            assert_eq!(FunctionArn::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_event_must_be_a_json_object_with_something_in_it() {
        assert!(object(json!({"UserPoolId": "x"})).is_ok());
        assert!(
            object(json!([1]))
                .unwrap_err()
                .to_string()
                .contains("expected a JSON object, got an array")
        );
        assert!(
            object(json!({}))
                .unwrap_err()
                .to_string()
                .contains("empty object")
        );
    }
}
