//! [`MemoryNetwork`]: an in-process network of [`Transport`] endpoints with bounded,
//! per-class queues. Runtime-agnostic: it uses only std locks and wakers, so any executor
//! (or a plain thread parking on a waker) can drive it.

use std::collections::{BTreeMap, VecDeque};
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

use async_trait::async_trait;

use super::{Addr, REPLICA_BURST, Transport};
use crate::Error;

/// The largest message a [`MemoryNetwork`] carries unless told otherwise.
pub const DEFAULT_MAX_MESSAGE: usize = 16 << 20;

/// An in-process network joining [`MemoryTransport`] endpoints, with bounded queues.
#[derive(Clone, Debug)]
pub struct MemoryNetwork {
    hub: Arc<Mutex<Hub>>,
    capacity: usize,
    max_message: usize,
}

#[derive(Debug, Default)]
struct Hub {
    queues: BTreeMap<Addr, Queue>,
    generations: u64,
    clients: u64,
}

#[derive(Debug, Default)]
struct Queue {
    /// Messages from replicas, served first.
    replicas: VecDeque<(Addr, Vec<u8>)>,
    /// Messages from clients, in a queue of their own so that a flood of them fills only
    /// this one.
    clients: VecDeque<(Addr, Vec<u8>)>,
    /// Replica messages served in a row while client messages waited.
    streak: u32,
    wakers: Vec<Waker>,
    /// The endpoint was closed or dropped: messages to it are lost, as to a crashed peer.
    closed: bool,
    /// Messages lost because a queue was full or the endpoint closed, for tests and metrics.
    dropped: u64,
    /// Which endpoint owns the queue, so that an endpoint replaced by a newer one for the
    /// same replica (a restart) can neither read nor close the newer one's queue.
    generation: u64,
}

impl Queue {
    fn pop(&mut self) -> Option<(Addr, Vec<u8>)> {
        if self.streak >= REPLICA_BURST
            && let Some(m) = self.clients.pop_front()
        {
            self.streak = 0;
            return Some(m);
        }
        if let Some(m) = self.replicas.pop_front() {
            self.streak = if self.clients.is_empty() { 0 } else { self.streak + 1 };
            return Some(m);
        }
        self.streak = 0;
        self.clients.pop_front()
    }

    fn close(&mut self) {
        self.closed = true;
        self.replicas.clear();
        self.clients.clear();
        self.wakers.drain(..).for_each(Waker::wake);
    }
}

impl MemoryNetwork {
    /// A network in which each endpoint buffers at most `capacity` undelivered messages
    /// from replicas and as many from clients, each at most [`DEFAULT_MAX_MESSAGE`] bytes.
    pub fn new(capacity: usize) -> Self {
        MemoryNetwork {
            hub: Arc::default(),
            capacity: capacity.max(1),
            max_message: DEFAULT_MAX_MESSAGE,
        }
    }

    /// The same network with another maximum message size.
    pub fn with_max_message(mut self, max_message: usize) -> Self {
        self.max_message = max_message;
        self
    }

    /// The endpoint of replica `id`, replacing (and reopening) any earlier one.
    pub fn endpoint(&self, id: crate::types::ReplicaId) -> MemoryTransport {
        self.open(Addr::Replica(id))
    }

    /// A new client endpoint, with a client number of its own. It can send to replicas
    /// only, and replicas see it as that [`Addr::Client`].
    pub fn client(&self) -> MemoryTransport {
        let n = self.lock().map(|mut hub| {
            hub.clients += 1;
            hub.clients
        });
        self.open(Addr::Client(n.unwrap_or(0)))
    }

    fn open(&self, addr: Addr) -> MemoryTransport {
        let mut generation = 0;
        if let Ok(mut hub) = self.hub.lock() {
            hub.generations += 1;
            generation = hub.generations;
            let dropped = hub.queues.get(&addr).map_or(0, |q| q.dropped);
            hub.queues.insert(addr, Queue { dropped, generation, ..Queue::default() });
        }
        MemoryTransport { addr, generation, network: self.clone() }
    }

