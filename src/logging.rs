//! Logging as `lambda_runtime`'s default set-up does it (`AWS_LAMBDA_LOG_FORMAT=JSON`,
//! `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO; no timestamps, since Lambda adds them),
//! with one difference: the runtime's own TRACE line that prints every raw event is switched off.
//! An event can carry what must never be logged: a plaintext `Password` that the function refuses,
//! or a ResponseURL whose query string is a pre-signed credential.

use std::str::FromStr;

use lambda_runtime::tracing::subscriber;
use subscriber::filter::{Directive, EnvFilter, LevelFilter};

/// The runtime module that logs raw events at TRACE; capped at DEBUG.
const RAW_EVENT_LOGGER: &str = "lambda_runtime::layers::api_response=debug";

pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| LevelFilter::from_str(&level).ok())
        .unwrap_or(LevelFilter::INFO);
    let mut filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    if let Ok(directive) = Directive::from_str(RAW_EVENT_LOGGER) {
        filter = filter.add_directive(directive);
    }
    let format = subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter);
    if std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        format.json().init();
    } else {
        format.init();
    }
}
