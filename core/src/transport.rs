//! How replicas exchange bytes: the [`Transport`] trait, and [`MemoryNetwork`], an
//! in-process implementation for tests and single-process runs.
//!
//! Protocol cores are sans-IO (DESIGN.md): they emit messages as actions, and a driver
//! hands the encoded bytes to a transport. The transport is chosen per run (QUIC between
//! machines, the simulator's network model, or memory), so its contract is kept weak
//! enough for every one of them, and protocols are written for the weak contract:
//!
//! * **Authenticated sender.** [`Transport::recv`] returns the replica that sent the bytes
//!   as the transport established it (QUIC: the peer's certificate key is in the
//!   committee), never as the bytes claim. A protocol may therefore trust `from` and must
//!   still verify whatever the bytes claim about third parties (signatures on votes and
//!   certificates).
//! * **No delivery or order guarantee.** Messages may be lost, duplicated or reordered
//!   (BFT protocols assume a partially synchronous network and retransmit on timers).
//!   The bytes of one message arrive whole and unmodified, or not at all.
//! * **Bounded queues.** Every queue has a capacity; when a receiver falls behind, new
//!   messages to it are dropped rather than buffered without limit or allowed to block the
//!   sender, so a slow or Byzantine peer can neither exhaust memory nor stall a replica.

use std::collections::{BTreeMap, VecDeque};
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

use async_trait::async_trait;

use crate::Error;
use crate::types::ReplicaId;

/// Replica-to-replica messaging with the guarantees described in the module docs.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Queue `bytes` for replica `to`. Returns once queued; it never waits for the peer.
    /// `Ok` does not mean the message will arrive. `Err` is for local failures (the
    /// transport is shut down, `to` is not a known replica).
    async fn send(&self, to: ReplicaId, bytes: Vec<u8>) -> Result<(), Error>;

    /// Queue `bytes` for every replica in `to`, with the guarantees of [`Transport::send`]
    /// for each. Implementations may override this to encode or encrypt once.
    async fn broadcast(&self, to: &[ReplicaId], bytes: Vec<u8>) -> Result<(), Error> {
        for peer in to {
            self.send(*peer, bytes.clone()).await?;
        }
        Ok(())
    }

    /// The next message for this replica and its authenticated sender. Waits until one
    /// arrives; `Err` when the transport is shut down and nothing more can arrive.
    async fn recv(&self) -> Result<(ReplicaId, Vec<u8>), Error>;
}

/// An in-process network joining [`MemoryTransport`] endpoints, with bounded queues.
/// Runtime-agnostic: it uses only std locks and wakers, so any executor can drive it.
#[derive(Clone, Debug)]
pub struct MemoryNetwork {
    hub: Arc<Mutex<Hub>>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Hub {
    queues: BTreeMap<ReplicaId, Queue>,
    generations: u64,
}

#[derive(Debug, Default)]
struct Queue {
    messages: VecDeque<(ReplicaId, Vec<u8>)>,
    wakers: Vec<Waker>,
    /// The endpoint was dropped: messages to it are lost, as to a crashed replica.
    closed: bool,
    /// Messages lost because the queue was full or closed, for tests and metrics.
    dropped: u64,
    /// Which endpoint owns the queue, so that an endpoint replaced by a newer one for the
    /// same replica (a restart) can neither read nor close the newer one's queue.
    generation: u64,
}

impl MemoryNetwork {
    /// A network in which each endpoint buffers at most `capacity` undelivered messages.
    pub fn new(capacity: usize) -> Self {
        MemoryNetwork { hub: Arc::default(), capacity: capacity.max(1) }
    }

    /// The endpoint of replica `id`, replacing (and reopening) any earlier one.
    pub fn endpoint(&self, id: ReplicaId) -> MemoryTransport {
        let mut generation = 0;
        if let Ok(mut hub) = self.hub.lock() {
            hub.generations += 1;
            generation = hub.generations;
            let dropped = hub.queues.get(&id).map_or(0, |q| q.dropped);
            hub.queues.insert(id, Queue { dropped, generation, ..Queue::default() });
        }
        MemoryTransport { id, generation, network: self.clone() }
    }

    /// How many messages to `id` were dropped so far (queue full or endpoint gone).
    pub fn dropped(&self, id: ReplicaId) -> u64 {
        self.lock().ok().and_then(|hub| hub.queues.get(&id).map(|q| q.dropped)).unwrap_or(0)
    }

    fn lock(&self) -> Result<MutexGuard<'_, Hub>, Error> {
        self.hub
            .lock()
            .map_err(|_| Error::Transport { reason: "memory network lock poisoned".into() })
    }
}

/// One replica's endpoint on a [`MemoryNetwork`]. The sender it reports is the endpoint
/// that sent, which is what makes the sender authenticated.
#[derive(Debug)]
pub struct MemoryTransport {
    id: ReplicaId,
    generation: u64,
    network: MemoryNetwork,
}

