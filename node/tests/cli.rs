//! The `chainspace` binary as an operator runs it: help, keygen, and a 1x4 network of
//! `chainspace node` processes that survives SIGKILL of one replica, then of all of them,
//! resuming each time from the replicas' redb stores.
//!
//! Every wait is bounded and every child process is killed when its guard drops, so a
//! failing assertion never leaves replicas running.

use std::net::{Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chainspace_contracts::addition;
use chainspace_core::object::{Object, ObjectStatus};
use chainspace_core::replica::{Addr, AnswerBody, Query, ReplicaMessage, Subject};
use chainspace_core::sbac::Outcome;
use chainspace_core::transaction::{Transaction, TransactionRequest};
use chainspace_core::transport::Transport;
use chainspace_core::types::{ReplicaId, ShardId};
use chainspace_node::client::ClientMessage;
use chainspace_node::config::{CONFIG_FILE, NetworkConfig};
use chainspace_node::{Client, ClientConfig};
use transport_quic::QuicClient;

const BIN: &str = env!("CARGO_BIN_EXE_chainspace");
/// The longest any one wait may take.
const WAIT: Duration = Duration::from_secs(60);

fn chainspace(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).stdin(Stdio::null()).output().expect("the binary runs")
}

#[test]
fn help_exits_zero_for_every_command() {
    for args in [
        &["--help"][..],
        &["keygen", "--help"],
        &["node", "--help"],
        &["client-api", "--help"],
        &["up", "--help"],
    ] {
        let out = chainspace(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"), "{args:?}");
    }
}

#[test]
fn keygen_writes_a_config_that_loads() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("net");
    let out = chainspace(&[
        "keygen",
        "--shards",
        "2",
        "--replicas",
        "4",
        "--consensus",
        "hotstuff",
        "--out",
        out_dir.to_str().unwrap(),
        "--base-port",
        "9100",
    ]);
    assert!(out.status.success(), "{out:?}");
    let cfg = NetworkConfig::load(out_dir.join(CONFIG_FILE)).expect("keygen output loads");
    assert_eq!(cfg.num_shards(), 2);
    assert_eq!(cfg.replicas.len(), 8);
    assert_eq!(cfg.protocol.protocol().name(), "hotstuff");
    assert_eq!(cfg.replica(1, 3).unwrap().1.address.port(), 9107);
    assert!(out_dir.join("keys/client.key").exists());

    // A second keygen into the same directory is refused; so is a shard too small.
    let again = chainspace(&["keygen", "--out", out_dir.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let small = dir.path().join("small");
    let out = chainspace(&["keygen", "--replicas", "3", "--out", small.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 4"), "{out:?}");
    assert!(!small.join("keys").exists(), "a refused layout writes nothing");
}

#[test]
fn node_refuses_a_replica_the_config_does_not_list() {
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().to_str().unwrap();
    assert!(chainspace(&["keygen", "--shards", "1", "--out", net]).status.success());
    let config = dir.path().join(CONFIG_FILE);
    let out = chainspace(&[
        "node",
        "--config",
        config.to_str().unwrap(),
        "--shard",
        "1",
        "--replica",
        "0",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no replica s1r0"), "{out:?}");
}

/// A replica process, killed (SIGKILL) and reaped when dropped.
struct Node {
    child: std::process::Child,
}

impl Node {
    fn start(config: &Path, id: ReplicaId, logs: &Path) -> Node {
        let log = logs.join(format!("s{}r{}.log", id.shard.0, id.index));
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let child = Command::new(BIN)
            .arg("node")
            .arg("--config")
            .arg(config)
            .args(["--shard", &id.shard.0.to_string(), "--replica", &id.index.to_string()])
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("node starts");
        Node { child }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The first of some tries at `n` consecutive free UDP ports on localhost. Each call
/// starts in a range of its own, so tests running at once never probe the same ports
/// (a probe cannot reserve them).
fn free_ports(n: u16) -> u16 {
    static CALLS: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let start = 20_000 + (std::process::id() % 500) as u16 * 64 + call * 2_000;
    (0..100u16)
        .map(|i| start.wrapping_add(i * n))
        .find(|&base| {
            base > 1024
                && base.checked_add(n).is_some()
                && (base..base + n).all(|p| UdpSocket::bind((Ipv4Addr::LOCALHOST, p)).is_ok())
        })
        .expect("free ports")
}

async fn submit(client: &Client, tx: Transaction, reads: &[&Object]) -> Outcome {
    let store = reads.iter().map(|o| (o.id, o.value.clone())).collect();
    let request = TransactionRequest { transaction: tx, store };
    tokio::time::timeout(WAIT, client.submit(request))
        .await
        .expect("an outcome within the bound")
        .expect("client running")
        .outcome
}

/// Ask replica `id` itself for `object` until it holds it with `status`, within [`WAIT`].
async fn wait_for_object(q: &QuicClient, id: ReplicaId, object: &Object, status: ObjectStatus) {
    let deadline = Instant::now() + WAIT;
    let mut n = 0;
    loop {
        n += 1;
        let ask = ClientMessage::Query(Query { id: n, about: Subject::Object(object.id) });
        let _ = q.send(Addr::Replica(id), postcard::to_allocvec(&ask).unwrap()).await;
        let got = tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                let (from, bytes) = q.recv().await.ok()?;
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
        if let Ok(Some(AnswerBody::Object(_, Some(o)))) = &got
            && o.status == status
            && o.value == object.value
        {
            return;
        }
        assert!(Instant::now() < deadline, "{id} never answered {status:?}: {got:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_resume_from_their_stores_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let base = free_ports(4).to_string();
    let net = dir.path().to_str().unwrap();
    let out = chainspace(&[
        "keygen",
        "--shards",
        "1",
        "--replicas",
        "4",
        "--out",
        net,
        "--base-port",
        &base,
    ]);
    assert!(out.status.success(), "{out:?}");
    let config = dir.path().join(CONFIG_FILE);
    // A crashed peer is noticed after the idle timeout: keep it short, so the restarted
    // replica is reached again in seconds rather than the default 15.
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[transport]\nidle_timeout_ms = 2000\nkeep_alive_ms = 500\n");
    std::fs::write(&config, text).unwrap();
    let cfg = NetworkConfig::load(&config).unwrap();
    let logs: PathBuf = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let ids: Vec<ReplicaId> = (0..4).map(|index| ReplicaId { shard: ShardId(0), index }).collect();
    let mut nodes: Vec<Node> = ids.iter().map(|id| Node::start(&config, *id, &logs)).collect();

    let key = cfg.client_key().unwrap();
    let transport = cfg.quic_client(&key).unwrap();
    let client = Client::spawn(cfg.committee.clone(), Arc::new(transport), ClientConfig::default());
    let reader = cfg.quic_client(&chainspace_node::config::keys::generate().unwrap()).unwrap();

    let init = addition::init();
    let counter = init.created_objects().remove(0);
    assert_eq!(submit(&client, init, &[]).await, Outcome::Commit, "init commits");

    // One replica crashes and comes back: it answers from its store.
    let victim = ids[3];
    nodes[3].kill();
    nodes[3] = Node::start(&config, victim, &logs);
    wait_for_object(&reader, victim, &counter, ObjectStatus::Active).await;
    let increment = addition::increment(&counter).unwrap();
    let next = increment.created_objects().remove(0);
    assert_eq!(submit(&client, increment, &[&counter]).await, Outcome::Commit, "increment commits");

    // The restarted replica catches up with what it missed, like the others.
    for id in &ids {
        wait_for_object(&reader, *id, &next, ObjectStatus::Active).await;
    }

    // Every replica crashes and comes back: no peer holds the objects in memory any more,
    // so whatever they answer comes from their stores.
    for n in &mut nodes {
        n.kill();
    }
    let nodes: Vec<Node> = ids.iter().map(|id| Node::start(&config, *id, &logs)).collect();
    for id in &ids {
        wait_for_object(&reader, *id, &next, ObjectStatus::Active).await;
    }
    let again = addition::increment(&next).unwrap();
    assert_eq!(submit(&client, again, &[&next]).await, Outcome::Commit, "the chain goes on");

    client.shutdown().await;
    reader.close();
    drop(nodes);
}

/// `up` starts replicas and the API, reports where everything is, serves the API, and on
/// SIGINT stops every replica cleanly and exits 0.
#[test]
fn up_starts_a_network_and_stops_it_on_sigint() {
    use std::io::{BufRead, BufReader, Read, Write};

    let dir = tempfile::tempdir().unwrap();
    let base = free_ports(5);
    let api = format!("127.0.0.1:{}", base + 4);
    let child = Command::new(BIN)
        .args(["up", "--shards", "1", "--replicas", "4", "--api", &api])
        .args(["--base-port", &base.to_string(), "--dir"])
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("up starts");
    let mut up = Node { child };
    let stdout = up.child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut printed = Vec::new();
    while !printed.iter().any(|l: &String| l.starts_with("client API")) {
        printed.push(rx.recv_timeout(WAIT).expect("up reports its API"));
    }
    let logs = printed.iter().filter(|l| l.starts_with("replica ") && l.contains(".log")).count();
    assert_eq!(logs, 4, "a line per replica with its log: {printed:?}");

    // The API answers (retrying while it binds).
    let deadline = Instant::now() + WAIT;
    let index = loop {
        let got = std::net::TcpStream::connect(&api).and_then(|mut s| {
            s.write_all(b"GET /api/1.0/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
            let mut body = String::new();
            s.read_to_string(&mut body)?;
            Ok(body)
        });
        match got {
            Ok(body) => break body,
            Err(e) => assert!(Instant::now() < deadline, "API unreachable: {e}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(index.starts_with("HTTP/1.1 200"), "{index}");

    // Every replica has started (a signal before its handler is installed would just
    // kill it, which is not what this test is about).
    let started = |r: u32| {
        std::fs::read_to_string(dir.path().join(format!("logs/s0r{r}.log")))
            .is_ok_and(|log| log.contains("replica started"))
    };
    while !(0..4).all(started) {
        assert!(Instant::now() < deadline, "replicas did not start");
        std::thread::sleep(Duration::from_millis(100));
    }

    let pid = libc::pid_t::try_from(up.child.id()).unwrap();
    // SAFETY: kill(2) on our own, not yet reaped, child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = up.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "up did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
    for r in 0..4 {
        let log = std::fs::read_to_string(dir.path().join(format!("logs/s0r{r}.log"))).unwrap();
        assert!(log.contains("replica stopped"), "s0r{r} stopped cleanly:\n{log}");
    }
}
