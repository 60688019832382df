//! The one error type: every message says what failed and what to do about it, and none ever holds
//! a password (errors are built from names and AWS error codes, never from secret values).

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use lambda_runtime::Diagnostic;

/// One AWS call, named the way IAM names it, on the resource it touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsCall {
    /// The IAM action, e.g. `cognito-idp:AdminSetUserPassword`.
    pub action: &'static str,
    /// What the call was about, e.g. a secret id or a user pool id.
    pub resource: String,
}

impl std::fmt::Display for AwsCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on `{}`", self.action, self.resource)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the event is not one this function understands: {0}. Send a CloudFormation custom resource \
         request, an EventBridge event whose `detail` holds the properties, or the properties \
         themselves (UserPoolId, Username, and PasswordSecretId or PasswordParameterName)"
    )]
    UnrecognisedEvent(String),

    #[error(
        "the SQS message body {0}: send the properties of one user, or a `Users` list, as a JSON \
         object"
    )]
    BadMessage(String),

    #[error("property `{field}` {problem}")]
    InvalidProperty { field: &'static str, problem: String },

    #[error(
        "the `Users` list has {count} invalid {}, so nothing was set: {listed}",
        if *count == 1 { "entry" } else { "entries" }
    )]
    InvalidUsers { count: usize, listed: String },

    #[error(
        "property `{key}` is refused: its name says it holds a password, and a plaintext password in \
         a template or an event can be read by anyone who can read the stack, its state or the event; \
         nothing was set. Store it in Secrets Manager and pass `PasswordSecretId`, or in an SSM \
         SecureString parameter and pass `PasswordParameterName`; name other properties without \
         \"password\""
    )]
    PlaintextPassword { key: String },

    #[error(
        "both `PasswordSecretId` and `PasswordParameterName` are given; give exactly one of them, \
         so that it is clear where the password comes from"
    )]
    TwoPasswordSources,

    #[error(
        "no password reference: give `PasswordSecretId` (a Secrets Manager secret name or ARN) or \
         `PasswordParameterName` (an SSM SecureString parameter name or ARN); properties present: {present}"
    )]
    NoPasswordSource { present: String },

    #[error(
        "{source_name} was not found ({call}): check the name or ARN, the region, and that it exists{hint}"
    )]
    NotFound {
        source_name: String,
        call: AwsCall,
        hint: &'static str,
    },

    #[error(
        "secret `{secret_id}` is a JSON object without the key `{key}`; set `PasswordSecretJsonKey` \
         to the key that holds the password (the function's log for this request names the keys \
         present)"
    )]
    SecretKeyMissing {
        secret_id: String,
        key: String,
        present: String,
    },

    #[error("{source_name} has an unusable value: {problem}")]
    UnusableSecret { source_name: String, problem: String },

    /// A problem with a value that the answer states in general terms; `facts` (its type, whether
    /// it is JSON, whether it is empty) go to the log only, where operators look: the invoker may
    /// not be allowed to read the value.
    #[error(
        "{source_name} has an unusable value: {problem} (the function's log for this request says \
         what is wrong with it)"
    )]
    UnusableValue {
        source_name: String,
        problem: String,
        facts: String,
    },

    #[error(
        "user `{username}` does not exist in user pool `{user_pool_id}`: check `Username`; if the \
         user is created in the same stack, add `DependsOn` on it to the custom resource"
    )]
    UserNotFound { username: String, user_pool_id: String },

    #[error(
        "user `{username}` does not exist in user pool `{user_pool_id}` and did not appear within \
         {waited_seconds} s: check `Username`; if the user is created in the same stack, a \
         `DependsOn` on the user resource is probably missing from the custom resource"
    )]
    UserNeverAppeared {
        username: String,
        user_pool_id: String,
        waited_seconds: u64,
    },

    #[error(
        "user pool `{user_pool_id}` cannot be changed in region {region}: it is a replica there \
         (OperationNotEnabledException); set passwords in the pool's primary region, with a \
         `UserPoolId` that names it"
    )]
    ReplicaRegion { user_pool_id: String, region: String },

    #[error(
        "user pool `{user_pool_id}` was not found: check `UserPoolId` (Cognito is called in the \
         region the id begins with)"
    )]
    UserPoolNotFound { user_pool_id: String },

    #[error(
        "the password from {source_name} does not meet the password policy of user pool \
         `{user_pool_id}` ({detail}): store a password that satisfies the pool's policy"
    )]
    PasswordPolicy {
        source_name: String,
        user_pool_id: String,
        detail: String,
    },

    #[error(
        "user pool `{user_pool_id}` refused the password from {source_name} because it was used \
         before: the pool remembers past passwords (its password policy's `PasswordHistorySize`). \
         Store a new password, or lower `PasswordHistorySize`"
    )]
    PasswordReused {
        source_name: String,
        user_pool_id: String,
    },

    #[error(
        "the password from {source_name} cannot be sent to Cognito: it is outside \
         AdminSetUserPassword's contract (1 to 256 characters, no whitespace anywhere); the \
         function's log for this request says what is wrong with it and how to store it again"
    )]
    PasswordContract {
        source_name: String,
        problem: String,
        fix: String,
    },

    #[error(
        "{source_name} is not bound to a user ({why}), and a secret or parameter sets the password \
         of the user it is bound to only, so nothing was set for {requested}. If it is meant for \
         that user, tag it after checking: {fix}"
    )]
    Unbound {
        source_name: String,
        why: String,
        requested: String,
        fix: String,
    },

    #[error(
        "{source_name} is bound to {bound} (its tag cognito-set-password:user), not to {requested}: \
         refused, nothing was set. Give each user a secret or parameter of its own"
    )]
    BoundToAnother {
        source_name: String,
        bound: String,
        requested: String,
    },

    #[error(
        "user `{username}` in user pool `{user_pool_id}` is a federated user's profile (status \
         EXTERNAL_PROVIDER: the user signs in through a third-party identity provider): refused, \
         nothing was set. A password would let the user sign in past the provider, its MFA and its \
         off-boarding; AWS's guidance: \"As a best security practice and to keep users in sync with \
         your external IdP, don't set passwords on federated user profiles.\" Only if this is really \
         wanted, deploy with AllowFederatedUsers true (ALLOW_FEDERATED_USERS)"
    )]
    FederatedUser { username: String, user_pool_id: String },

    #[error(
        "{first} and {second} name the same user (`{username}` in user pool `{user_pool_id}`): the \
         list is refused as a whole, nothing was set. Keep one entry per user"
    )]
    SameUserTwice {
        first: String,
        second: String,
        username: String,
        user_pool_id: String,
    },

    #[error(
        "{source_name}: this deployment refuses version selectors (AllowVersionSelectors is false, \
         ALLOW_VERSION_SELECTORS), so nothing was set; leave out {selector} to use the current value"
    )]
    VersionSelectorRefused {
        source_name: String,
        selector: &'static str,
    },

    #[error("the new password of {who} does not work: {detail}")]
    SignInFailed { who: String, detail: String },

    #[error(
        "rotation is not enabled on this deployment, so step {step} of secret `{secret_id}` was \
         refused and nothing changed; set the stack parameter EnableRotation to true \
         (ENABLE_ROTATION; Terraform: enable_rotation), which also grants what rotation needs"
    )]
    RotationNotEnabled { step: &'static str, secret_id: String },

    #[error("secret `{secret_id}` cannot be rotated: {problem}")]
    NotRotatable { secret_id: String, problem: String },

    #[error("rotation step {step} of secret `{secret_id}` failed: {source}")]
    RotationStep {
        step: &'static str,
        secret_id: String,
        source: Box<Error>,
    },

    #[error(
        "access denied: the function's role may not call {call} ({detail}); allow that action on \
         that resource in the role's policy (and kms:Decrypt on the key, for an encrypted secret)"
    )]
    AccessDenied { call: AwsCall, detail: String },

    #[error("{call} was throttled and retries ran out within this invocation; try again later")]
    Throttled { call: AwsCall },

    #[error(
        "{call} did not answer in time ({detail}); check that the function can reach the service \
         (VPC endpoints or a NAT gateway when it runs in a VPC)"
    )]
    Timeout { call: AwsCall, detail: String },

    #[error("{call} failed: {detail}")]
    Aws {
        call: AwsCall,
        detail: String,
        retryable: bool,
    },

    #[error("the response could not be delivered to CloudFormation: {detail}")]
    ResponseDelivery { detail: String, retryable: bool },

    #[error(
        "not done: the invocation's deadline came before this user's turn; invoke again for the \
         users not done, or give the function a longer timeout or a higher `MaxCallsPerSecond`"
    )]
    NotReached,

    #[error("{not_set} of {total} users were not set ({listed}); the others were set")]
    UsersNotSet {
        not_set: usize,
        total: usize,
        listed: String,
    },

    #[error("the function failed unexpectedly ({0}); this is a bug, please report it with the log stream")]
    Internal(String),
}