impl MemoryTransport {
    /// The replica this endpoint belongs to.
    pub fn id(&self) -> ReplicaId {
        self.id
    }
}

impl Drop for MemoryTransport {
    fn drop(&mut self) {
        if let Ok(mut hub) = self.network.lock()
            && let Some(queue) = hub.queues.get_mut(&self.id)
            && queue.generation == self.generation
        {
            queue.closed = true;
            queue.messages.clear();
            queue.wakers.drain(..).for_each(Waker::wake);
        }
    }
}

#[async_trait]
impl Transport for MemoryTransport {
    async fn send(&self, to: ReplicaId, bytes: Vec<u8>) -> Result<(), Error> {
        let mut hub = self.network.lock()?;
        let queue = hub
            .queues
            .get_mut(&to)
            .ok_or_else(|| Error::Transport { reason: format!("unknown replica {to}") })?;
        if queue.closed || queue.messages.len() >= self.network.capacity {
            queue.dropped += 1;
            return Ok(());
        }
        queue.messages.push_back((self.id, bytes));
        queue.wakers.drain(..).for_each(Waker::wake);
        Ok(())
    }

    async fn recv(&self) -> Result<(ReplicaId, Vec<u8>), Error> {
        poll_fn(|cx| {
            let mut hub = match self.network.lock() {
                Ok(hub) => hub,
                Err(e) => return Poll::Ready(Err(e)),
            };
            let queue = match hub.queues.get_mut(&self.id) {
                Some(queue) if queue.generation == self.generation => queue,
                _ => {
                    let reason = format!("endpoint of {} replaced by a newer one", self.id);
                    return Poll::Ready(Err(Error::Transport { reason }));
                }
            };
            if let Some(message) = queue.messages.pop_front() {
                return Poll::Ready(Ok(message));
            }
            if !queue.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                queue.wakers.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ShardId;
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Wake};
    use std::thread::{self, Thread};

    struct Unpark(Thread);

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    /// Run a future to completion on this thread, parking while it waits.
    fn block_on<F: Future>(f: F) -> F::Output {
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut f = pin!(f);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
            thread::park();
        }
    }

    fn r(index: u32) -> ReplicaId {
        ReplicaId { shard: ShardId(0), index }
    }

    #[test]
    fn messages_arrive_with_their_authenticated_sender() {
        let net = MemoryNetwork::new(8);
        let (a, b, c) = (net.endpoint(r(0)), net.endpoint(r(1)), net.endpoint(r(2)));
        block_on(a.send(r(1), b"hi".to_vec())).expect("send");
        block_on(a.broadcast(&[r(1), r(2)], b"all".to_vec())).expect("broadcast");
        assert_eq!(block_on(b.recv()).expect("recv"), (r(0), b"hi".to_vec()));
        assert_eq!(block_on(b.recv()).expect("recv"), (r(0), b"all".to_vec()));
        assert_eq!(block_on(c.recv()).expect("recv"), (r(0), b"all".to_vec()));
        assert!(block_on(a.send(r(9), vec![])).is_err(), "unknown replica");
    }

    #[test]
    fn recv_waits_for_a_message_sent_from_another_thread() {
        let net = MemoryNetwork::new(8);
        let a = net.endpoint(r(0));
        let b = net.endpoint(r(1));
        let sender = thread::spawn(move || {
            thread::sleep(std::time::Duration::from_millis(20));
            block_on(a.send(r(1), vec![42])).expect("send");
        });
        assert_eq!(block_on(b.recv()).expect("recv"), (r(0), vec![42]));
        sender.join().expect("sender thread");
    }

    #[test]
    fn full_queues_and_dropped_endpoints_lose_messages() {
        let net = MemoryNetwork::new(2);
        let a = net.endpoint(r(0));
        let b = net.endpoint(r(1));
        for i in 0..5u8 {
            block_on(a.send(r(1), vec![i])).expect("send never blocks");
        }
        assert_eq!(net.dropped(r(1)), 3);
        assert_eq!(block_on(b.recv()).expect("recv").1, vec![0]);
        let restarted = net.endpoint(r(1));
        assert!(block_on(b.recv()).is_err(), "a replaced endpoint cannot read");
        drop(b);
        block_on(a.send(r(1), vec![7])).expect("send");
        assert_eq!(block_on(restarted.recv()).expect("recv").1, vec![7]);
        drop(restarted);
        block_on(a.send(r(1), vec![9])).expect("a crashed peer is not an error");
        assert_eq!(net.dropped(r(1)), 4);
    }

    #[test]
    fn transports_are_usable_as_trait_objects() {
        let net = MemoryNetwork::new(1);
        let a: Box<dyn Transport> = Box::new(net.endpoint(r(0)));
        block_on(a.send(r(0), vec![1])).expect("send to self");
        assert_eq!(block_on(a.recv()).expect("recv"), (r(0), vec![1]));
    }
}
