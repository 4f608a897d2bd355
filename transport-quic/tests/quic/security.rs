//! Identity: who may speak as a replica, and who is reported as what.

use std::sync::Arc;
use std::time::Duration;

use chainspace_core::crypto::Keypair;
use chainspace_core::replica::Addr;
use chainspace_core::transport::Transport;
use chainspace_core::types::{ReplicaId, ShardId};
use transport_quic::tls::{self, ALPN_REPLICA};
use transport_quic::{Identity, PeerVerifier, QuicClient, QuicError, QuicTransport, SERVER_NAME};

use crate::common::{Cluster, config, localhost, recv_until};

fn r(index: u32) -> ReplicaId {
    ReplicaId { shard: ShardId(0), index }
}

/// Nothing at all arrives at `e` within `quiet`.
async fn silent<T: Transport>(e: &T, quiet: Duration) {
    if let Ok(m) = tokio::time::timeout(quiet, e.recv()).await {
        panic!("unexpected message {m:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_is_refused_as_a_replica() {
    let cfg = config();
    let cluster = Cluster::start(2, &cfg);
    let stranger = Keypair::from_label("stranger");
    let err = QuicTransport::bind(&stranger, cluster.committee.clone(), localhost(), cfg.clone());
    assert!(matches!(err, Err(QuicError::NotInCommittee)));

    // The stranger runs a replica endpoint of a committee of its own, in which it holds
    // replica 1's place, and dials replica 0 as a replica.
    let mut fake = cluster.committee.clone();
    fake.shards[0].members[1] = stranger.public();
    let impostor = QuicTransport::bind(&stranger, fake, localhost(), cfg.clone()).expect("bind");
    impostor.set_peer(r(0), cluster.addrs[&r(0)]).expect("peer");
    for _ in 0..5 {
        impostor.send(Addr::Replica(r(0)), b"i am replica 1".to_vec()).await.expect("send");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    silent(&cluster.replicas[0], Duration::from_millis(500)).await;
    assert!(cluster.replicas[0].stats().refused_connections >= 1);

    // A replica that serves no clients refuses the stranger in the handshake itself.
    let strict_cfg = transport_quic::QuicConfig { accept_clients: false, ..cfg.clone() };
    let strict = Cluster::start(2, &strict_cfg);
    impostor.set_peer(r(0), strict.addrs[&r(0)]).expect("peer");
    impostor.send(Addr::Replica(r(0)), b"again".to_vec()).await.expect("send");
    silent(&strict.replicas[0], Duration::from_millis(500)).await;
    // (In TLS 1.3 the client finishes before the server has checked its certificate,
    // so the refusal shows on the server's side only.)
    assert_eq!(strict.replicas[0].stats().accepted_connections, 0);
    assert_eq!(strict.replicas[0].stats().refused_connections, 0, "refused in the handshake");
    impostor.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_is_never_reported_as_a_replica() {
    let cfg = config();
    let cluster = Cluster::start(2, &cfg);
    let user = Keypair::from_label("user");
    let client = cluster.client(&user, &cfg);
    client.send(Addr::Replica(r(0)), b"submit".to_vec()).await.expect("send");
    let (from, _) = recv_until(&cluster.replicas[0], |_| true).await;
    assert_eq!(from, Addr::Client(client.number()));
    assert_eq!(from, Addr::Client(transport_quic::client_number(&user.public())));

    // Even holding replica 1's own key, a connection made as a client is a client: the
    // class comes from how it connected, and no bytes it sends can change it.
    let as_client = cluster.client(&cluster.keys[1], &cfg);
    as_client.send(Addr::Replica(r(0)), b"Consensus from r1".to_vec()).await.expect("send");
    let (from, bytes) = recv_until(&cluster.replicas[0], |_| true).await;
    assert_eq!(bytes, b"Consensus from r1");
    assert!(matches!(from, Addr::Client(_)), "a client connection is a client: {from:?}");
    let to_client = client.send(Addr::Client(as_client.number()), vec![1]).await;
    assert!(to_client.is_err(), "a client cannot address a client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_certificate_cannot_claim_a_replica_key() {
    let cfg = config();
    let cluster = Cluster::start(2, &cfg);
    // A certificate made by a stranger, its key bytes replaced by replica 1's: the
    // handshake must be signed with replica 1's key, which the stranger does not have.
    let stranger = Identity::new(&Keypair::from_label("forger")).expect("identity");
    let mut forged = stranger.certificate.to_vec();
    let own = *stranger.public.as_bytes();
    let at = forged.windows(32).position(|w| w == own).expect("key in certificate");
    forged[at..at + 32].copy_from_slice(cluster.committee.shards[0].members[1].as_bytes());
    assert_eq!(
        transport_quic::certificate_key(&forged),
        Some(cluster.committee.shards[0].members[1])
    );
    let provider = tls::provider();
    let signer = provider.key_provider.load_private_key(stranger.private_key()).expect("key");
    let certified = rustls::sign::CertifiedKey::new(vec![forged.into()], signer);
    let verifier = PeerVerifier::exactly(cluster.committee.shards[0].members[0]);
    let mut crypto = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
    crypto.alpn_protocols = vec![ALPN_REPLICA.to_vec()];
    let transport = tls::transport_config(&cfg).expect("transport config");
    let client_config = tls::quic_client_config(crypto, transport).expect("quic config");
    let endpoint = quinn::Endpoint::client(localhost()).expect("endpoint");
    let connecting =
        endpoint.connect_with(client_config, cluster.addrs[&r(0)], SERVER_NAME).expect("dial");
    // The dial may even seem to succeed (a TLS 1.3 client finishes before the server has
    // checked its certificate); what matters is that the replica never accepts it.
    let attempt = tokio::time::timeout(Duration::from_secs(2), async {
        let conn = connecting.await?;
        let mut s = conn.open_uni().await?;
        s.write_all(&[0, 0, 0, 1, 7]).await?;
        s.finish()?;
        Ok::<_, Box<dyn std::error::Error>>(conn.closed().await)
    });
    let ended = attempt.await.expect("the server ends the forged connection");
    tracing_free_note(&ended);
    silent(&cluster.replicas[0], Duration::from_millis(500)).await;
    assert_eq!(cluster.replicas[0].stats().accepted_connections, 0);
    endpoint.close(0u32.into(), b"done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_is_pinned_by_its_key_not_its_address() {
    let cfg = config();
    let cluster = Cluster::start(2, &cfg);
    let client = QuicClient::bind(&Keypair::from_label("user"), localhost(), cfg.clone())
        .expect("bind client");
    // Replica 0 listens where the client expects replica 1: its key does not match.
    let key1 = cluster.committee.shards[0].members[1];
    client.add_replica(r(1), cluster.addrs[&r(0)], key1);
    client.send(Addr::Replica(r(1)), b"to r1".to_vec()).await.expect("send");
    silent(&cluster.replicas[0], Duration::from_millis(500)).await;
    assert!(client.stats().failed_dials >= 1);
    assert!(client.stats().dials == 0);
    // Pointed at the right place, the same client gets through.
    client.add_replica(r(1), cluster.addrs[&r(1)], key1);
    client.send(Addr::Replica(r(1)), b"to r1".to_vec()).await.expect("send");
    let (from, _) = recv_until(&cluster.replicas[1], |_| true).await;
    assert_eq!(from, Addr::Client(client.number()));
}

/// The forged connection ends one way or another; either is fine, so only show it.
fn tracing_free_note<T: std::fmt::Debug>(ended: &T) {
    println!("forged connection ended: {ended:?}");
}
