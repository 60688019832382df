//! A fault-injecting proxy in front of moto: chosen operations (by their `X-Amz-Target`, as the
//! JSON protocols of Cognito, Secrets Manager and SSM name them) answer with an AWS error or a
//! bare 5xx a set number of times, or accept the request and never answer; everything else is
//! passed through to moto as it is. Counts the calls per operation.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::http::{Recorded, read_request, serve_each, write_response};

#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer `status` with the AWS error `code` (`x-amzn-ErrorType` and `__type`).
    AwsError { status: u16, code: &'static str },
    /// Like `AwsError`, with a message that quotes the whole request (a password included): what
    /// a careless service could do, and what the function must never pass on.
    AwsErrorQuotingRequest { status: u16, code: &'static str },
    /// Answer a bare HTTP status with an empty body, as a load balancer would.
    Status(u16),
    /// Read the request and never answer.
    Hang,
    /// Hold the request this long, then pass it on: another call overtakes it.
    Delay(Duration),
}

impl Fault {
    /// A client error (400) with the AWS error `code`.
    pub const fn aws(code: &'static str) -> Self {
        Fault::AwsError { status: 400, code }
    }

    /// A client error (400) with the AWS error `code`, its message quoting the whole request.
    pub const fn quoting_request(code: &'static str) -> Self {
        Fault::AwsErrorQuotingRequest { status: 400, code }
    }
}

#[derive(Debug, Clone)]
struct Rule {
    operation: &'static str,
    fault: Fault,
    /// How many calls get the fault; `None`: all of them.
    times: Option<usize>,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    calls: HashMap<String, usize>,
    /// The JSON bodies of every request, by operation.
    bodies: HashMap<String, Vec<String>>,
    /// When each request arrived, by operation.
    times: HashMap<String, Vec<std::time::Instant>>,
}

#[derive(Clone)]
pub struct FaultProxy {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    pub fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = state.clone();
        serve_each(listener, move |mut stream| {
            while let Some(request) = read_request(&mut stream) {
                if !handle(&mut stream, request, &shared, &upstream) {
                    return;
                }
            }
        });
        FaultProxy { endpoint, state }
    }

    /// `operation` (e.g. `AdminSetUserPassword`) gets `fault` for its next `times` calls.
    pub fn fail(&self, operation: &'static str, fault: Fault, times: usize) -> &Self {
        self.state.lock().unwrap().rules.push(Rule {
            operation,
            fault,
            times: Some(times),
        });
        self
    }

    /// `operation` gets `fault` for every call.
    pub fn always(&self, operation: &'static str, fault: Fault) -> &Self {
        self.state.lock().unwrap().rules.push(Rule {
            operation,
            fault,
            times: None,
        });
        self
    }

    /// The bodies of the requests `operation` received, parsed.
    pub fn requests(&self, operation: &str) -> Vec<serde_json::Value> {
        self.state
            .lock()
            .unwrap()
            .bodies
            .get(operation)
            .map_or_else(Vec::new, |bodies| {
                bodies
                    .iter()
                    .map(|b| serde_json::from_str(b).unwrap_or_default())
                    .collect()
            })
    }

    /// When each request for `operation` arrived.
    pub fn times(&self, operation: &str) -> Vec<std::time::Instant> {
        self.state
            .lock()
            .unwrap()
            .times
            .get(operation)
            .cloned()
            .unwrap_or_default()
    }

    pub fn calls(&self, operation: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .calls
            .get(operation)
            .copied()
            .unwrap_or(0)
    }
}

/// Answers one request; `false` when the connection must end.
fn handle(stream: &mut TcpStream, request: Recorded, state: &Mutex<State>, upstream: &str) -> bool {
    let operation = request
        .header("x-amz-target")
        .and_then(|target| target.rsplit('.').next())
        .unwrap_or("")
        .to_owned();
    let fault = {
        let mut state = state.lock().unwrap();
        *state.calls.entry(operation.clone()).or_default() += 1;
        state
            .bodies
            .entry(operation.clone())
            .or_default()
            .push(request.body.clone());
        state
            .times
            .entry(operation.clone())
            .or_default()
            .push(std::time::Instant::now());
        let rule = state
            .rules
            .iter_mut()
            .find(|rule| rule.operation == operation && rule.times != Some(0));
        rule.map(|rule| {
            if let Some(times) = rule.times.as_mut() {
                *times -= 1;
            }
            rule.fault.clone()
        })
    };
    match fault {
        Some(fault @ (Fault::AwsError { .. } | Fault::AwsErrorQuotingRequest { .. })) => {
            let (status, code, message) = match fault {
                Fault::AwsError { status, code } => (status, code, "injected by the test proxy".to_owned()),
                Fault::AwsErrorQuotingRequest { status, code } => {
                    (status, code, format!("invalid request: {}", request.body))
                }
                _ => unreachable!(),
            };
            let body = serde_json::json!({"__type": code, "message": message}).to_string();
            write_response(
                stream,
                status,
                &[
                    ("x-amzn-ErrorType", code.to_owned()),
                    ("Content-Type", "application/x-amz-json-1.1".to_owned()),
                ],
                &body,
            );
            false
        }
        Some(Fault::Status(status)) => {
            write_response(stream, status, &[], "");
            false
        }
        Some(Fault::Hang) => {
            std::thread::sleep(Duration::from_secs(600));
            false
        }
        Some(Fault::Delay(held)) => {
            std::thread::sleep(held);
            forward(stream, &request, upstream)
        }
        None => forward(stream, &request, upstream),
    }
}

fn forward(stream: &mut TcpStream, request: &Recorded, upstream: &str) -> bool {
    let Ok(mut moto) = TcpStream::connect(upstream) else {
        write_response(stream, 502, &[], "");
        return false;
    };
    let _ = moto.set_nodelay(true);
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.path);
    for (k, v) in &request.headers {
        if !k.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    let _ = moto.write_all(head.as_bytes());
    let _ = moto.write_all(request.body.as_bytes());
    let mut answer = Vec::new();
    let _ = moto.read_to_end(&mut answer);
    // This connection ends after the answer: say so, so the client does not reuse it.
    if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&answer[..end]).to_string();
        let mut fixed: String = head
            .lines()
            .filter(|line| !line.to_ascii_lowercase().starts_with("connection:"))
            .map(|line| format!("{line}\r\n"))
            .collect();
        fixed.push_str("Connection: close\r\n\r\n");
        let _ = stream.write_all(fixed.as_bytes());
        let _ = stream.write_all(&answer[end + 4..]);
    } else {
        let _ = stream.write_all(&answer);
    }
    false
}
