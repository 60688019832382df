//! The function's settings, from its environment, each with a default that works.

use std::time::Duration;

/// Time kept back from the invocation's deadline to deliver the CloudFormation response.
pub const DEFAULT_RESPONSE_MARGIN: Duration = Duration::from_millis(2000);
/// The length of a generated password when the pool's policy asks for less.
pub const DEFAULT_ROTATION_PASSWORD_LENGTH: u32 = 32;
/// The key Terraform's `aws_lambda_invocation` adds, unless its `terraform_key` renames it.
pub const DEFAULT_TERRAFORM_KEY: &str = "tf";
/// `MaxCallsPerSecond` when neither the request nor the environment says (Cognito's default
/// quota for its user-update calls).
pub const DEFAULT_MAX_CALLS_PER_SECOND: f64 = 25.0;
/// Below this a call would wait longer than any invocation lasts (and the interval could
/// overflow a Duration).
pub const MIN_CALLS_PER_SECOND: f64 = 0.01;
/// The most calls per second a request or the environment may ask for.
pub const MAX_CALLS_PER_SECOND: f64 = 10_000.0;
/// `AdminGetUser` calls per second for a `Users` list when the environment does not say: below
/// 120, the default quota of Cognito's UserRead category, which other callers share.
pub const DEFAULT_MAX_READS_PER_SECOND: f64 = 100.0;

/// Whether a secret or parameter must be bound to the user it sets (`SECRET_BINDING`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretBinding {
    /// `tag`, the default: its tag `cognito-set-password:user` names the one user it may set.
    Tag,
    /// `none`: any secret under the prefix may set any user's password (one shared password for
    /// many test users); a JSON secret that names a user still sets that user only.
    None,
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
    /// How many copies of the function the bulk queue's event source mapping runs at once
    /// (`BULK_QUEUE_MAXIMUM_CONCURRENCY`, its `MaximumConcurrency`; 1 without the queue): they
    /// share [`Settings::max_calls_per_second`] (see [`Settings::queue_calls_per_second`]).
    pub bulk_queue_copies: u32,
    /// The key Terraform's `aws_lambda_invocation` adds to the input (`TERRAFORM_KEY`; the
    /// resource's `terraform_key`).
    pub terraform_key: String,
    /// Whether the function rotates secrets (`ENABLE_ROTATION`, the template's `EnableRotation`):
    /// the deployment grants what rotation needs only then, so a step without it is refused with
    /// a message that names the parameter, rather than failing on a denied call halfway.
    pub enable_rotation: bool,
    /// See [`SecretBinding`].
    pub secret_binding: SecretBinding,
    /// Whether a request may name a version (`PasswordSecretVersionStage`/`Id`, an SSM `:n` or
    /// `:label`): on a bound secret only that user's own older password (`ALLOW_VERSION_SELECTORS`).
    pub allow_version_selectors: bool,
    /// Whether a federated user's profile (status `EXTERNAL_PROVIDER`) may be given a password
    /// (`ALLOW_FEDERATED_USERS`, default false): it would then sign in past its identity provider.
    pub allow_federated_users: bool,
    /// `AdminGetUser` calls per second when a `Users` list's names are resolved, apart from
    /// [`Settings::max_calls_per_second`] (`MAX_READS_PER_SECOND`).
    pub max_reads_per_second: f64,
    /// Hosts a ResponseURL may name besides CloudFormation's own, over http or https on any port
    /// (`RESPONSE_URL_HOSTS`, comma-separated): for local runs, tests and benches, never on AWS.
    pub response_url_hosts: Vec<String>,
    /// A test hook (`TEST_PANIC_FOR_USERNAME`): a request for this user panics while it is
    /// handled, so the tests can prove on the release build that a panic is still answered.
    pub panic_for_username: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            response_margin: DEFAULT_RESPONSE_MARGIN,
            rotation_password_length: DEFAULT_ROTATION_PASSWORD_LENGTH,
            terraform_key: DEFAULT_TERRAFORM_KEY.into(),
            max_calls_per_second: DEFAULT_MAX_CALLS_PER_SECOND,
            bulk_queue_copies: 1,
            enable_rotation: false,
            secret_binding: SecretBinding::Tag,
            allow_version_selectors: true,
            allow_federated_users: false,
            max_reads_per_second: DEFAULT_MAX_READS_PER_SECOND,
            response_url_hosts: Vec::new(),
            panic_for_username: None,
        }
    }
}

