//! Queues are bounded by bytes as well as by count: large messages past `queue_bytes`
//! are dropped and counted like messages past `queue_capacity`.

use std::time::Duration;

use chainspace_core::replica::Addr;
use chainspace_core::transport::Transport;
use chainspace_core::types::{ReplicaId, ShardId};
use transport_quic::QuicConfig;

use crate::common::{Cluster, config, recv_until};

fn r(index: u32) -> ReplicaId {
    ReplicaId { shard: ShardId(0), index }
}

/// Room for two messages of 4,000 bytes, not three; and for many more by count.
fn byte_bounded() -> QuicConfig {
    QuicConfig { queue_bytes: 10_000, queue_capacity: 32, ..config() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_queue_past_its_bytes_drops_and_counts() {
    let cfg = byte_bounded();
    let mut cluster = Cluster::start(2, &cfg);
    // Replica 1 is gone before replica 0 ever sends to it: its queue only fills.
    let gone = cluster.replicas.remove(1);
    gone.shutdown(Duration::from_secs(2)).await;
    let r0 = &cluster.replicas[0];
    for i in 0..3u8 {
        r0.send(Addr::Replica(r(1)), vec![i; 4000]).await.expect("send");
    }
    assert_eq!(r0.stats().dropped_outgoing, 1, "the third message is past 10,000 bytes");
    // Small messages still fit in the bytes left.
    r0.send(Addr::Replica(r(1)), vec![9; 1000]).await.expect("send");
    assert_eq!(r0.stats().dropped_outgoing, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receive_queue_past_its_bytes_drops_and_counts() {
    let cfg = byte_bounded();
    let cluster = Cluster::start(1, &cfg);
    let r0 = &cluster.replicas[0];
    // Messages to itself go straight into its receive queue, which nobody reads yet.
    for i in 0..3u8 {
        r0.send(Addr::Replica(r(0)), vec![i; 4000]).await.expect("send");
    }
    assert_eq!(r0.stats().dropped_from_replicas, 1);
    let first = recv_until(r0, |_| true).await;
    assert_eq!(first.1, vec![0; 4000]);
    // Reading made room again.
    r0.send(Addr::Replica(r(0)), vec![3; 4000]).await.expect("send");
    assert_eq!(r0.stats().dropped_from_replicas, 1);
    for expected in [1u8, 3] {
        let (_, bytes) = recv_until(r0, |_| true).await;
        assert_eq!(bytes, vec![expected; 4000]);
    }
}
