//! The scenarios over a memory network: no sockets, so they are fast.

use std::sync::Arc;

use async_trait::async_trait;
use chainspace_core::checker::{CheckRequest, CheckVerdict, Checker, CheckerRegistry};
use chainspace_core::committee::Committee;
use chainspace_core::order::OrderRequest;
use chainspace_core::replica::{Addr, ReplicaConfig};
use chainspace_core::sbac::Outcome;
use chainspace_core::store::MemoryStore;
use chainspace_core::transaction::TransactionRequest;
use chainspace_core::transport::{MemoryNetwork, Transport};
use chainspace_core::types::{ReplicaId, ShardId};
use chainspace_node::local::build_replica;
use chainspace_node::runtime;
use chainspace_node::{ClientConfig, LocalConfig, LocalNetwork, StoreChoice, TransportChoice};
use consensus_any::Protocol;

use crate::scenario::{self, submit};

fn config(protocol: Protocol) -> LocalConfig {
    let mut c = LocalConfig::new(2, 4, protocol.default_config());
    c.transport = TransportChoice::Memory(MemoryNetwork::new(4096));
    c
}

async fn walkthrough(protocol: Protocol) {
    let net = LocalNetwork::start(config(protocol)).expect("network starts");
    let client = net.client(ClientConfig::default()).expect("client");
    scenario::addition_walkthrough(&net, &client).await;
    scenario::cross_shard_consume(&client, "memory").await;
    client.shutdown().await;
    let stats = net.shutdown().await;
    assert!(
        stats.values().all(|s| s.decode_errors == 0 && s.replica.store_errors == 0),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_pbft_walkthrough_and_cross_shard_consume() {
    walkthrough(Protocol::Pbft).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_hotstuff_walkthrough_and_cross_shard_consume() {
    walkthrough(Protocol::HotStuff).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_store_walkthrough() {
    let dir = std::env::temp_dir().join(format!("chainspace-node-redb-{}", std::process::id()));
    let mut c = config(Protocol::Pbft);
    c.store = StoreChoice::Redb(dir.clone());
    let net = LocalNetwork::start(c).expect("network starts");
    let client = net.client(ClientConfig::default()).expect("client");
    scenario::addition_walkthrough(&net, &client).await;
    client.shutdown().await;
    net.shutdown().await;
    assert!(dir.join("shard1-replica3.redb").exists(), "one file per replica");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A checker that cannot answer.
struct Broken;

#[async_trait]
impl Checker for Broken {
    async fn check(&self, _: &CheckRequest) -> Result<CheckVerdict, chainspace_core::Error> {
        Err(chainspace_core::Error::Checker { contract: "addition".into(), reason: "down".into() })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checker_error_is_a_rejection_with_the_error_as_reason() {
    let mut c = config(Protocol::Pbft);
    let mut checkers = CheckerRegistry::new();
    checkers.register("addition", Arc::new(Broken));
    c.checkers = checkers;
    let net = LocalNetwork::start(c).expect("network starts");
    let client = net.client(ClientConfig::default()).expect("client");
    let (f, _) = submit(&client, chainspace_contracts::addition::init(), &[]).await;
    match &f.outcome {
        Outcome::PreparedAbort(r) => assert!(r.contains("down"), "{r}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    // A contract nobody registered is rejected too, never accepted.
    let (f, _) = submit(&client, chainspace_contracts::dummy::create("x", 1), &[]).await;
    assert!(f.outcome.reason().is_some_and(|r| r.contains("no checker")), "{f:?}");
    client.shutdown().await;
    let stats = net.shutdown().await;
    assert!(stats.values().map(|s| s.checker_errors).sum::<u64>() >= 3, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_are_counted_and_the_replica_keeps_working() {
    let mut c = config(Protocol::HotStuff);
    let network = MemoryNetwork::new(4096);
    c.transport = TransportChoice::Memory(network.clone());
    let net = LocalNetwork::start(c).expect("network starts");
    let target = ReplicaId { shard: ShardId(1), index: 2 };
    let raw = network.client();
    for garbage in [vec![0xff; 64], vec![3], Vec::new(), vec![0, 0xff, 0xff, 0xff, 0xff, 0x0f]] {
        raw.send(Addr::Replica(target), garbage).await.expect("queued");
    }
    let node = net.node(target).expect("running");
    scenario::eventually("malformed messages counted", || node.stats().decode_errors == 4).await;
    let client = net.client(ClientConfig::default()).expect("client");
    scenario::addition_walkthrough(&net, &client).await;
    assert!(net.node(target).expect("running").is_running());
    client.shutdown().await;
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_handle_stops_the_replica_and_closes_its_endpoint() {
    let network = MemoryNetwork::new(16);
    let (committee, keys) = Committee::for_test(1, 4);
    let id = ReplicaId { shard: ShardId(0), index: 0 };
    let replica = build_replica(
        id,
        keys[0][0].clone(),
        &committee,
        &Protocol::Pbft.default_config(),
        ReplicaConfig::default(),
        Arc::new(MemoryStore::new()),
    )
    .expect("replica");
    let handle = runtime::spawn(replica, Arc::new(network.endpoint(id)), CheckerRegistry::new());
    // Its timers run: PBFT ticks.
    scenario::eventually("timers fire", || handle.stats().timers_fired > 0).await;
    drop(handle);
    // Messages to a closed endpoint are lost, as to a crashed replica.
    let raw = network.client();
    scenario::eventually("endpoint closed", || {
        send_now(&raw, id);
        network.dropped(Addr::Replica(id)) > 0
    })
    .await;
}

/// Send one byte to `to` without waiting (the memory transport's send never waits).
fn send_now(raw: &chainspace_core::transport::MemoryTransport, to: ReplicaId) {
    let fut = raw.send(Addr::Replica(to), vec![1]);
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let _ = fut.as_mut().poll(&mut cx);
}

/// Requests handed over together are taken together: commands for one replica share one
/// message, and every outcome comes back to its own future.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_handed_over_together_share_messages() {
    let mut c = config(Protocol::Pbft);
    c.replica.ordering = true;
    let net = LocalNetwork::start(c).expect("network starts");
    let client = net.client(ClientConfig::default()).expect("client");
    let requests: Vec<OrderRequest> = (0..50u32)
        .map(|i| OrderRequest { shard: ShardId(i % 2), payload: i.to_be_bytes().to_vec() })
        .collect();
    let ids: Vec<_> = requests.iter().map(OrderRequest::id).collect();
    let pending = client.order_many(requests).expect("client running");
    assert_eq!(pending.len(), ids.len());
    for (id, p) in ids.iter().zip(pending) {
        let f = tokio::time::timeout(scenario::WAIT, p).await.expect("in time").expect("running");
        assert_eq!((f.tx, &f.outcome), (*id, &Outcome::Commit));
    }
    // Two shards of four replicas: one message each, however many commands.
    assert_eq!(client.stats().messages_out, 8, "{:?}", client.stats());

    // Transactions too: two creations handed over at once both commit.
    let txs = ["a", "b"].map(|name| TransactionRequest {
        transaction: chainspace_contracts::dummy::create(name, 1),
        store: Default::default(),
    });
    let pending = client.submit_many(txs).expect("client running");
    for p in pending {
        let f = tokio::time::timeout(scenario::WAIT, p).await.expect("in time").expect("running");
        assert_eq!(f.outcome, Outcome::Commit, "{f:?}");
    }
    client.shutdown().await;
    net.shutdown().await;
}

/// Outcomes handed to a sink: every request's outcome arrives there once, with the instant
/// it arrived; a sink nobody listens to any more has its requests forgotten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_handed_to_a_sink_arrive_there_once_each() {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    use chainspace_core::client::Finished;
    use chainspace_core::order::IdentifiedOrder;
    use chainspace_core::transaction::TxId;
    use chainspace_node::OutcomeSink;

    #[derive(Default)]
    struct Collect {
        seen: Mutex<BTreeMap<TxId, (Outcome, Instant, usize)>>,
        closed: AtomicBool,
    }
    impl OutcomeSink for Collect {
        fn finished(&self, f: Finished, at: Instant) {
            let mut seen = self.seen.lock().unwrap();
            seen.entry(f.tx).or_insert((f.outcome, at, 0)).2 += 1;
        }
        fn is_closed(&self) -> bool {
            self.closed.load(Ordering::Relaxed)
        }
    }

    let mut c = config(Protocol::HotStuff);
    c.replica.ordering = true;
    let net = LocalNetwork::start(c).expect("network starts");
    let client = net.client(ClientConfig::default()).expect("client");
    let collect = Arc::new(Collect::default());
    let sink: Arc<dyn OutcomeSink> = collect.clone();
    let before = Instant::now();
    let requests: Vec<IdentifiedOrder> = (0..40u32)
        .map(|i| OrderRequest { shard: ShardId(i % 2), payload: i.to_le_bytes().to_vec() })
        .map(IdentifiedOrder::new)
        .collect();
    let ids: Vec<TxId> = requests.iter().map(IdentifiedOrder::id).collect();
    client.order_many_to(requests, &sink).expect("client running");
    let txs = ["a", "b"].map(|name| TransactionRequest {
        transaction: chainspace_contracts::dummy::create(name, 1),
        store: Default::default(),
    });
    let tx_ids: Vec<TxId> = txs.iter().map(|t| t.transaction.digest()).collect();
    client.submit_many_to(txs, &sink).expect("client running");
    scenario::eventually("every outcome in the sink", || collect.seen.lock().unwrap().len() == 42)
        .await;
    let seen = collect.seen.lock().unwrap().clone();
    for id in ids.iter().chain(&tx_ids) {
        let (outcome, at, times) = &seen[id];
        assert_eq!((outcome, *times), (&Outcome::Commit, 1), "{id:?}");
        assert!(*at >= before);
    }
    assert_eq!(client.stats().finished, 42);
    client.shutdown().await;
    net.shutdown().await;

    // Replicas that do not serve ordering never answer; once the sink is closed, the
    // command is forgotten at its next re-send instead of being re-sent for ever.
    let net = LocalNetwork::start(config(Protocol::Pbft)).expect("network starts");
    let fast = ClientConfig {
        retry_after: std::time::Duration::from_millis(20),
        ..ClientConfig::default()
    };
    let client = net.client(fast).expect("client");
    let collect = Arc::new(Collect::default());
    let sink: Arc<dyn OutcomeSink> = collect.clone();
    let lost = OrderRequest { shard: ShardId(0), payload: vec![7; 8] };
    client.order_many_to([lost], &sink).expect("client running");
    scenario::eventually("re-sent while the sink listens", || client.stats().messages_out >= 8)
        .await;
    assert_eq!(client.stats().forgotten, 0);
    collect.closed.store(true, Ordering::Relaxed);
    scenario::eventually("forgotten", || client.stats().forgotten == 1).await;
    assert!(collect.seen.lock().unwrap().is_empty());
    client.shutdown().await;
    net.shutdown().await;
}
