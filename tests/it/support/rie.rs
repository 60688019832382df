//! AWS's Lambda Runtime Interface Emulator, the entry point of `sam local invoke`'s container,
//! running the function's binary (or `qemu-aarch64` and the arm64 bootstrap) as Lambda would,
//! with the settings `sam local invoke` takes from template.yaml.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::http::post;
use super::moto::free_port;
use super::runtime::FunctionProcess;

pub struct Rie {
    port: u16,
    pub process: FunctionProcess,
}

/// A setting of the function in template.yaml (`Timeout`, `MemorySize`, `LogFormat`, ...): the
/// first `Key: value` line with that key. The template has one function.
pub fn template_setting(key: &str) -> String {
    let template =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("template.yaml")).unwrap();
    template
        .lines()
        .find_map(|line| line.trim().strip_prefix(&format!("{key}:")))
        .map(|value| value.trim().trim_matches('"').to_owned())
        .unwrap_or_else(|| panic!("template.yaml has no {key}"))
}

/// The default of a template parameter.
pub fn template_parameter_default(name: &str) -> String {
    let template =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("template.yaml")).unwrap();
    template
        .lines()
        .skip_while(|line| line.trim_end() != format!("  {name}:"))
        .find_map(|line| line.trim().strip_prefix("Default:"))
        .map(|value| value.trim().trim_matches('"').to_owned())
        .unwrap_or_else(|| panic!("template.yaml has no default for parameter {name}"))
}

pub fn rie_path() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools/rie/current/aws-lambda-rie-x86_64");
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-tools",
        path.display()
    );
    path
}

impl Rie {
    /// Runs `command` under the RIE with the template's settings, overridden by `env`.
    pub fn start(command: &[&str], env: &[(&str, &str)]) -> Self {
        let (port, api_port) = (free_port(), free_port());
        let mut rie = Command::new(rie_path());
        rie.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .args([
                "--runtime-interface-emulator-address",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["--runtime-api-address", &format!("127.0.0.1:{api_port}")])
            .args(command)
            .env("AWS_LAMBDA_FUNCTION_NAME", "SetPasswordFunction")
            .env("AWS_LAMBDA_FUNCTION_TIMEOUT", template_setting("Timeout"))
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", template_setting("MemorySize"))
            .env("AWS_LAMBDA_LOG_FORMAT", template_setting("LogFormat"))
            .env("AWS_LAMBDA_LOG_LEVEL", template_parameter_default("LogLevel"))
            .env("RESPONSE_MARGIN_MS", template_setting("RESPONSE_MARGIN_MS"))
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("RESPONSE_URL_HOSTS", super::RESPONSE_URL_HOSTS)
            // Deployed as a rotating stack, as the rotation samples need; a test may say false.
            .env("ENABLE_ROTATION", "true");
        for (key, value) in env {
            rie.env(key, value);
        }
        let process = FunctionProcess::capture(rie);
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < until,
                "the RIE did not start: {}",
                process.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Rie { port, process }
    }

    /// One invocation, as `sam local invoke -e` sends it: the function's answer (its result, or
    /// Lambda's error document).
    pub async fn invoke(&self, event: &Value) -> Value {
        let (port, event) = (self.port, event.to_string());
        let answer = tokio::task::spawn_blocking(move || {
            post(
                port,
                "/2015-03-31/functions/function/invocations",
                &event,
                Duration::from_secs(120),
            )
        })
        .await
        .unwrap();
        serde_json::from_str(&answer).unwrap_or(Value::String(answer))
    }

    /// The RIE's `REPORT` lines so far (one per finished invocation).
    pub fn reports(&self) -> Vec<String> {
        self.process
            .output()
            .lines()
            .filter(|line| line.contains("REPORT RequestId"))
            .map(str::to_owned)
            .collect()
    }
}
