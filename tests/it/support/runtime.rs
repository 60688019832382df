//! The Lambda Runtime API on 127.0.0.1, and the function's built binary running under it as a
//! real process, with everything it prints captured.

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::http::{read_request, serve_each, write_response};
use super::proxy::FaultProxy;

/// What the function answered to one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response(Value),
    /// An invocation error: `{"errorType", "errorMessage"}`.
    Error(Value),
    /// Nothing within the test's patience.
    NoAnswer,
}

impl Outcome {
    pub fn response(&self) -> &Value {
        match self {
            Outcome::Response(value) => value,
            other => panic!("expected a response, got {other:?}"),
        }
    }

    pub fn error(&self) -> &Value {
        match self {
            Outcome::Error(value) => value,
            other => panic!("expected an invocation error, got {other:?}"),
        }
    }
}

struct Pending {
    id: String,
    body: String,
    deadline_ms: u128,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Pending>,
    outcomes: HashMap<String, Outcome>,
    init_error: Option<String>,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

pub struct RuntimeApi {
    pub address: String,
    state: Shared,
    next_id: Mutex<u64>,
}

impl RuntimeApi {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let state: Shared = Arc::default();
        let shared = state.clone();
        serve_each(listener, move |mut stream| serve(&mut stream, &shared));
        RuntimeApi {
            address,
            state,
            next_id: Mutex::new(0),
        }
    }

    /// Queues one invocation (a raw body, not necessarily JSON) with `budget` until its deadline,
    /// and waits up to `patience` for the function's answer.
    pub fn invoke_raw(&self, body: &str, budget: Duration, patience: Duration) -> Outcome {
        let id = {
            let mut next = self.next_id.lock().unwrap();
            *next += 1;
            format!("req-{:04}-{}", *next, std::process::id())
        };
        let deadline_ms = (SystemTime::now() + budget)
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let (lock, signal) = &*self.state;
        let mut state = lock.lock().unwrap();
        state.queue.push_back(Pending {
            id: id.clone(),
            body: body.to_owned(),
            deadline_ms,
        });
        signal.notify_all();
        let until = Instant::now() + patience;
        loop {
            if let Some(outcome) = state.outcomes.remove(&id) {
                return outcome;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Outcome::NoAnswer;
            }
            state = signal.wait_timeout(state, left).unwrap().0;
        }
    }

    pub fn invoke(&self, event: &Value) -> Outcome {
        self.invoke_raw(
            &event.to_string(),
            Duration::from_secs(30),
            Duration::from_secs(40),
        )
    }

    /// [`RuntimeApi::invoke`] from async code: waits on a blocking thread.
    pub async fn invoke_async(self: &Arc<Self>, event: Value) -> Outcome {
        let runtime = self.clone();
        tokio::task::spawn_blocking(move || runtime.invoke(&event))
            .await
            .unwrap()
    }

    pub fn init_error(&self) -> Option<String> {
        self.state.0.lock().unwrap().init_error.clone()
    }
}

