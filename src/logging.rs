//! Logging as `lambda_runtime`'s default set-up does it (`AWS_LAMBDA_LOG_FORMAT=JSON`,
//! `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO; no timestamps, since Lambda adds them),
//! with two differences: `AWS_LAMBDA_LOG_LEVEL` is not overridden by `RUST_LOG` (and its FATAL
//! means ERROR), and the TRACE lines that print raw payloads are switched off: the runtime's raw
//! event (it can carry a plaintext `Password` that the function refuses, or a ResponseURL whose
//! query string is a pre-signed credential) and the SDK's raw HTTP requests and responses
//! (`AdminSetUserPassword`'s request holds the password; an error message could quote it).

use std::str::FromStr;

use lambda_runtime::tracing::subscriber;
use subscriber::filter::{Directive, EnvFilter, LevelFilter};

/// The modules that log raw payloads at TRACE, capped at DEBUG.
const RAW_PAYLOAD_LOGGERS: [&str; 2] = [
    "lambda_runtime::layers::api_response=debug",
    "aws_smithy_runtime::client::orchestrator=debug",
];

pub fn init() {
    // AWS_LAMBDA_LOG_LEVEL (Lambda's advanced logging controls) wins over RUST_LOG; Lambda's FATAL
    // has no tracing level of its own and means ERROR.
    let (level, directives) = match std::env::var("AWS_LAMBDA_LOG_LEVEL") {
        Ok(level) => (level_of(&level), String::new()),
        Err(_) => {
            let rust_log = std::env::var("RUST_LOG").unwrap_or_default();
            (level_of(&rust_log), rust_log)
        }
    };
    let mut filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .parse_lossy(directives);
    for directive in RAW_PAYLOAD_LOGGERS
        .iter()
        .filter_map(|d| Directive::from_str(d).ok())
    {
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

fn level_of(text: &str) -> LevelFilter {
    if text.trim().eq_ignore_ascii_case("fatal") {
        return LevelFilter::ERROR;
    }
    LevelFilter::from_str(text.trim()).unwrap_or(LevelFilter::INFO)
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
    }
}
