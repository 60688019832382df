//! moto's server mode on 127.0.0.1, one per test binary, started on first use and stopped when
//! the test binary exits (the shell that starts it kills it when its stdin, our pipe, closes).
//! It runs through `tools/moto_server.py`, which adds the `RevokeToken` that moto lacks.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

struct Moto {
    endpoint: String,
    // Held so that the pipe stays open for as long as the test binary runs.
    _guard: Mutex<Child>,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

/// `http://127.0.0.1:PORT` of the shared moto server.
pub fn endpoint() -> &'static str {
    &MOTO.get_or_init(start).endpoint
}

/// The wrapper around moto's server, run by the pinned Python that `scripts/test` installs into
/// `.venv` (or `$MOTO_PYTHON`).
fn moto_server_command() -> (PathBuf, PathBuf) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("MOTO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv/bin/python"));
    assert!(
        python.exists(),
        "Python with moto not found at {}: run `scripts/test` (it installs the pinned moto into .venv) or set MOTO_PYTHON",
        python.display()
    );
    (python, root.join("tools/moto_server.py"))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start() -> Moto {
    let port = free_port();
    let log = std::env::temp_dir().join(format!("moto-{}-{port}.log", std::process::id()));
    let (python, wrapper) = moto_server_command();
    let child = Command::new("sh")
        .arg("-c")
        .arg(r#""$0" "$3" -H 127.0.0.1 -p "$1" >"$2" 2>&1 & pid=$!; read _; kill $pid"#)
        .arg(python)
        .arg(port.to_string())
        .arg(&log)
        .arg(wrapper)
        .stdin(Stdio::piped())
        .spawn()
        .expect("start moto_server");
    let endpoint = format!("http://127.0.0.1:{port}");
    wait_until_ready(port, &log);
    Moto {
        endpoint,
        _guard: Mutex::new(child),
    }
}

fn wait_until_ready(port: u16, log: &std::path::Path) {
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "moto_server did not start on port {port} within 60 s; its log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}
