//! A whole network as an operator runs it: `chainspace keygen`, one `chainspace node`
//! process per replica and one `chainspace client-api` process, on free ports of
//! 127.0.0.1, driven over HTTP.
//!
//! Every child is SIGKILLed and reaped when its guard drops (so a failing assertion never
//! leaves processes behind), every wait is bounded, and networks never run at once: each
//! test holds [`serial`] while its network lives, so the timing-sensitive tests (a crash
//! under load) do not compete with another network of eight replicas for two cores.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use chainspace_core::object::{Object, ObjectId};
use chainspace_core::replica::{Addr, AnswerBody, Query, ReplicaMessage, Subject};
use chainspace_core::transport::Transport;
use chainspace_core::types::{ReplicaId, ShardId};
use chainspace_node::client::ClientMessage;
use chainspace_node::config::{CONFIG_FILE, NetworkConfig};
use serde_json::Value;
use transport_quic::QuicClient;

pub const BIN: &str = env!("CARGO_BIN_EXE_chainspace");
/// The longest any one wait may take (a process starting, an answer, a state converging).
pub const WAIT: Duration = Duration::from_secs(30);
/// The HTTP client's bound on one exchange: above the API's own 30 s process wait, so a
/// transaction the network cannot decide shows up as the API's 504, not as a client error.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(40);
pub const PROCESS: &str = "/api/1.0/transaction/process";

/// Held by a test for as long as its network runs (see the module doc).
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

/// A child process, SIGKILLed and reaped when dropped.
pub struct Child {
    pub name: String,
    pub log: PathBuf,
    child: Option<std::process::Child>,
}

impl Child {
    /// `chainspace ARGS`, stdout and stderr appended to `log`.
    pub fn spawn(name: &str, args: &[&str], log: &Path) -> Child {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let child = Command::new(BIN)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        Child { name: name.to_string(), log: log.to_path_buf(), child: Some(child) }
    }

    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// SIGKILL and reap (a crash: nothing is flushed beyond what the process made durable).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Send SIGINT (an operator's Ctrl-C, "stop cleanly") without waiting.
    pub fn interrupt(&mut self) {
        if let Some(c) = self.child.as_mut()
            && c.try_wait().ok().flatten().is_none()
        {
            let pid = libc::pid_t::try_from(c.id()).expect("a pid");
            // SAFETY: kill(2) on our own child, not yet reaped, so the pid is still ours.
            unsafe {
                libc::kill(pid, libc::SIGINT);
            }
        }
    }