    /// How many messages to `to` were dropped so far (queue full or endpoint gone).
    pub fn dropped(&self, to: Addr) -> u64 {
        self.lock().ok().and_then(|hub| hub.queues.get(&to).map(|q| q.dropped)).unwrap_or(0)
    }

    fn lock(&self) -> Result<MutexGuard<'_, Hub>, Error> {
        self.hub
            .lock()
            .map_err(|_| Error::Transport { reason: "memory network lock poisoned".into() })
    }
}

/// One replica's or client's endpoint on a [`MemoryNetwork`]. The sender it reports is the
/// endpoint that sent, which is what makes the sender authenticated.
#[derive(Debug)]
pub struct MemoryTransport {
    addr: Addr,
    generation: u64,
    network: MemoryNetwork,
}

impl MemoryTransport {
    /// Who this endpoint is.
    pub fn addr(&self) -> Addr {
        self.addr
    }

    fn closed_error(&self) -> Error {
        Error::Transport { reason: format!("endpoint {:?} is closed", self.addr) }
    }
}

impl Drop for MemoryTransport {
    fn drop(&mut self) {
        self.close();
    }
}

#[async_trait]
impl Transport for MemoryTransport {
    async fn send(&self, to: Addr, bytes: Vec<u8>) -> Result<(), Error> {
        if bytes.len() > self.network.max_message {
            let reason = format!("message of {} bytes exceeds the maximum", bytes.len());
            return Err(Error::Transport { reason });
        }
        let mut hub = self.network.lock()?;
        match hub.queues.get(&self.addr) {
            Some(q) if q.generation == self.generation && !q.closed => {}
            _ => return Err(self.closed_error()),
        }
        if let (Addr::Client(_), Addr::Client(_)) = (self.addr, to) {
            let reason = "a client can only send to replicas".to_string();
            return Err(Error::Transport { reason });
        }
        let queue = match (hub.queues.get_mut(&to), to) {
            (Some(queue), _) => queue,
            (None, Addr::Client(_)) => return Ok(()),
            (None, Addr::Replica(r)) => {
                return Err(Error::Transport { reason: format!("unknown replica {r}") });
            }
        };
        let capacity = self.network.capacity;
        let lane = match self.addr {
            Addr::Replica(_) => &mut queue.replicas,
            Addr::Client(_) => &mut queue.clients,
        };
        if queue.closed || lane.len() >= capacity {
            queue.dropped += 1;
            return Ok(());
        }
        lane.push_back((self.addr, bytes));
        queue.wakers.drain(..).for_each(Waker::wake);
        Ok(())
    }

    async fn recv(&self) -> Result<(Addr, Vec<u8>), Error> {
        poll_fn(|cx| {
            let mut hub = match self.network.lock() {
                Ok(hub) => hub,
                Err(e) => return Poll::Ready(Err(e)),
            };
            let queue = match hub.queues.get_mut(&self.addr) {
                Some(queue) if queue.generation == self.generation && !queue.closed => queue,
                _ => return Poll::Ready(Err(self.closed_error())),
            };
            if let Some(message) = queue.pop() {
                return Poll::Ready(Ok(message));
            }
            if !queue.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                queue.wakers.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }

    fn try_recv(&self) -> Option<(Addr, Vec<u8>)> {
        let mut hub = self.network.lock().ok()?;
        let queue = hub.queues.get_mut(&self.addr)?;
        if queue.generation != self.generation || queue.closed {
            return None;
        }
        queue.pop()
    }

    fn close(&self) {
        if let Ok(mut hub) = self.network.lock()
            && let Some(queue) = hub.queues.get_mut(&self.addr)
            && queue.generation == self.generation
        {
            queue.close();
        }
    }
}

#[cfg(test)]
mod tests;
