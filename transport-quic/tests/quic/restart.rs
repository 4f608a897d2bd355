//! A replica killed without a word (SIGKILL: no CONNECTION_CLOSE, no stream finished)
//! and restarted on the same address: its peers must reach it again, and hear from it,
//! within a second or two, not after the QUIC idle timeout (left here at its default).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chainspace_core::committee::Committee;
use chainspace_core::crypto::Keypair;
use chainspace_core::replica::Addr;
use chainspace_core::transport::Transport;
use chainspace_core::types::{ReplicaId, ShardId};
use tokio::runtime::Runtime;
use transport_quic::{QuicConfig, QuicTransport};

use crate::common::{bounded, config, localhost, recv_until};

/// How long a restart may take to be survived, from the rebind to messages flowing in
/// both directions: far under the idle timeout.
const RECOVERY: Duration = Duration::from_secs(3);

fn r(index: u32) -> ReplicaId {
    ReplicaId { shard: ShardId(0), index }
}

/// The test configuration with the idle timeout and keep-alive of a deployment.
fn deployment_timeouts() -> QuicConfig {
    let defaults = QuicConfig::default();
    let cfg = QuicConfig {
        idle_timeout: defaults.idle_timeout,
        keep_alive: defaults.keep_alive,
        ..config()
    };
    assert_eq!(cfg.idle_timeout, Duration::from_secs(15));
    cfg
}

/// A replica in a tokio runtime of its own, as if in a process of its own: every task of
/// its endpoint (the quinn drivers among them) runs there, so shutting the runtime down
/// is a SIGKILL: no task runs again, no packet leaves, and the socket is freed.
struct Process {
    runtime: Option<Runtime>,
    transport: Option<Arc<QuicTransport>>,
}

