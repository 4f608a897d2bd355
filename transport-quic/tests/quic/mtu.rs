//! MTU discovery: connections start at QUIC's 1,200-byte datagrams and grow them up to
//! `QuicConfig::max_udp_payload` where the path allows (loopback allows 65,535), so large
//! batches take fewer packets; the bound is kept, and a bound QUIC cannot use is refused.

use std::time::{Duration, Instant};

use chainspace_core::replica::Addr;
use chainspace_core::transport::Transport;
use chainspace_core::types::{ReplicaId, ShardId};
use transport_quic::{MIN_UDP_PAYLOAD, QuicConfig, QuicError, QuicTransport};

use crate::common::{Cluster, config, localhost, recv_until};

fn r(index: u32) -> ReplicaId {
    ReplicaId { shard: ShardId(0), index }
}

/// Send 8 KB messages from replica 0 to replica 1, each received before the next, until
/// `done` holds for replica 0's largest path MTU or `within` has passed; returns it.
async fn traffic_until(cluster: &Cluster, within: Duration, done: impl Fn(u64) -> bool) -> u64 {
    let (r0, r1) = (&cluster.replicas[0], &cluster.replicas[1]);
    let start = Instant::now();
    for i in 0..2_000u32 {
        let body = vec![(i % 251) as u8; 8_000];
        r0.send(Addr::Replica(r(1)), body.clone()).await.expect("send");
        let (_, got) = recv_until(r1, |_| true).await;
        assert_eq!(got, body, "message {i} arrives whole");
        let mtu = r0.stats().largest_path_mtu;
        if done(mtu) || start.elapsed() > within {
            return mtu;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    r0.stats().largest_path_mtu
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_paths_grow_past_an_ethernet_payload() {
    let cfg = config();
    assert!(cfg.max_udp_payload > 1_452, "the default bound allows more than Ethernet");
    let cluster = Cluster::start(2, &cfg);
    let mtu = traffic_until(&cluster, Duration::from_secs(8), |m| m > 1_452).await;
    assert!(mtu > 1_452 && mtu <= u64::from(cfg.max_udp_payload), "path MTU {mtu}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bound_is_kept() {
    let cfg = QuicConfig { max_udp_payload: 1_300, ..config() };
    let cluster = Cluster::start(2, &cfg);
    // Long enough for discovery to reach the bound (it does within a second on loopback).
    let mtu = traffic_until(&cluster, Duration::from_millis(1_500), |_| false).await;
    assert!(mtu >= u64::from(MIN_UDP_PAYLOAD) && mtu <= 1_300, "path MTU {mtu}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_below_quic_minimum_is_refused() {
    let (committee, keys) = chainspace_core::committee::Committee::for_test(1, 1);
    let cfg = QuicConfig { max_udp_payload: 1_000, ..config() };
    match QuicTransport::bind(&keys[0][0], committee, localhost(), cfg) {
        Err(QuicError::Config { reason }) => {
            assert!(reason.contains("max_udp_payload"), "{reason}")
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a 1,000-byte bound was accepted"),
    }
}
