//! The transport conformance suite: checks every [`Transport`] implementation must pass,
//! written once against a [`Harness`] that builds networks of the implementation under
//! test. [`MemoryNetwork`](super::MemoryNetwork) runs it in core's tests; the QUIC
//! transport runs it in its own.
//!
//! The suite is runtime-agnostic like the rest of core: its checks are `async` and the
//! harness supplies the clock ([`Harness::sleep`]), so every wait is bounded by a timeout
//! whatever executor drives it, and a transport that loses a message fails the check
//! instead of hanging it.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use async_trait::async_trait;

use super::{Addr, Transport};
use crate::types::{ReplicaId, ShardId};

/// How long any single wait in the suite may take before the check fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// Endpoints of one network built by a [`Harness`].
pub struct Net<E> {
    /// Replicas `0..n` of shard 0, in index order.
    pub replicas: Vec<E>,
    /// Clients that can reach every replica.
    pub clients: Vec<E>,
}

/// Builds networks of the transport under test.
#[async_trait(?Send)]
pub trait Harness {
    /// The endpoint type under test.
    type Endpoint: Transport + 'static;

    /// A fresh network of `replicas` replicas (shard 0, indices `0..replicas`) and
    /// `clients` clients, every one able to reach every replica.
    async fn network(&self, replicas: u32, clients: u32) -> Net<Self::Endpoint>;

    /// Wait for `duration` (the suite's only clock).
    async fn sleep(&self, duration: Duration);

    /// How many messages each per-class receive queue holds.
    fn capacity(&self) -> usize;

    /// The largest message the transport carries.
    fn max_message(&self) -> usize;
}

/// Replica `index` of shard 0.
pub fn replica(index: u32) -> ReplicaId {
    ReplicaId { shard: ShardId(0), index }
}

/// Run every check, each on fresh networks from `harness`.
pub async fn run_all<H: Harness>(harness: &H) {
    messages_arrive_with_their_authenticated_sender(harness).await;
    broadcast_reaches_every_replica(harness).await;
    clients_are_reported_as_clients_and_get_replies(harness).await;
    large_but_allowed_messages_arrive_whole(harness).await;
    queues_are_bounded_and_sends_never_block(harness).await;
    a_client_flood_does_not_starve_replicas(harness).await;
    try_recv_takes_what_is_queued_replicas_first(harness).await;
    a_dead_peer_never_blocks_the_sender(harness).await;
    shutdown_ends_recv_and_send(harness).await;
}

