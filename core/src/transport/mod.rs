//! How replicas and clients exchange bytes: the [`Transport`] trait, [`MemoryNetwork`] (an
//! in-process implementation for tests and single-process runs) and the [`conformance`]
//! suite every implementation must pass.
//!
//! Protocol cores are sans-IO (DESIGN.md): they emit messages as actions addressed to an
//! [`Addr`], and a driver hands the encoded bytes to a transport. The transport is chosen
//! per run (QUIC between machines, the simulator's network model, or memory), so its
//! contract is kept weak enough for every one of them, and protocols are written for the
//! weak contract:
//!
//! * **Authenticated sender.** [`Transport::recv`] returns who sent the bytes as the
//!   transport established it (QUIC: the key of the peer's certificate), never as the bytes
//!   claim. A peer is reported as [`Addr::Replica`] only if it proved it holds that
//!   replica's committee key; everyone else (the client API, load generators, any user) is
//!   an [`Addr::Client`], whatever its key, so a client can never be taken for a replica.
//!   A protocol may therefore trust `from` and must still verify whatever the bytes claim
//!   about third parties (signatures on votes and certificates).
//! * **No delivery or order guarantee.** Messages may be lost, duplicated or reordered
//!   (BFT protocols assume a partially synchronous network and retransmit on timers).
//!   The bytes of one message arrive whole and unmodified, or not at all.
//! * **Bounded queues, replicas first.** Every queue has a capacity; when a receiver falls
//!   behind, new messages to it are dropped rather than buffered without limit or allowed
//!   to block the sender, so a slow or Byzantine peer can neither exhaust memory nor stall
//!   a replica. Replica and client traffic wait in separate queues and replica traffic is
//!   served first (with a small share kept for clients), so a flood of client requests
//!   cannot starve consensus.
//! * **Bounded messages.** Each transport has a maximum message size; sending more is a
//!   local error, and a peer that sends more loses that message (or stream), never the
//!   receiver's memory.

pub mod conformance;
mod memory;

use async_trait::async_trait;

pub use crate::replica::Addr;
pub use memory::{MemoryNetwork, MemoryTransport};

use crate::Error;
use crate::types::ReplicaId;

/// How many replica messages a receiver serves in a row while client messages wait,
/// before it serves one client message. Replicas come first (consensus must progress
/// under client load), but clients are never shut out completely.
pub const REPLICA_BURST: u32 = 8;

/// Messaging between replicas, and between replicas and clients, with the guarantees
/// described in the module docs.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Queue `bytes` for `to`. Returns once queued; it never waits for the peer, so a dead
    /// or slow peer cannot block the protocol. `Ok` does not mean the message will arrive
    /// (a full queue, a crashed peer or a client that went away all lose it). `Err` is for
    /// local failures: the transport is shut down, `to` is a replica this transport does
    /// not know, `bytes` is larger than the maximum message size, or this endpoint cannot
    /// address `to` at all (a client sending to another client).
    async fn send(&self, to: Addr, bytes: Vec<u8>) -> Result<(), Error>;

    /// Queue `bytes` for every replica in `to`, with the guarantees of [`Transport::send`]
    /// for each. Implementations may override this to encode or encrypt once.
    async fn broadcast(&self, to: &[ReplicaId], bytes: Vec<u8>) -> Result<(), Error> {
        for peer in to {
            self.send(Addr::Replica(*peer), bytes.clone()).await?;
        }
        Ok(())
    }

    /// The next message for this endpoint and its authenticated sender. Waits until one
    /// arrives; `Err` once the transport is shut down.
    async fn recv(&self) -> Result<(Addr, Vec<u8>), Error>;

    /// The next message if one is already waiting, in the order [`Transport::recv`] would
    /// return it; `None` at once otherwise (also when shut down: the next `recv` says
    /// so). A driver woken by one message takes the others queued behind it this way, in
    /// one wake-up, instead of one trip through its event loop (and a fresh timer and
    /// receive future) each. The default never has one waiting.
    fn try_recv(&self) -> Option<(Addr, Vec<u8>)> {
        None
    }

    /// Shut the endpoint down: pending and later [`Transport::recv`] calls return `Err`,
    /// later sends return `Err`, and peers sending to it lose their messages (as to a
    /// crashed replica) without an error. Dropping the endpoint does the same.
    fn close(&self);
}

/// A boxed transport is a transport, so drivers can hold the one chosen at run time.
#[async_trait]
impl<T: Transport + ?Sized> Transport for Box<T> {
    async fn send(&self, to: Addr, bytes: Vec<u8>) -> Result<(), Error> {
        (**self).send(to, bytes).await
    }
    async fn broadcast(&self, to: &[ReplicaId], bytes: Vec<u8>) -> Result<(), Error> {
        (**self).broadcast(to, bytes).await
    }
    async fn recv(&self) -> Result<(Addr, Vec<u8>), Error> {
        (**self).recv().await
    }
    fn try_recv(&self) -> Option<(Addr, Vec<u8>)> {
        (**self).try_recv()
    }
    fn close(&self) {
        (**self).close()
    }
}