impl Error {
    /// Whether the same request could succeed if tried again later without any change.
    /// Facts about a value that the message leaves out (the keys present, a type, a length,
    /// whitespace, a trailing line break): for the function's log, never for an answer.
    pub fn value_facts(&self) -> Option<String> {
        match self {
            Error::SecretKeyMissing { present, .. } => Some(format!("keys present: {present}")),
            Error::UnusableValue { facts, .. } => Some(facts.clone()),
            Error::PasswordContract { problem, fix, .. } => Some(format!("{problem}; {fix}")),
            Error::RotationStep { source, .. } => source.value_facts(),
            _ => None,
        }
    }

    /// The message, with [`Error::value_facts`] when there are any: for the log.
    pub fn for_log(&self) -> String {
        match self.value_facts() {
            Some(facts) => format!("{self} [{facts}]"),
            None => self.to_string(),
        }
    }

    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Throttled { .. }
            | Error::Timeout { .. }
            | Error::NotReached
            | Error::UsersNotSet { .. } => true,
            Error::Aws { retryable, .. } | Error::ResponseDelivery { retryable, .. } => *retryable,
            Error::RotationStep { source, .. } => source.is_retryable(),
            _ => false,
        }
    }

    /// AWS messages are quoted in `detail`; AWS does not echo request values, but should a message
    /// ever contain the password, the message is dropped rather than passed on.
    pub(crate) fn scrubbed(mut self, secret: &str) -> Self {
        if let Error::Aws { detail, .. } | Error::AccessDenied { detail, .. } = &mut self
            && !secret.is_empty()
            && detail.contains(secret)
        {
            *detail = "the service's message was withheld because it quoted the password".into();
        }
        self
    }

    pub(crate) fn invalid(field: &'static str, problem: impl Into<String>) -> Self {
        Error::InvalidProperty {
            field,
            problem: problem.into(),
        }
    }

    /// Maps the failures every AWS call shares (denied, throttled, timed out, unreachable, 5xx).
    /// Callers handle their operation's own errors (not found, bad password) before falling back
    /// to this.
    pub(crate) fn from_sdk<E>(err: SdkError<E, HttpResponse>, call: AwsCall) -> Self
    where
        E: ProvideErrorMetadata,
    {
        match &err {
            SdkError::TimeoutError(_) => Error::Timeout {
                call,
                detail: "no answer within the per-attempt timeout".into(),
            },
            SdkError::DispatchFailure(failure) => {
                let detail = if failure.is_timeout() {
                    return Error::Timeout {
                        call,
                        detail: "the connection timed out".into(),
                    };
                } else if failure.is_io() {
                    "could not connect to the service endpoint"
                } else {
                    "the request could not be sent"
                };
                Error::Aws {
                    call,
                    detail: detail.into(),
                    retryable: true,
                }
            }
            SdkError::ServiceError(service) => {
                let code = service.err().code().unwrap_or("Unknown");
                let message = service.err().message().unwrap_or("").to_owned();
                let status = service.raw().status().as_u16();
                classify_service_error(call, code, message, status)
            }
            SdkError::ResponseError(_) => Error::Aws {
                call,
                detail: "the service's answer could not be read".into(),
                retryable: true,
            },
            _ => Error::Aws {
                call,
                detail: "the request could not be built".into(),
                retryable: false,
            },
        }
    }
}

fn classify_service_error(call: AwsCall, code: &str, message: String, status: u16) -> Error {
    match code {
        "AccessDeniedException"
        | "AccessDenied"
        | "NotAuthorizedException"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "ExpiredTokenException" => Error::AccessDenied {
            call,
            detail: format!("{code}: {message}"),
        },
        "ThrottlingException"
        | "TooManyRequestsException"
        | "Throttling"
        | "ThrottledException"
        | "LimitExceededException"
        | "RequestLimitExceeded" => Error::Throttled { call },
        _ => Error::Aws {
            detail: format!("{code}: {message}"),
            retryable: status >= 500
                || matches!(
                    code,
                    "InternalErrorException" | "InternalServiceError" | "InternalFailure"
                ),
            call,
        },
    }
}

impl From<Error> for Diagnostic {
    fn from(err: Error) -> Self {
        Diagnostic {
            error_type: if err.is_retryable() {
                "Retryable"
            } else {
                "NonRetryable"
            }
            .into(),
            error_message: err.to_string(),
        }
    }
}