impl Settings {
    /// Reads the settings from the environment. A value that does not parse is reported and
    /// replaced by its default: failing the cold start would leave CloudFormation unanswered.
    pub fn from_env() -> Self {
        let mut settings = Settings::default();
        if let Some(millis) = variable("RESPONSE_MARGIN_MS", "a whole number of milliseconds", |text| {
            text.parse::<u64>().ok()
        }) {
            settings.response_margin = Duration::from_millis(millis);
        }
        if let Some(length) = variable(
            "ROTATION_PASSWORD_LENGTH",
            "a whole number from 1 to 256",
            |text| {
                text.parse::<u32>()
                    .ok()
                    .filter(|length| (1..=256).contains(length))
            },
        ) {
            settings.rotation_password_length = length;
        }
        if let Some(rate) = variable("MAX_CALLS_PER_SECOND", "a number from 0.01 to 10000", |text| {
            text.parse::<f64>().ok().filter(|rate| is_rate(*rate))
        }) {
            settings.max_calls_per_second = rate;
        }
        if let Some(rate) = variable("MAX_READS_PER_SECOND", "a number from 0.01 to 10000", |text| {
            text.parse::<f64>().ok().filter(|rate| is_rate(*rate))
        }) {
            settings.max_reads_per_second = rate;
        }
        if let Some(copies) = variable(
            "BULK_QUEUE_MAXIMUM_CONCURRENCY",
            "a whole number from 1 to 1000",
            |text| {
                text.parse::<u32>()
                    .ok()
                    .filter(|copies| (1..=1000).contains(copies))
            },
        ) {
            settings.bulk_queue_copies = copies;
        }
        if let Some(reserved) = variable("RESERVED_CONCURRENCY", "a whole number from 1 to 9999", |text| {
            text.parse::<u32>()
                .ok()
                .filter(|reserved| (1..=9999).contains(reserved))
        }) && reserved <= settings.bulk_queue_copies
        {
            // CloudFormation's rules cannot compare the two numbers, so the function says it, at
            // every cold start, where the alarms and the log are.
            tracing::error!(
                reserved_concurrency = reserved,
                bulk_queue_maximum_concurrency = settings.bulk_queue_copies,
                "RESERVED_CONCURRENCY (ReservedConcurrency) must exceed BULK_QUEUE_MAXIMUM_CONCURRENCY \
                 (BulkQueueMaximumConcurrency): a busy bulk queue can take every copy of the function, \
                 and stacks' requests are then throttled; raise ReservedConcurrency or lower the other"
            );
        }
        if let Some(enabled) = variable("ENABLE_ROTATION", "true or false", boolean) {
            settings.enable_rotation = enabled;
        }
        if let Some(binding) = variable("SECRET_BINDING", "tag or none", |text| {
            match text.to_ascii_lowercase().as_str() {
                "tag" => Some(SecretBinding::Tag),
                "none" => Some(SecretBinding::None),
                _ => None,
            }
        }) {
            settings.secret_binding = binding;
        }
        if let Some(allowed) = variable("ALLOW_VERSION_SELECTORS", "true or false", boolean) {
            settings.allow_version_selectors = allowed;
        }
        if let Some(allowed) = variable("ALLOW_FEDERATED_USERS", "true or false", boolean) {
            settings.allow_federated_users = allowed;
        }
        if let Ok(key) = std::env::var("TERRAFORM_KEY")
            && !key.trim().is_empty()
        {
            settings.terraform_key = key.trim().to_owned();
        }
        settings.response_url_hosts = std::env::var("RESPONSE_URL_HOSTS")
            .unwrap_or_default()
            .split(',')
            .map(|host| host.trim().to_ascii_lowercase())
            .filter(|host| !host.is_empty())
            .collect();
        settings.panic_for_username = std::env::var("TEST_PANIC_FOR_USERNAME")
            .ok()
            .filter(|name| !name.is_empty());
        settings
    }

    /// Calls per second for one copy working the bulk queue, when a message does not say: the
    /// copies the event source mapping may run at once share the function's rate, so that the
    /// queue as a whole keeps to it (Cognito's quota is the account's, not a copy's).
    pub fn queue_calls_per_second(&self) -> f64 {
        self.shared_by_copies(self.max_calls_per_second)
    }

    /// `AdminGetUser` calls per second for one copy of the function (see
    /// [`Settings::queue_calls_per_second`]): the copies share the read rate too.
    pub fn reads_per_second(&self) -> f64 {
        self.shared_by_copies(self.max_reads_per_second)
    }

    fn shared_by_copies(&self, rate: f64) -> f64 {
        (rate / f64::from(self.bulk_queue_copies.max(1))).max(MIN_CALLS_PER_SECOND)
    }
}

/// Whether `rate` is a number of calls per second the function accepts, from a request or the
/// environment.
pub fn is_rate(rate: f64) -> bool {
    rate.is_finite() && (MIN_CALLS_PER_SECOND..=MAX_CALLS_PER_SECOND).contains(&rate)
}

fn boolean(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// The environment variable `name`, trimmed and parsed; one that is set but does not parse is
/// reported, naming what was `expected`, and `None` keeps the default.
fn variable<T>(name: &str, expected: &str, parse: impl FnOnce(&str) -> Option<T>) -> Option<T> {
    let text = std::env::var(name).ok()?;
    let value = parse(text.trim());
    if value.is_none() {
        tracing::error!(value = %text, "{name} must be {expected}; using the default");
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_copies_share_the_rate() {
        let mut settings = Settings::default();
        assert_eq!(settings.queue_calls_per_second(), 25.0);
        settings.bulk_queue_copies = 2;
        assert_eq!(settings.queue_calls_per_second(), 12.5);
        settings.max_calls_per_second = 1.0;
        settings.bulk_queue_copies = 1000;
        assert_eq!(settings.queue_calls_per_second(), MIN_CALLS_PER_SECOND);
    }
}