/// `fut`, or `None` if `harness`'s clock runs out first.
pub async fn within<H: Harness + ?Sized, T>(
    harness: &H,
    limit: Duration,
    fut: impl Future<Output = T>,
) -> Option<T> {
    let mut fut = pin!(fut);
    let mut timer = pin!(harness.sleep(limit));
    poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

async fn recv<H: Harness>(h: &H, e: &H::Endpoint) -> (Addr, Vec<u8>) {
    within(h, WAIT, e.recv()).await.expect("recv timed out").expect("recv failed")
}

async fn send<H: Harness>(h: &H, e: &H::Endpoint, to: Addr, bytes: Vec<u8>) {
    within(h, WAIT, e.send(to, bytes)).await.expect("send blocked").expect("send failed");
}

/// Receive until nothing arrives for `quiet`, returning everything received.
async fn drain<H: Harness>(h: &H, e: &H::Endpoint, quiet: Duration) -> Vec<(Addr, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(Ok(m)) = within(h, quiet, e.recv()).await {
        out.push(m);
    }
    out
}

/// A replica's message arrives with that replica as its sender, including a message a
/// replica sends to itself.
pub async fn messages_arrive_with_their_authenticated_sender<H: Harness>(h: &H) {
    let net = h.network(3, 0).await;
    let r = &net.replicas;
    send(h, &r[0], Addr::Replica(replica(1)), b"hi".to_vec()).await;
    assert_eq!(recv(h, &r[1]).await, (Addr::Replica(replica(0)), b"hi".to_vec()));
    send(h, &r[2], Addr::Replica(replica(1)), b"from two".to_vec()).await;
    assert_eq!(recv(h, &r[1]).await, (Addr::Replica(replica(2)), b"from two".to_vec()));
    send(h, &r[1], Addr::Replica(replica(1)), b"self".to_vec()).await;
    assert_eq!(recv(h, &r[1]).await, (Addr::Replica(replica(1)), b"self".to_vec()));
    send(h, &r[0], Addr::Replica(replica(1)), Vec::new()).await;
    assert_eq!(recv(h, &r[1]).await, (Addr::Replica(replica(0)), Vec::new()), "empty message");
    let unknown = ReplicaId { shard: ShardId(0), index: 99 };
    let res = within(h, WAIT, r[0].send(Addr::Replica(unknown), vec![1])).await;
    assert!(res.expect("send blocked").is_err(), "an unknown replica is a local error");
}

/// A broadcast reaches every listed replica once, the sender included.
pub async fn broadcast_reaches_every_replica<H: Harness>(h: &H) {
    let net = h.network(4, 0).await;
    let all: Vec<ReplicaId> = (0..4).map(replica).collect();
    let sent = within(h, WAIT, net.replicas[2].broadcast(&all, b"all".to_vec())).await;
    sent.expect("broadcast blocked").expect("broadcast failed");
    for e in &net.replicas {
        assert_eq!(recv(h, e).await, (Addr::Replica(replica(2)), b"all".to_vec()));
        let extra = within(h, Duration::from_millis(100), e.recv()).await;
        assert!(extra.is_none(), "a broadcast arrives once, got {extra:?}");
    }
}

/// A client is reported as a client (one number per client, two clients told apart),
/// replies reach it from the replica that sent them, and it cannot address other clients.
pub async fn clients_are_reported_as_clients_and_get_replies<H: Harness>(h: &H) {
    let net = h.network(2, 2).await;
    let (r, c) = (&net.replicas, &net.clients);
    send(h, &c[0], Addr::Replica(replica(1)), b"submit".to_vec()).await;
    let (from, bytes) = recv(h, &r[1]).await;
    assert!(matches!(from, Addr::Client(_)), "a client is never a replica: {from:?}");
    assert_eq!(bytes, b"submit");
    send(h, &c[0], Addr::Replica(replica(1)), b"again".to_vec()).await;
    assert_eq!(recv(h, &r[1]).await, (from, b"again".to_vec()), "one client, one number");
    send(h, &c[1], Addr::Replica(replica(1)), b"other".to_vec()).await;
    let (other, _) = recv(h, &r[1]).await;
    assert!(matches!(other, Addr::Client(_)) && other != from, "clients are told apart");
    send(h, &r[1], from, b"outcome".to_vec()).await;
    assert_eq!(recv(h, &c[0]).await, (Addr::Replica(replica(1)), b"outcome".to_vec()));
    let to_client = within(h, WAIT, c[0].send(other, vec![1])).await;
    assert!(to_client.expect("send blocked").is_err(), "a client cannot address a client");
    let gone = within(h, WAIT, r[0].send(Addr::Client(u64::MAX - 7), vec![1])).await;
    assert!(gone.expect("send blocked").is_ok(), "an absent client loses the message");
}

/// A message of exactly the maximum size arrives whole; one byte more is refused locally
/// and does not disturb later messages.
pub async fn large_but_allowed_messages_arrive_whole<H: Harness>(h: &H) {
    let net = h.network(2, 0).await;
    let r = &net.replicas;
    let big: Vec<u8> = (0..h.max_message()).map(|i| (i % 251) as u8).collect();
    send(h, &r[0], Addr::Replica(replica(1)), big.clone()).await;
    let (from, got) = recv(h, &r[1]).await;
    assert_eq!(from, Addr::Replica(replica(0)));
    assert!(got == big, "a large message arrives whole");
    let too_big = vec![0u8; h.max_message() + 1];
    let res = within(h, WAIT, r[0].send(Addr::Replica(replica(1)), too_big)).await;
    assert!(res.expect("send blocked").is_err(), "an oversized message is a local error");
    send(h, &r[0], Addr::Replica(replica(1)), b"after".to_vec()).await;
    assert_eq!(recv(h, &r[1]).await, (Addr::Replica(replica(0)), b"after".to_vec()));
}

/// A receiver that does not read holds a bounded number of messages; sends to it return
/// at once and the rest are dropped.
pub async fn queues_are_bounded_and_sends_never_block<H: Harness>(h: &H) {
    let net = h.network(2, 0).await;
    let r = &net.replicas;
    let total = 4 * h.capacity() + 10;
    for i in 0..total {
        send(h, &r[0], Addr::Replica(replica(1)), (i as u32).to_be_bytes().to_vec()).await;
    }
    h.sleep(Duration::from_millis(300)).await;
    let got = drain(h, &r[1], Duration::from_millis(300)).await;
    assert!(!got.is_empty(), "some messages arrive");
    assert!(got.len() <= 2 * h.capacity(), "{} messages queued, capacity {}", got.len(), {
        h.capacity()
    });
    send(h, &r[0], Addr::Replica(replica(1)), b"later".to_vec()).await;
    assert_eq!(recv(h, &r[1]).await.1, b"later", "the queue recovers once read");
}

/// With a client's flood queued, a replica's message is still served first.
pub async fn a_client_flood_does_not_starve_replicas<H: Harness>(h: &H) {
    let net = h.network(2, 1).await;
    let (r, c) = (&net.replicas, &net.clients);
    for i in 0..4 * h.capacity() {
        send(h, &c[0], Addr::Replica(replica(1)), (i as u32).to_be_bytes().to_vec()).await;
    }
    h.sleep(Duration::from_millis(200)).await;
    send(h, &r[0], Addr::Replica(replica(1)), b"consensus".to_vec()).await;
    h.sleep(Duration::from_millis(200)).await;
    let first = recv(h, &r[1]).await;
    assert_eq!(first, (Addr::Replica(replica(0)), b"consensus".to_vec()), "replicas first");
    let rest = drain(h, &r[1], Duration::from_millis(300)).await;
    assert!(rest.iter().all(|(from, _)| matches!(from, Addr::Client(_))));
    assert!(rest.len() <= 2 * h.capacity(), "the client queue is bounded too");
}

/// `try_recv` returns at once: nothing when nothing is queued, else what `recv` would
/// (replicas first, each sender's messages in order).
pub async fn try_recv_takes_what_is_queued_replicas_first<H: Harness>(h: &H) {
    let net = h.network(2, 1).await;
    let (r, c) = (&net.replicas, &net.clients);
    assert_eq!(r[1].try_recv(), None, "nothing queued");
    send(h, &c[0], Addr::Replica(replica(1)), b"client".to_vec()).await;
    h.sleep(Duration::from_millis(200)).await;
    for i in 0..3u8 {
        send(h, &r[0], Addr::Replica(replica(1)), vec![i]).await;
    }
    h.sleep(Duration::from_millis(200)).await;
    let mut got = Vec::new();
    while let Some(m) = r[1].try_recv() {
        got.push(m);
        assert!(got.len() <= 4, "more than was sent: {got:?}");
    }
    let from_r0: Vec<_> = (0..3u8).map(|i| (Addr::Replica(replica(0)), vec![i])).collect();
    assert_eq!(got.len(), 4, "everything queued is taken: {got:?}");
    assert_eq!(got[..3], from_r0[..], "replicas first, in order");
    assert!(matches!(got[3], (Addr::Client(_), ref b) if b == b"client"), "{got:?}");
    assert_eq!(r[1].try_recv(), None, "nothing left");
}

/// Sends to a closed peer return at once without error, and do not disturb other peers.
pub async fn a_dead_peer_never_blocks_the_sender<H: Harness>(h: &H) {
    let net = h.network(3, 0).await;
    let r = &net.replicas;
    r[1].close();
    for i in 0..4 * h.capacity() {
        send(h, &r[0], Addr::Replica(replica(1)), (i as u32).to_be_bytes().to_vec()).await;
    }
    send(h, &r[0], Addr::Replica(replica(2)), b"alive".to_vec()).await;
    assert_eq!(recv(h, &r[2]).await, (Addr::Replica(replica(0)), b"alive".to_vec()));
}

/// Closing an endpoint ends a pending receive with an error; later sends and receives
/// fail; other endpoints carry on.
pub async fn shutdown_ends_recv_and_send<H: Harness>(h: &H) {
    let net = h.network(2, 0).await;
    let r = &net.replicas;
    let mut pending = pin!(r[1].recv());
    let early = within(h, Duration::from_millis(100), pending.as_mut()).await;
    assert!(early.is_none(), "nothing to receive yet");
    r[1].close();
    let ended = within(h, WAIT, pending).await.expect("a pending recv ends on close");
    assert!(ended.is_err(), "recv after close is an error");
    assert!(within(h, WAIT, r[1].recv()).await.expect("recv blocked").is_err());
    let res = within(h, WAIT, r[1].send(Addr::Replica(replica(0)), vec![1])).await;
    assert!(res.expect("send blocked").is_err(), "a closed endpoint cannot send");
    send(h, &r[0], Addr::Replica(replica(1)), vec![2]).await;
    send(h, &r[0], Addr::Replica(replica(0)), vec![3]).await;
    assert_eq!(recv(h, &r[0]).await, (Addr::Replica(replica(0)), vec![3]));
}
