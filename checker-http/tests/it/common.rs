//! Helpers: the Python interpreter, checker calls, and tiny misbehaving servers.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chainspace_core::checker::{CheckCall, CheckRequest};
use checker_http::{HttpConfig, ManagedConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the crate is in the workspace").into()
}

/// `$CHAINSPACE_PYTHON`, else the CI virtual environment's, else `python3`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("CHAINSPACE_PYTHON").filter(|p| !p.is_empty()) {
        return p.into();
    }
    let venv = root().join("target/ci-venv/bin/python");
    if venv.exists() { venv } else { "python3".into() }
}

/// Quick failures for the misbehaving-server tests.
pub fn fast() -> HttpConfig {
    HttpConfig {
        timeout: Duration::from_millis(800),
        connect_timeout: Duration::from_millis(300),
        retries: 2,
        backoff: Duration::from_millis(10),
        ..HttpConfig::default()
    }
}

/// The managed Python checker of `contract`, logging under `logs`.
pub fn python_config(contract: &str, logs: &Path) -> ManagedConfig {
    let mut config = ManagedConfig::python(&root(), contract, logs);
    config.command = config.command.with_program(python());
    config.startup_timeout = Duration::from_secs(20);
    config.http.timeout = Duration::from_secs(5);
    config
}

/// A call of `contract.method` with these values.
pub fn call(contract: &str, method: &str, inputs: &[&str], outputs: &[&str]) -> CheckCall {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    CheckCall {
        contract_id: contract.into(),
        method_id: method.into(),
        inputs: strings(inputs),
        reference_inputs: vec![],
        parameters: vec![],
        outputs: strings(outputs),
        returns: vec![],
    }
}

/// A request for `call` without dependencies.
pub fn request(call: CheckCall) -> CheckRequest {
    CheckRequest { call, dependencies: vec![] }
}

/// `addition.increment` of counter `n` into `out`.
pub fn increment(n: &str, out: &str) -> CheckRequest {
    request(call("addition", "increment", &[n], &[out]))
}

/// The `dependency` case of `shared/vectors/ids.json`.
pub fn dependency_case() -> Value {
    let path = root().join("../shared/vectors/ids.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).expect("JSON vectors");
    let cases = doc["cases"].as_array().expect("cases");
    cases.iter().find(|c| c["name"] == "dependency").expect("a dependency case").clone()
}

/// A server that accepts connections and never answers. Its URL; it lives as long as
/// the test's runtime.
pub async fn hanging_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

/// A URL where nothing listens: a port just bound and released.
pub async fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    url
}

/// What a [`canned_server`] saw.
#[derive(Clone, Default)]
pub struct Seen {
    /// Connections accepted.
    pub connections: Arc<AtomicUsize>,
}

impl Seen {
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A keep-alive HTTP/1.1 server answering every request with `response` (raw bytes)
/// and sending each raw request (head and body) to the receiver.
pub async fn canned_server(
    response: &'static [u8],
) -> (String, Seen, mpsc::UnboundedReceiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let seen = Seen::default();
    let (tx, rx) = mpsc::unbounded_channel();
    let counter = seen.connections.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(socket, response, tx.clone()));
        }
    });
    (url, seen, rx)
}

async fn serve(
    mut socket: TcpStream,
    response: &'static [u8],
    requests: mpsc::UnboundedSender<Vec<u8>>,
) {
    let mut buffer = Vec::new();
    loop {
        let Some(head_end) = find(&buffer, b"\r\n\r\n") else {
            let mut chunk = [0u8; 4096];
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let total = head_end + 4 + length;
        while buffer.len() < total {
            let mut chunk = [0u8; 4096];
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let _ = requests.send(buffer.drain(..total).collect());
        if socket.write_all(response).await.is_err() {
            return;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether process `pid` is gone (or a zombie about to be reaped).
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// Wait up to `limit` for `pid` to be gone.
pub async fn wait_gone(pid: u32, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if process_gone(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    process_gone(pid)
}
