//! Faults a replica must survive: peer restarts, hostile frames, client floods.

use std::time::Duration;

use chainspace_core::crypto::Keypair;
use chainspace_core::replica::Addr;
use chainspace_core::transport::Transport;
use chainspace_core::types::{ReplicaId, ShardId};
use transport_quic::tls::{self, ALPN_CLIENT};
use transport_quic::{Identity, QuicTransport, SERVER_NAME};

use crate::common::{Cluster, bounded, config, localhost, recv_until};

fn r(index: u32) -> ReplicaId {
    ReplicaId { shard: ShardId(0), index }
}

/// Wait until `f` holds, polling, or panic after the test timeout.
async fn eventually(what: &str, f: impl Fn() -> bool) {
    bounded(what, async {
        while !f() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_peer_is_reached_again() {
    let cfg = config();
    let mut cluster = Cluster::start(2, &cfg);
    cluster.replicas[0].send(Addr::Replica(r(1)), b"before".to_vec()).await.expect("send");
    recv_until(&cluster.replicas[1], |m| m.1 == b"before").await;

    // Replica 1 restarts on the same address with the same key.
    let addr = cluster.addrs[&r(1)];
    let old = cluster.replicas.remove(1);
    old.shutdown(Duration::from_secs(2)).await;
    drop(old);
    // The socket is released once the old endpoint's background tasks have all ended,
    // shortly after shutdown: retry the bind, as a restarting process would.
    let restarted = bounded("rebind the same address", async {
        loop {
            match QuicTransport::bind(
                &cluster.keys[1],
                cluster.committee.clone(),
                addr,
                cfg.clone(),
            ) {
                Ok(t) => return t,
                Err(e) => tracing_note(&e),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    restarted.set_peers(cluster.addrs.clone()).expect("peers");

    // Messages sent while the link notices the restart may be lost: resend until one
    // arrives, as a protocol's retransmission timer would.
    let r0 = &cluster.replicas[0];
    let got = bounded("a message after the restart", async {
        loop {
            r0.send(Addr::Replica(r(1)), b"after".to_vec()).await.expect("send");
            if let Ok(m) = tokio::time::timeout(Duration::from_millis(200), restarted.recv()).await
            {
                return m.expect("recv");
            }
        }
    })
    .await;
    assert_eq!(got, (Addr::Replica(r(0)), b"after".to_vec()));
    assert!(r0.stats().dials >= 2, "the link redialled");
    restarted.send(Addr::Replica(r(0)), b"back".to_vec()).await.expect("send");
    recv_until(r0, |m| m == &(Addr::Replica(r(1)), b"back".to_vec())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_are_counted_and_the_replica_keeps_serving() {
    let cfg = config();
    let cluster = Cluster::start(2, &cfg);
    let r0 = &cluster.replicas[0];
    let hostile = Keypair::from_label("hostile client");
    let identity = Identity::new(&hostile).expect("identity");
    let transport = tls::transport_config(&cfg).expect("transport config");
    let key0 = cluster.committee.shards[0].members[0];
    let client_config =
        tls::client_config(&identity, key0, ALPN_CLIENT, transport).expect("client config");
    let endpoint = quinn::Endpoint::client(localhost()).expect("endpoint");
    let conn = bounded("dial", async {
        endpoint
            .connect_with(client_config, cluster.addrs[&r(0)], SERVER_NAME)
            .expect("connect")
            .await
            .expect("handshake")
    })
    .await;

    // Announce a frame one byte over the maximum.
    let too_big = (cfg.max_message as u32 + 1).to_be_bytes();
    let mut s = conn.open_uni().await.expect("open");
    s.write_all(&too_big).await.expect("write header");
    let _ = s.write_all(&[0u8; 1024]).await;
    eventually("oversized frame counted", || r0.stats().oversized_frames == 1).await;

    // End a stream inside a frame.
    let mut s = conn.open_uni().await.expect("open");
    s.write_all(&[0, 0, 0, 10, 1, 2, 3]).await.expect("write");
    s.finish().expect("finish");
    eventually("truncated frame counted", || r0.stats().truncated_frames == 1).await;

    // The same connection, on a new stream, still gets through; so does replica 1.
    let mut s = conn.open_uni().await.expect("open");
    s.write_all(&[0, 0, 0, 2, 4, 2]).await.expect("write");
    let from_hostile = Addr::Client(transport_quic::client_number(&hostile.public()));
    recv_until(r0, |m| m == &(from_hostile, vec![4, 2])).await;
    cluster.replicas[1].send(Addr::Replica(r(0)), b"ok".to_vec()).await.expect("send");
    recv_until(r0, |m| m == &(Addr::Replica(r(1)), b"ok".to_vec())).await;
    endpoint.close(0u32.into(), b"done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_flood_does_not_starve_replica_messages() {
    let cfg = config();
    let cluster = Cluster::start(2, &cfg);
    let flooder = cluster.client(&Keypair::from_label("flooder"), &cfg);
    let (r0, r1) = (&cluster.replicas[0], &cluster.replicas[1]);
    let flood = async {
        for i in 0..20_000u32 {
            flooder.send(Addr::Replica(r(0)), i.to_be_bytes().to_vec()).await.expect("send");
            if i % 500 == 0 {
                tokio::task::yield_now().await;
            }
        }
    };
    let consensus = async {
        for i in 0..20u32 {
            r1.send(Addr::Replica(r(0)), i.to_be_bytes().to_vec()).await.expect("send");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let receive = async {
        let mut from_replica = Vec::new();
        let mut from_client = 0usize;
        while from_replica.len() < 20 {
            match r0.recv().await.expect("recv") {
                (Addr::Replica(_), bytes) => from_replica.push(bytes),
                (Addr::Client(_), _) => from_client += 1,
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        (from_replica, from_client)
    };
    let ((), (), (from_replica, from_client)) =
        bounded("replica messages under a client flood", async {
            tokio::join!(flood, consensus, receive)
        })
        .await;
    let expected: Vec<Vec<u8>> = (0..20u32).map(|i| i.to_be_bytes().to_vec()).collect();
    assert_eq!(from_replica, expected, "every replica message, none lost to the flood");
    assert_eq!(r0.stats().dropped_from_replicas, 0);
    assert!(
        r0.stats().dropped_from_clients + flooder.stats().dropped_outgoing > 0,
        "the flood was cut down, not buffered ({from_client} client messages served)"
    );
}

fn tracing_note(e: &transport_quic::QuicError) {
    println!("rebind: {e}");
}
