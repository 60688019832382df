//! Logging as `lambda_runtime`'s default set-up does it (`AWS_LAMBDA_LOG_FORMAT=JSON`,
//! `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO), with these differences:
//! - `AWS_LAMBDA_LOG_LEVEL` is not overridden by `RUST_LOG`, and its FATAL means ERROR.
//! - JSON lines carry an RFC 3339 `timestamp` beside `level`: Lambda's log-level filtering gives a
//!   JSON line without a valid timestamp the level INFO, so at WARN or ERROR our ERROR lines would
//!   be dropped. Text lines have none (Lambda adds its own).
//! - The TRACE lines that print raw payloads are dropped at every level: the runtime's raw event
//!   (it can carry a plaintext `Password` that the function refuses, or a ResponseURL whose query
//!   string is a pre-signed credential) and the SDK's raw HTTP requests and responses
//!   (`AdminSetUserPassword`'s request holds the password). Dropping them, rather than capping
//!   their targets with a directive, leaves every other line to the configured level.

use std::str::FromStr;

use lambda_runtime::tracing::subscriber;
use lambda_runtime::tracing::{Level, Metadata};
use subscriber::Layer;
use subscriber::filter::{EnvFilter, FilterExt, LevelFilter, filter_fn};
use subscriber::layer::SubscriberExt;
use subscriber::util::SubscriberInitExt;

/// The modules that log raw payloads at TRACE.
const RAW_PAYLOAD_LOGGERS: [&str; 2] = [
    "lambda_runtime::layers::api_response",
    "aws_smithy_runtime::client::orchestrator",
];

pub fn init() {
    // AWS_LAMBDA_LOG_LEVEL (Lambda's advanced logging controls) wins over RUST_LOG.
    let (level, directives) = match std::env::var("AWS_LAMBDA_LOG_LEVEL") {
        Ok(level) => (level_of(&level), String::new()),
        Err(_) => {
            let rust_log = std::env::var("RUST_LOG").unwrap_or_default();
            (level_of(&rust_log), rust_log)
        }
    };
    let levels = EnvFilter::builder()
        .with_default_directive(level.into())
        .parse_lossy(directives);
    let filter = levels.and(filter_fn(|metadata| !is_raw_payload(metadata)));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let format = subscriber::fmt::layer().with_target(false);
    let layer = if json {
        format.json().with_filter(filter).boxed()
    } else {
        format.without_time().with_filter(filter).boxed()
    };
    subscriber::registry().with(layer).init();
}

fn is_raw_payload(metadata: &Metadata<'_>) -> bool {
    *metadata.level() == Level::TRACE
        && RAW_PAYLOAD_LOGGERS
            .iter()
            .any(|target| metadata.target().starts_with(target))
}

/// Lambda's levels as tracing's: FATAL means ERROR; an empty or unknown level means INFO (tracing
/// itself would read an empty string as ERROR).
fn level_of(text: &str) -> LevelFilter {
    let text = text.trim();
    if text.eq_ignore_ascii_case("fatal") {
        return LevelFilter::ERROR;
    }
    if text.is_empty() {
        return LevelFilter::INFO;
    }
    LevelFilter::from_str(text).unwrap_or(LevelFilter::INFO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_log_levels_map_to_tracing_levels() {
        assert_eq!(level_of("TRACE"), LevelFilter::TRACE);
        assert_eq!(level_of("WARN"), LevelFilter::WARN);
        assert_eq!(level_of("FATAL"), LevelFilter::ERROR);
        assert_eq!(level_of("nonsense"), LevelFilter::INFO);
        assert_eq!(level_of(""), LevelFilter::INFO);
        assert_eq!(level_of(" "), LevelFilter::INFO);
    }
}