impl Process {
    /// Start replica `key` on `addr`, retrying the bind while the port is still held (a
    /// restarting process would), and tell it where its peers are.
    async fn start(
        key: &Keypair,
        committee: &Committee,
        addr: SocketAddr,
        cfg: &QuicConfig,
        peers: &std::collections::BTreeMap<ReplicaId, SocketAddr>,
    ) -> Process {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let (key, committee, cfg) =
            (Keypair::from_secret(key.secret()), committee.clone(), cfg.clone());
        let bind = runtime.spawn(async move {
            loop {
                match QuicTransport::bind(&key, committee.clone(), addr, cfg.clone()) {
                    Ok(t) => return t,
                    Err(e) => println!("rebind {addr}: {e}"),
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let transport = bounded("bind the replica", bind).await.expect("bind task");
        transport.set_peers(peers.clone()).expect("peers");
        Process { runtime: Some(runtime), transport: Some(Arc::new(transport)) }
    }

    fn transport(&self) -> &QuicTransport {
        self.transport.as_ref().expect("running")
    }

    /// `send`, run on the replica's own runtime, where its links live.
    async fn send(&self, to: ReplicaId, bytes: &[u8]) {
        let (t, bytes) = (self.transport.clone().expect("running"), bytes.to_vec());
        let runtime = self.runtime.as_ref().expect("running");
        let sent = runtime.spawn(async move { t.send(Addr::Replica(to), bytes).await });
        bounded("send on the replica's runtime", sent).await.expect("send task").expect("send");
    }

    /// Kill the replica: stop its runtime without running any of its tasks again, then
    /// let go of the handle (whose close finds no driver left to send anything).
    async fn kill(mut self) {
        let runtime = self.runtime.take().expect("running");
        let stopped = tokio::task::spawn_blocking(move || {
            runtime.shutdown_timeout(Duration::from_secs(2));
        });
        bounded("stop the replica's runtime", stopped).await.expect("shutdown");
        drop(self.transport.take());
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Send with `send` until `to` receives `bytes` from `from`, as a protocol's
/// retransmission would (what is sent while a link notices the restart may be lost), or
/// panic at `deadline`. Returns when it arrived.
async fn deliver<F: Future<Output = ()>>(
    what: &str,
    deadline: Instant,
    send: impl Fn() -> F,
    to: &QuicTransport,
    from: ReplicaId,
    bytes: &[u8],
) -> Instant {
    let expected = (Addr::Replica(from), bytes.to_vec());
    let attempt = async {
        loop {
            send().await;
            let wait = tokio::time::sleep(Duration::from_millis(100));
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    _ = &mut wait => break,
                    m = to.recv() => if m.expect("recv") == expected {
                        return Instant::now();
                    },
                }
            }
        }
    };
    match tokio::time::timeout_at(deadline.into(), attempt).await {
        Ok(at) => at,
        Err(_) => panic!("{what}: not delivered by the deadline"),
    }
}

/// Which side speaks first after the restart.
#[derive(Clone, Copy, Debug)]
enum First {
    /// The survivor: only a stateless reset from the new process can end its connection
    /// to the dead one, since the new process has not dialled it yet.
    Survivor,
    /// The restarted replica: its new connection tells the survivor that it restarted.
    Restarted,
}

/// Two replicas talk; replica 1 is killed, and replica 0 writes into the dead connection
/// for a while; replica 1 restarts on the same address; both directions must work again
/// within [`RECOVERY`]. Returns how long that took.
async fn kill_and_restart(first: First) -> Duration {
    let cfg = deployment_timeouts();
    let (committee, mut keys) = Committee::for_test(1, 2);
    let keys = keys.remove(0);
    let survivor =
        QuicTransport::bind(&keys[0], committee.clone(), localhost(), cfg.clone()).expect("bind");
    // Replica 1's address: a port free now, bound by each of its processes in turn.
    let addr1 = std::net::UdpSocket::bind(localhost()).and_then(|s| s.local_addr()).expect("port");
    let addrs: std::collections::BTreeMap<_, _> =
        [(r(0), survivor.local_addr().expect("addr")), (r(1), addr1)].into();
    survivor.set_peers(addrs.clone()).expect("peers");
    let first_process = Process::start(&keys[1], &committee, addr1, &cfg, &addrs).await;

    // Both links up: each side dialled the other.
    survivor.send(Addr::Replica(r(1)), b"hello 1".to_vec()).await.expect("send");
    recv_until(first_process.transport(), |m| m == &(Addr::Replica(r(0)), b"hello 1".to_vec()))
        .await;
    first_process.send(r(0), b"hello 0").await;
    recv_until(&survivor, |m| m == &(Addr::Replica(r(1)), b"hello 0".to_vec())).await;

    first_process.kill().await;
    if matches!(first, First::Survivor) {
        // The survivor keeps sending into the dead connection: nothing tells it otherwise.
        for i in 0..5u8 {
            survivor.send(Addr::Replica(r(1)), vec![b'x', i]).await.expect("send");
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    }

    let second_process = Process::start(&keys[1], &committee, addr1, &cfg, &addrs).await;
    let restarted_at = Instant::now();
    let deadline = restarted_at + RECOVERY;
    let to_restarted = || async {
        survivor.send(Addr::Replica(r(1)), b"to the new process".to_vec()).await.expect("send")
    };
    let from_restarted = || second_process.send(r(0), b"from the new process");
    let restarted = second_process.transport();
    let to_it = || {
        let bytes = b"to the new process";
        deliver("survivor -> restarted", deadline, to_restarted, restarted, r(0), bytes)
    };
    let from_it = || {
        let bytes = b"from the new process";
        deliver("restarted -> survivor", deadline, from_restarted, &survivor, r(1), bytes)
    };
    let (a, b) = match first {
        First::Survivor => {
            let a = to_it().await;
            (a, from_it().await)
        }
        First::Restarted => {
            let b = from_it().await;
            (to_it().await, b)
        }
    };
    let to_it = a - restarted_at;
    let from_it = b - restarted_at;
    let recovered = to_it.max(from_it);
    println!(
        "{first:?} first: survivor -> restarted after {to_it:?}, restarted -> survivor after \
         {from_it:?}; survivor stats {:?}",
        survivor.stats()
    );
    if matches!(first, First::Restarted) {
        assert!(
            survivor.stats().restarted_peers >= 1,
            "the restarted replica's new connection made the survivor drop its old one"
        );
    }
    assert!(recovered < RECOVERY);
    second_process.kill().await;
    recovered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_is_reached_again_when_the_survivor_speaks_first() {
    kill_and_restart(First::Survivor).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_is_reached_again_when_it_speaks_first() {
    kill_and_restart(First::Restarted).await;
}

/// A replica down long enough for the survivor's connection to it to time out: the
/// survivor's link is then dialling the dead address, its first packets lost and their
/// retransmissions backing off (a second, then two). When the replica is back and
/// connects to the survivor, the link drops the stuck dial and redials at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_back_after_a_long_outage_is_redialled_at_once() {
    let cfg = QuicConfig {
        idle_timeout: Duration::from_millis(800),
        keep_alive: Duration::from_millis(200),
        backoff_max: QuicConfig::default().backoff_max,
        connect_timeout: QuicConfig::default().connect_timeout,
        ..config()
    };
    let (committee, mut keys) = Committee::for_test(1, 2);
    let keys = keys.remove(0);
    let survivor =
        QuicTransport::bind(&keys[0], committee.clone(), localhost(), cfg.clone()).expect("bind");
    let addr1 = std::net::UdpSocket::bind(localhost()).and_then(|s| s.local_addr()).expect("port");
    let addrs: std::collections::BTreeMap<_, _> =
        [(r(0), survivor.local_addr().expect("addr")), (r(1), addr1)].into();
    survivor.set_peers(addrs.clone()).expect("peers");
    let first_process = Process::start(&keys[1], &committee, addr1, &cfg, &addrs).await;
    survivor.send(Addr::Replica(r(1)), b"hello".to_vec()).await.expect("send");
    recv_until(first_process.transport(), |m| m.1 == b"hello").await;

    first_process.kill().await;
    // The connection times out after 0.8 s; the link redials, and its dial hangs.
    survivor.send(Addr::Replica(r(1)), b"lost".to_vec()).await.expect("send");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let dials_before = survivor.stats().dials;

    let second_process = Process::start(&keys[1], &committee, addr1, &cfg, &addrs).await;
    let restarted_at = Instant::now();
    let deadline = restarted_at + Duration::from_secs(1);
    let restarted = second_process.transport();
    let from_restarted = || second_process.send(r(0), b"back");
    deliver("restarted -> survivor", deadline, from_restarted, &survivor, r(1), b"back").await;
    let to_restarted = || async {
        survivor.send(Addr::Replica(r(1)), b"welcome back".to_vec()).await.expect("send")
    };
    let at =
        deliver("survivor -> restarted", deadline, to_restarted, restarted, r(0), b"welcome back")
            .await;
    println!("back after a long outage: reached again after {:?}", at - restarted_at);
    assert_eq!(survivor.stats().dials, dials_before + 1, "one new connection, at once");
    second_process.kill().await;
}
