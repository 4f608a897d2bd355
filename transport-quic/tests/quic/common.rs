//! Building QUIC networks on 127.0.0.1 for the tests: every endpoint on port 0, every
//! wait bounded.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use chainspace_core::committee::Committee;
use chainspace_core::crypto::Keypair;
use chainspace_core::replica::Addr;
use chainspace_core::transport::Transport;
use chainspace_core::transport::conformance::{Harness, Net};
use chainspace_core::types::ReplicaId;
use transport_quic::{QuicClient, QuicConfig, QuicTransport};

/// The longest any single wait in these tests may take.
pub const WAIT: Duration = Duration::from_secs(10);

pub fn localhost() -> SocketAddr {
    ([127, 0, 0, 1], 0).into()
}

/// Small limits, fast redials: what the tests need.
pub fn config() -> QuicConfig {
    QuicConfig {
        max_message: 1 << 20,
        queue_capacity: 32,
        backoff_min: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        connect_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(5),
        keep_alive: Duration::from_secs(1),
        ..QuicConfig::default()
    }
}

/// `fut`, or a panic naming `what` after [`WAIT`].
pub async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out: {what}"),
    }
}

/// One shard of `n` replicas, bound and told each other's addresses.
pub struct Cluster {
    pub committee: Committee,
    pub keys: Vec<Keypair>,
    pub replicas: Vec<QuicTransport>,
    pub addrs: BTreeMap<ReplicaId, SocketAddr>,
}

impl Cluster {
    pub fn start(n: u32, config: &QuicConfig) -> Cluster {
        let (committee, mut keys) = Committee::for_test(1, n);
        let keys = keys.remove(0);
        let replicas: Vec<QuicTransport> = keys
            .iter()
            .map(|k| {
                QuicTransport::bind(k, committee.clone(), localhost(), config.clone())
                    .expect("bind replica")
            })
            .collect();
        let addrs: BTreeMap<ReplicaId, SocketAddr> =
            replicas.iter().map(|r| (r.id(), r.local_addr().expect("local addr"))).collect();
        for r in &replicas {
            r.set_peers(addrs.clone()).expect("peers");
        }
        Cluster { committee, keys, replicas, addrs }
    }

    /// A client that knows every replica.
    pub fn client(&self, keypair: &Keypair, config: &QuicConfig) -> QuicClient {
        let client = QuicClient::bind(keypair, localhost(), config.clone()).expect("bind client");
        client.add_committee(&self.committee, &self.addrs);
        client
    }
}

/// Receive on `e` until `pred` holds for a message, or panic after [`WAIT`].
pub async fn recv_until<T: Transport + ?Sized>(
    e: &T,
    pred: impl Fn(&(Addr, Vec<u8>)) -> bool,
) -> (Addr, Vec<u8>) {
    bounded("recv_until", async {
        loop {
            let m = e.recv().await.expect("recv");
            if pred(&m) {
                return m;
            }
        }
    })
    .await
}

/// The conformance harness over QUIC.
pub struct Quic;

#[async_trait(?Send)]
impl Harness for Quic {
    type Endpoint = Box<dyn Transport>;

    async fn network(&self, replicas: u32, clients: u32) -> Net<Box<dyn Transport>> {
        let cfg = config();
        let cluster = Cluster::start(replicas, &cfg);
        let clients = (0..clients)
            .map(|i| {
                let key = Keypair::from_label(&format!("conformance client {i}"));
                Box::new(cluster.client(&key, &cfg)) as Box<dyn Transport>
            })
            .collect();
        let replicas = cluster.replicas.into_iter().map(|r| Box::new(r) as _).collect();
        Net { replicas, clients }
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await
    }

    fn capacity(&self) -> usize {
        config().queue_capacity
    }

    fn max_message(&self) -> usize {
        config().max_message
    }
}
