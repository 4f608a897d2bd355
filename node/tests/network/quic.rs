//! The scenarios over real QUIC on 127.0.0.1: a 2 x 4 network per protocol.

use std::time::Duration;

use chainspace_core::replica::Addr;
use chainspace_core::sbac::Outcome;
use chainspace_core::types::{ReplicaId, ShardId};
use chainspace_node::{ClientConfig, LocalConfig, LocalNetwork};
use consensus_any::Protocol;

use crate::scenario::{self, eventually, submit};

async fn run(protocol: Protocol) {
    let net = LocalNetwork::start(LocalConfig::new(2, 4, protocol.default_config()))
        .expect("network starts");
    assert_eq!(net.addrs().len(), 8);
    let client = net.client(ClientConfig::default()).expect("client");
    let (times, counter) = scenario::addition_walkthrough(&net, &client).await;
    let cross = scenario::cross_shard_consume(&client, protocol.name()).await;
    let chain = scenario::increment_chain(&client, counter, 20).await;
    eprintln!(
        "{protocol} over QUIC: init {:?}, increment {:?}, double-spend abort {:?}, \
         cross-shard consume {:?}; 20 chained increments p50 {:?} max {:?}",
        times[0], times[1], times[2], cross, chain[10], chain[19]
    );

    // Garbage from a client is counted and dropped; the replica keeps working.
    let target = ReplicaId { shard: ShardId(0), index: 0 };
    let raw = net.client_transport().expect("client endpoint");
    for garbage in [vec![0xff; 64], vec![3], Vec::new(), vec![0, 0xff, 0xff, 0xff, 0xff, 0x0f]] {
        raw.send(Addr::Replica(target), garbage).await.expect("queued");
    }
    let node = net.node(target).expect("running");
    eventually("malformed messages counted", || node.stats().decode_errors >= 4).await;
    assert!(node.is_running());
    let (f, _) =
        submit(&client, chainspace_contracts::dummy::create("after-garbage", 4), &[]).await;
    assert_eq!(f.outcome, Outcome::Commit);
    raw.close();

    client.shutdown().await;
    let stats = tokio::time::timeout(Duration::from_secs(30), net.shutdown()).await.expect("stops");
    assert!(stats.values().all(|s| s.replica.store_errors == 0), "{stats:?}");
    assert!(stats.values().all(|s| s.messages_in > 0 && s.messages_out > 0), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_pbft_2x4() {
    run(Protocol::Pbft).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_hotstuff_2x4() {
    run(Protocol::HotStuff).await;
}

/// A replica crashed and restarted in the process: from its store it keeps what it had
/// and catches up with what it missed; while it is down the others go on; restarted from
/// nothing it catches up from its peers. Clients reach it again at its new address when
/// the old one is still held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_crash_and_restart() {
    let mut net = LocalNetwork::start(LocalConfig::new(1, 4, Protocol::Pbft.default_config()))
        .expect("network starts");
    let client = net.client(ClientConfig::default()).expect("client");
    let victim = ReplicaId { shard: ShardId(0), index: 3 };
    let before = chainspace_contracts::dummy::create("before-crash", 2);
    assert_eq!(submit(&client, before.clone(), &[]).await.0.outcome, Outcome::Commit);
    net.crash(victim).await.expect("crash");
    assert!(net.node(victim).is_none());
    assert!(net.crash(victim).await.is_err(), "not running");
    let during = chainspace_contracts::dummy::create("while-down", 2);
    assert_eq!(submit(&client, during.clone(), &[]).await.0.outcome, Outcome::Commit);
    for from_store in [true, false] {
        net.restart(victim, from_store).await.expect("restart");
        assert!(net.restart(victim, from_store).await.is_err(), "already running");
        let after = chainspace_contracts::dummy::create(&format!("after-{from_store}"), 2);
        assert_eq!(submit(&client, after.clone(), &[]).await.0.outcome, Outcome::Commit);
        let node = net.node(victim).expect("running");
        let ids: Vec<_> = [&before, &during, &after]
            .iter()
            .flat_map(|t| t.created_objects())
            .map(|o| o.id)
            .collect();
        let mut all = false;
        for _ in 0..200 {
            let ids = ids.clone();
            let held = node
                .inspect(move |r| {
                    ids.iter().all(|id| r.engine().store().get(id).ok().flatten().is_some())
                })
                .await
                .expect("inspect");
            if held {
                all = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(all, "restarted (from store: {from_store}) replica holds every object");
        if from_store {
            net.crash(victim).await.expect("crash again");
        }
    }
    client.shutdown().await;
    tokio::time::timeout(Duration::from_secs(30), net.shutdown()).await.expect("stops");
}
