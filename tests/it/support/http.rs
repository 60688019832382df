//! Small real HTTP/1.1 servers on 127.0.0.1 for the tests: CloudFormation's ResponseURL (records
//! every request, answers with a scripted sequence of statuses or not at all) and the parsing
//! they share with the Runtime API server.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

/// Reads one request from the stream; `None` when the peer closed it.
pub fn read_request(stream: &mut TcpStream) -> Option<Recorded> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Recorded {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
    })
}

pub fn write_response(stream: &mut TcpStream, status: u16, headers: &[(&str, String)], body: &str) {
    let mut text = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    let _ = stream.write_all(text.as_bytes());
    let _ = stream.flush();
}

/// POSTs `body` to `http://127.0.0.1:{port}{path}` and returns the answer's body. HTTP/1.0, so
/// the server closes the connection after a body it need not chunk: read to the end, that is all.
pub fn post(port: u16, path: &str, body: &str, timeout: Duration) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(timeout)).unwrap();
    let request = format!(
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .unwrap_or_else(|e| panic!("no answer from 127.0.0.1:{port}{path} in {timeout:?}: {e}"));
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"));
    assert!(!head.contains("chunked"), "a chunked answer to HTTP/1.0: {head}");
    body.to_owned()
}

/// Serves every connection to `listener` on a thread of its own, with `TCP_NODELAY` (without it,
/// Nagle and delayed ACK add ~40 ms to an exchange), until the test binary ends.
pub fn serve_each(listener: TcpListener, connection: impl Fn(TcpStream) + Clone + Send + 'static) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let _ = stream.set_nodelay(true);
            let connection = connection.clone();
            std::thread::spawn(move || connection(stream));
        }
    });
}

/// How the ResponseURL answers one request.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    Status(u16),
    /// 307 Temporary Redirect to this same ResponseURL: a client that follows it PUTs again.
    RedirectToSelf,
    /// Read the request, then never answer (the connection stays open until the server ends).
    Hang,
}

#[derive(Default)]
struct State {
    recorded: Vec<Recorded>,
    script: VecDeque<Reply>,
}

/// CloudFormation's side of a custom resource: the pre-signed URL the function PUTs its answer to.
#[derive(Clone)]
pub struct ResponseUrl {
    pub url: String,
    state: Arc<(Mutex<State>, Condvar)>,
}

impl ResponseUrl {
    /// Answers 200 to everything.
    pub fn start() -> Self {
        Self::scripted(Vec::new())
    }

    /// Answers 200 to everything, on another loopback address than the tests' `RESPONSE_URL_HOSTS`.
    pub fn start_on(address: &str) -> Self {
        Self::serve(address, Vec::new())
    }

    /// Answers with `script` in order, then 200.
    pub fn scripted(script: Vec<Reply>) -> Self {
        Self::serve("127.0.0.1", script)
    }

    fn serve(address: &str, script: Vec<Reply>) -> Self {
        let listener = TcpListener::bind((address, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new((
            Mutex::new(State {
                recorded: Vec::new(),
                script: script.into(),
            }),
            Condvar::new(),
        ));
        let shared = state.clone();
        let url = format!("http://{address}:{port}/cfn-response/stack/req?X-Amz-Signature=deadbeef");
        let location = url.clone();
        serve_each(listener, move |mut stream| {
            let Some(request) = read_request(&mut stream) else {
                return;
            };
            let reply = {
                let (lock, signal) = &*shared;
                let mut state = lock.lock().unwrap();
                state.recorded.push(request);
                signal.notify_all();
                state.script.pop_front().unwrap_or(Reply::Status(200))
            };
            match reply {
                Reply::Status(status) => write_response(&mut stream, status, &[], ""),
                Reply::RedirectToSelf => {
                    write_response(&mut stream, 307, &[("Location", location.clone())], "")
                }
                Reply::Hang => std::thread::sleep(Duration::from_secs(600)),
            }
        });
        ResponseUrl {
            // Shaped like S3's pre-signed URL: the query string is a credential.
            url,
            state,
        }
    }

    /// The `Reason` of the first response CloudFormation received, empty when it has none.
    pub fn reason(&self) -> String {
        self.requests()
            .first()
            .and_then(|request| request.json()["Reason"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.0.lock().unwrap().recorded.clone()
    }

    /// Waits until `count` requests have arrived, or `timeout` passed; returns what arrived.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Recorded> {
        let (lock, signal) = &*self.state;
        let until = Instant::now() + timeout;
        let mut state = lock.lock().unwrap();
        while state.recorded.len() < count {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = signal.wait_timeout(state, left).unwrap().0;
        }
        state.recorded.clone()
    }
}
