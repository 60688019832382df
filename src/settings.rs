//! The function's settings, from its environment, each with a default that works.

use std::time::Duration;

use serde_json::Value;

use crate::{rotation, terraform, users};

/// Time kept back from the invocation's deadline to deliver the CloudFormation response.
pub const DEFAULT_RESPONSE_MARGIN: Duration = Duration::from_millis(2000);
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
                    "MAX_CALLS_PER_SECOND must be a number from 0.01 to 10000; using the default"
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