    /// Wait until it exits, at most until `deadline`; SIGKILL it then (and fail).
    pub fn wait_until(&mut self, deadline: Instant) -> ExitStatus {
        let c = self.child.as_mut().expect("running");
        loop {
            if let Some(status) = c.try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!("{} did not exit in time; log:\n{}", self.name, tail(&self.log, 20));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `n` lines of a log file.
pub fn tail(log: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `n` consecutive free UDP ports on localhost for the replicas, followed by one free TCP
/// port for the API: the first port. Each call probes a range of its own, below the
/// ephemeral range (where the API's and the test's own sockets land), so two tests never
/// probe the same ports (a probe cannot reserve them).
fn free_ports(n: u16) -> u16 {
    static CALLS: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let start = 11_000 + (std::process::id() % 300) as u16 * 50 + call * 700;
    (0..40u16)
        .map(|i| start + i * (n + 1))
        .find(|&base| {
            (base..base + n).all(|p| UdpSocket::bind((Ipv4Addr::LOCALHOST, p)).is_ok())
                && TcpListener::bind((Ipv4Addr::LOCALHOST, base + n)).is_ok()
        })
        .expect("free ports")
}

/// A network of `chainspace` processes with the client API in front.
pub struct Network {
    pub http: Http,
    pub cfg: NetworkConfig,
    pub config: PathBuf,
    pub logs: PathBuf,
    pub nodes: BTreeMap<ReplicaId, Child>,
    pub api: Child,
    /// Last, so the directory goes after every process is dead.
    pub _dir: tempfile::TempDir,
}

impl Network {
    /// keygen a `shards` x `replicas` network running `consensus`, start every replica
    /// and the API, and wait until the API answers and every replica logged its start.
    pub async fn start(consensus: &str, shards: u32, replicas: u32) -> Network {
        let started = Instant::now();
        let dir = tempfile::tempdir().unwrap();
        let n = u16::try_from(shards * replicas).unwrap();
        let base = free_ports(n);
        let api_addr = format!("127.0.0.1:{}", base + n);
        let out = Command::new(BIN)
            .args(["keygen", "--shards", &shards.to_string(), "--replicas"])
            .args([&replicas.to_string(), "--consensus", consensus, "--out"])
            .arg(dir.path())
            .args(["--base-port", &base.to_string(), "--api", &api_addr])
            .stdin(Stdio::null())
            .output()
            .expect("keygen runs");
        assert!(out.status.success(), "keygen: {out:?}");
        let config = dir.path().join(CONFIG_FILE);
        // A crashed peer is noticed after the idle timeout: keep it short, so a restarted
        // replica is reached again within seconds rather than the default 15.
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str("\n[transport]\nidle_timeout_ms = 2000\nkeep_alive_ms = 500\n");
        std::fs::write(&config, text).unwrap();
        let cfg = NetworkConfig::load(&config).expect("the config loads");
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();

        let mut nodes = BTreeMap::new();
        for id in cfg.replicas.keys() {
            nodes.insert(*id, start_node(&config, &logs, *id));
        }
        let api_log = logs.join("api.log");
        let api = Child::spawn(
            "client-api",
            &["client-api", "--config", config.to_str().unwrap(), "--listen", &api_addr],
            &api_log,
        );
        let http = Http::new(format!("http://{api_addr}"));
        let mut net = Network { http, cfg, config, logs, nodes, api, _dir: dir };

        // The API answers (retrying while it binds), and every replica has started (a
        // SIGINT before its handler is installed would just kill it).
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok((200, _)) = net.http.try_get("/api/1.0/").await {
                break;
            }
            assert!(net.api.is_running(), "client-api exited:\n{}", tail(&api_log, 20));
            assert!(Instant::now() < deadline, "API unreachable:\n{}", tail(&api_log, 20));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for id in net.cfg.replicas.keys().copied().collect::<Vec<_>>() {
            net.wait_started(id, 1, deadline).await;
        }
        eprintln!(
            "[e2e] {shards}x{replicas} {consensus} network of processes up in {:?} (replica \
             ports from {base}, API {api_addr})",
            started.elapsed()
        );
        net
    }

    /// Wait until replica `id`'s log says "replica started" `times` times (its log is
    /// appended to across restarts).
    pub async fn wait_started(&mut self, id: ReplicaId, times: usize, deadline: Instant) {
        loop {
            let node = self.nodes.get_mut(&id).expect("a replica");
            if node.log_text().matches("replica started").count() >= times {
                return;
            }
            assert!(node.is_running(), "{id} exited:\n{}", tail(&node.log, 20));
            assert!(Instant::now() < deadline, "{id} did not start:\n{}", tail(&node.log, 20));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL replica `id`.
    pub fn kill(&mut self, id: ReplicaId) {
        self.nodes.get_mut(&id).expect("a replica").kill();
    }

    /// Start replica `id` again over its data directory, and wait for its start.
    pub async fn restart(&mut self, id: ReplicaId) {
        let starts = self.nodes[&id].log_text().matches("replica started").count();
        self.nodes.insert(id, start_node(&self.config, &self.logs, id));
        self.wait_started(id, starts + 1, Instant::now() + WAIT).await;
    }

    /// SIGINT the API and every replica, wait (bounded) for all to exit, and check that
    /// each exited 0 and each replica logged a clean stop.
    pub fn stop_gracefully(&mut self) {
        self.api.interrupt();
        for node in self.nodes.values_mut() {
            node.interrupt();
        }
        let deadline = Instant::now() + WAIT;
        let status = self.api.wait_until(deadline);
        assert!(status.success(), "client-api: {status}:\n{}", tail(&self.api.log, 20));
        for (id, node) in &mut self.nodes {
            let status = node.wait_until(deadline);
            assert!(status.success(), "{id}: {status}:\n{}", tail(&node.log, 20));
            let log = node.log_text();
            let last_run = log.rsplit("replica started").next().unwrap_or_default();
            assert!(last_run.contains("replica stopped"), "{id} stopped cleanly:\n{last_run}");
        }
    }

    /// Replica `id`'s redb file.
    pub fn store_file(&self, id: ReplicaId) -> PathBuf {
        self.cfg.data_dir(id).join("store.redb")
    }

    pub fn replica_ids(&self, shard: u32) -> Vec<ReplicaId> {
        self.cfg.replicas.keys().copied().filter(|id| id.shard == ShardId(shard)).collect()
    }
}

fn start_node(config: &Path, logs: &Path, id: ReplicaId) -> Child {
    let (s, r) = (id.shard.0.to_string(), id.index.to_string());
    let log = logs.join(format!("s{s}r{r}.log"));
    let args = ["node", "--config", config.to_str().unwrap(), "--shard", &s, "--replica", &r];
    Child::spawn(&format!("replica {id}"), &args, &log)
}

/// An HTTP client of the API; every answer must be JSON.
#[derive(Clone)]
pub struct Http {
    pub base: String,
    pub client: reqwest::Client,
}

impl Http {
    pub fn new(base: String) -> Http {
        let client = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .pool_max_idle_per_host(256)
            .build()
            .expect("an HTTP client");
        Http { base, client }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn try_get(&self, path: &str) -> Result<(u16, Value), reqwest::Error> {
        let r = self.client.get(self.url(path)).send().await?;
        Ok(read(r).await)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.try_get(path).await.unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// POST `body` (already JSON text, or not) to `path` as `application/json`.
    pub async fn try_post(&self, path: &str, body: String) -> Result<(u16, Value), reqwest::Error> {
        let r = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        Ok(read(r).await)
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.try_post(path, body.to_string()).await.unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// `{"transaction": tx, "store": store}` to the process route.
    pub async fn process(&self, tx: Value, store: Value) -> (u16, Value) {
        self.post(PROCESS, &serde_json::json!({ "transaction": tx, "store": store })).await
    }

    /// Poll `GET /api/1.0/objects/{id}` until its status is `status` (a read takes f + 1
    /// matching answers, which may briefly still be the state before a commit reached
    /// enough replicas).
    pub async fn object_becomes(&self, id: &str, status: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let (code, body) = self.get(&format!("/api/1.0/objects/{id}")).await;
            if code == 200 && body["status"] == status {
                return body;
            }
            assert!(Instant::now() < deadline, "{id} never became {status}: {code} {body}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn read(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let is_json = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let text = r.text().await.unwrap_or_default();
    assert!(is_json, "status {status}: a JSON answer, got {text:?}");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text:?}"));
    (status, body)
}

/// The shard of an object as the original computes it, `int(id_hex, 16) % shards`, done
/// here independently of the library (Horner's rule over the hex digits).
pub fn shard_of_hex(id: &str, shards: u32) -> u32 {
    id.chars()
        .fold(0u64, |r, c| (r * 16 + u64::from(c.to_digit(16).expect("hex"))) % u64::from(shards))
        as u32
}

/// Asks replicas directly, over QUIC, what they hold: to see a single replica's state
/// (the API's reads take f + 1 agreeing answers, which hide one lagging replica).
pub struct ReplicaReader {
    quic: QuicClient,
    next: u64,
}

impl ReplicaReader {
    pub fn new(cfg: &NetworkConfig) -> ReplicaReader {
        let key = chainspace_node::config::keys::generate().expect("a key");
        ReplicaReader { quic: cfg.quic_client(&key).expect("a QUIC client"), next: 0 }
    }

    /// Replica `id`'s copy of `object`: `None` if it did not answer within 500 ms,
    /// `Some(None)` if it does not hold it.
    pub async fn object(&mut self, id: ReplicaId, object: ObjectId) -> Option<Option<Object>> {
        self.next += 1;
        let n = self.next;
        let ask = ClientMessage::Query(Query { id: n, about: Subject::Object(object) });
        let _ = self.quic.send(Addr::Replica(id), postcard::to_allocvec(&ask).unwrap()).await;
        let quic = &self.quic;
        let got = tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                let (from, bytes) = quic.recv().await.ok()?;
                if let (Addr::Replica(r), Ok(ReplicaMessage::Answer(a))) =
                    (from, postcard::from_bytes::<ClientMessage>(&bytes))
                    && r == id
                    && a.id == n
                {
                    return Some(a.body);
                }
            }
        })
        .await;
        match got {
            Ok(Some(AnswerBody::Object(_, o))) => Some(o),
            _ => None,
        }
    }

    /// Wait until replica `id` holds `want` exactly (value and status).
    pub async fn wait_for(&mut self, id: ReplicaId, want: &Object, deadline: Instant) {
        loop {
            let got = self.object(id, want.id).await;
            if got.as_ref().is_some_and(|o| o.as_ref() == Some(want)) {
                return;
            }
            assert!(Instant::now() < deadline, "{id} never held {want:?}: {got:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn close(&self) {
        self.quic.close();
    }
}