fn serve(stream: &mut std::net::TcpStream, shared: &Shared) {
    let Some(request) = read_request(stream) else {
        return;
    };
    let (lock, signal) = &**shared;
    let path = request.path.trim_start_matches("/2018-06-01/runtime/");
    if request.method == "GET" && path == "invocation/next" {
        let mut state = lock.lock().unwrap();
        let pending = loop {
            if let Some(pending) = state.queue.pop_front() {
                break pending;
            }
            state = signal.wait(state).unwrap();
        };
        drop(state);
        write_response(
            stream,
            200,
            &[
                ("Lambda-Runtime-Aws-Request-Id", pending.id),
                ("Lambda-Runtime-Deadline-Ms", pending.deadline_ms.to_string()),
                ("Lambda-Runtime-Invoked-Function-Arn", super::FUNCTION_ARN.into()),
                (
                    "Lambda-Runtime-Trace-Id",
                    "Root=1-5e1b4151-5ac6c58f5e8c1d2d3b4c5d6e".into(),
                ),
                ("Content-Type", "application/json".into()),
            ],
            &pending.body,
        );
        return;
    }
    let mut state = lock.lock().unwrap();
    if let Some(rest) = path.strip_prefix("invocation/") {
        if let Some(id) = rest.strip_suffix("/response") {
            let value = serde_json::from_str(&request.body).unwrap_or(Value::String(request.body.clone()));
            state.outcomes.insert(id.to_owned(), Outcome::Response(value));
        } else if let Some(id) = rest.strip_suffix("/error") {
            let value = serde_json::from_str(&request.body).unwrap_or(Value::String(request.body.clone()));
            state.outcomes.insert(id.to_owned(), Outcome::Error(value));
        }
    } else if path == "init/error" {
        state.init_error = Some(request.body.clone());
    }
    signal.notify_all();
    drop(state);
    write_response(stream, 202, &[], "{\"status\":\"OK\"}");
}

/// The function's release binary under a fresh Runtime API, reaching AWS at `endpoint` and
/// logging JSON, with `env` on top (a level, a setting under test).
pub fn json_function(endpoint: &str, env: &[(&str, &str)]) -> (Arc<RuntimeApi>, FunctionProcess) {
    let runtime = Arc::new(RuntimeApi::start());
    let mut all = vec![("AWS_ENDPOINT_URL", endpoint), ("AWS_LAMBDA_LOG_FORMAT", "JSON")];
    all.extend_from_slice(env);
    let process = FunctionProcess::spawn(super::BINARY, &runtime, &all);
    (runtime, process)
}

/// [`json_function`] reaching moto only through a fault proxy the test controls (and counts calls at).
pub fn json_function_behind_proxy(env: &[(&str, &str)]) -> (FaultProxy, Arc<RuntimeApi>, FunctionProcess) {
    let proxy = FaultProxy::start(super::moto::endpoint());
    let (runtime, process) = json_function(proxy.endpoint.as_str(), env);
    (proxy, runtime, process)
}

/// A process with everything it prints captured: the function's binary under a [`RuntimeApi`],
/// or the Runtime Interface Emulator running it. Killed when dropped.
pub struct FunctionProcess {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl FunctionProcess {
    pub fn spawn(binary: &str, runtime: &RuntimeApi, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", &runtime.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "cognito-set-password")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/cognito-set-password")
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/26/[$LATEST]0123456789abcdef",
            )
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            // The tests' ResponseURLs are on loopback, as a local run's are.
            .env("RESPONSE_URL_HOSTS", super::RESPONSE_URL_HOSTS)
            // Deployed as a rotating stack, as the rotation samples need; a test may say false.
            .env("ENABLE_ROTATION", "true");
        for (key, value) in env {
            command.env(key, value);
        }
        Self::capture(command)
    }

    /// Starts `command` with its stdout and stderr captured.
    pub fn capture(mut command: Command) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {command:?}: {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        for pipe in [
            child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
            child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = output.clone();
            std::thread::spawn(move || {
                let mut pipe = pipe;
                let mut buffer = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buffer) {
                    if n == 0 {
                        break;
                    }
                    output
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buffer[..n]));
                }
            });
        }
        FunctionProcess { child, output }
    }

    /// Everything the process printed so far, stdout and stderr, once the reader threads have
    /// caught up: a line written just before an answer may still sit in the pipe when the
    /// answer arrives (seen on a loaded machine), so this waits until nothing new has come for
    /// 100 ms (at most 5 s).
    pub fn output(&self) -> String {
        let until = Instant::now() + Duration::from_secs(5);
        let mut seen = self.output.lock().unwrap().len();
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let output = self.output.lock().unwrap();
            if output.len() == seen || Instant::now() >= until {
                return output.clone();
            }
            seen = output.len();
        }
    }

    /// The process's peak resident memory so far, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
