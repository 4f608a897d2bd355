//! State shared by an endpoint's handle and its tasks: the shutdown signal, the two-class
//! receive queue and the counters.

use std::sync::atomic::{AtomicU64, Ordering};

use chainspace_core::replica::Addr;
use chainspace_core::transport::REPLICA_BURST;
use tokio::sync::{Mutex, watch};

use crate::QuicError;
use crate::queue;

/// A one-way shutdown signal every task selects on.
#[derive(Debug)]
pub(crate) struct Shutdown(watch::Sender<bool>);

impl Shutdown {
    pub(crate) fn new() -> Self {
        Shutdown(watch::Sender::new(false))
    }
    pub(crate) fn trigger(&self) {
        self.0.send_replace(true);
    }
    pub(crate) fn is_set(&self) -> bool {
        *self.0.borrow()
    }
    /// Resolves once the signal is given.
    pub(crate) async fn wait(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|set| *set).await;
    }
}

/// Counters of what went wrong (and some of what went right), for tests and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuicStats {
    /// Frames announced larger than the maximum (their stream was stopped).
    pub oversized_frames: u64,
    /// Streams that ended in the middle of a frame.
    pub truncated_frames: u64,
    /// Received messages dropped because the replica queue was full (by count or bytes).
    pub dropped_from_replicas: u64,
    /// Received messages dropped because the client queue was full (by count or bytes).
    pub dropped_from_clients: u64,
    /// Messages to send dropped: the peer's queue was full (by count or bytes), or the
    /// client is gone.
    pub dropped_outgoing: u64,
    /// Connections refused after the handshake (replica ALPN with a non-committee key,
    /// clients when not served or too many).
    pub refused_connections: u64,
    /// Connections accepted.
    pub accepted_connections: u64,
    /// Dials that failed (the peer is down or refused us).
    pub failed_dials: u64,
    /// Dials that succeeded.
    pub dials: u64,
    /// Outgoing connections dropped because their peer connected to us as a new process
    /// (with a new certificate): it had restarted, and they led to the dead one.
    pub restarted_peers: u64,
    /// The largest UDP payload any connection this endpoint sends on has found its path to
    /// carry (MTU discovery, from 1,200 up to `QuicConfig::max_udp_payload`; sampled while
    /// messages are sent, so 0 before any is).
    pub largest_path_mtu: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) oversized_frames: AtomicU64,
    pub(crate) truncated_frames: AtomicU64,
    pub(crate) dropped_from_replicas: AtomicU64,
    pub(crate) dropped_from_clients: AtomicU64,
    pub(crate) dropped_outgoing: AtomicU64,
    pub(crate) refused_connections: AtomicU64,
    pub(crate) accepted_connections: AtomicU64,
    pub(crate) failed_dials: AtomicU64,
    pub(crate) dials: AtomicU64,
    pub(crate) restarted_peers: AtomicU64,
    pub(crate) largest_path_mtu: AtomicU64,
}

/// Add one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn snapshot(&self) -> QuicStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        QuicStats {
            oversized_frames: get(&self.oversized_frames),
            truncated_frames: get(&self.truncated_frames),
            dropped_from_replicas: get(&self.dropped_from_replicas),
            dropped_from_clients: get(&self.dropped_from_clients),
            dropped_outgoing: get(&self.dropped_outgoing),
            refused_connections: get(&self.refused_connections),
            accepted_connections: get(&self.accepted_connections),
            failed_dials: get(&self.failed_dials),
            dials: get(&self.dials),
            restarted_peers: get(&self.restarted_peers),
            largest_path_mtu: get(&self.largest_path_mtu),
        }
    }
}

type Message = (Addr, Vec<u8>);

struct Lanes {
    replicas: queue::Receiver<Message>,
    clients: queue::Receiver<Message>,
    /// Replica messages served in a row while client messages waited.
    streak: u32,
}

impl Lanes {
    /// The next queued message, if any: replicas first, one client message after every
    /// [`REPLICA_BURST`] replica messages while clients wait.
    fn pick(&mut self) -> Option<Message> {
        if self.streak >= REPLICA_BURST
            && let Some(m) = self.clients.try_recv()
        {
            self.streak = 0;
            return Some(m);
        }
        if let Some(m) = self.replicas.try_recv() {
            self.took_replica();
            return Some(m);
        }
        let m = self.clients.try_recv()?;
        self.streak = 0;
        Some(m)
    }

    /// A replica message was served: a client message waited for it, or none did.
    fn took_replica(&mut self) {
        self.streak = if self.clients.is_empty() { 0 } else { self.streak + 1 };
    }
}

/// The receive side: one bounded queue per class of sender. Readers never wait on it (a
/// full queue drops the message), so QUIC flow control never backs up into a peer's
/// connection because this replica is busy, and a client flood fills only its own queue.
pub(crate) struct Inbox {
    replicas: queue::Sender<Message>,
    clients: queue::Sender<Message>,
    lanes: Mutex<Lanes>,
}

impl Inbox {
    /// Two queues of `capacity` messages and `bytes` bytes each.
    pub(crate) fn new(capacity: usize, bytes: usize) -> Self {
        let (replicas, replica_rx) = queue::bounded(capacity, bytes);
        let (clients, client_rx) = queue::bounded(capacity, bytes);
        let lanes = Lanes { replicas: replica_rx, clients: client_rx, streak: 0 };
        Inbox { replicas, clients, lanes: Mutex::new(lanes) }
    }

    /// Queue a message from `from`, or drop and count it if its class's queue is full (by
    /// count or by bytes).
    pub(crate) fn push(&self, from: Addr, bytes: Vec<u8>, counters: &Counters) {
        let (lane, dropped) = match from {
            Addr::Replica(_) => (&self.replicas, &counters.dropped_from_replicas),
            Addr::Client(_) => (&self.clients, &counters.dropped_from_clients),
        };
        let size = bytes.len();
        if !lane.try_send((from, bytes), size) {
            bump(dropped);
        }
    }

    /// The next message if one is queued, as [`Inbox::recv`] would pick it; `None` when
    /// none is, when shut down, or when a `recv` holds the lanes.
    pub(crate) fn try_recv(&self, shutdown: &Shutdown) -> Option<Message> {
        if shutdown.is_set() {
            return None;
        }
        self.lanes.try_lock().ok()?.pick()
    }

    /// The next message: replicas first, one client message after every
    /// [`REPLICA_BURST`] replica messages while clients wait.
    pub(crate) async fn recv(&self, shutdown: &Shutdown) -> Result<Message, QuicError> {
        let mut lanes = tokio::select! {
            lanes = self.lanes.lock() => lanes,
            _ = shutdown.wait() => return Err(QuicError::Closed),
        };
        if shutdown.is_set() {
            return Err(QuicError::Closed);
        }
        if let Some(m) = lanes.pick() {
            return Ok(m);
        }
        // Nothing queued: wait for the first message of either class.
        let lanes = &mut *lanes;
        tokio::select! {
            biased;
            _ = shutdown.wait() => Err(QuicError::Closed),
            Some(m) = lanes.replicas.recv() => {
                lanes.took_replica();
                Ok(m)
            }
            Some(m) = lanes.clients.recv() => {
                lanes.streak = 0;
                Ok(m)
            }
        }
    }
}
