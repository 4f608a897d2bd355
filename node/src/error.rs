//! The crate's one error type.

use chainspace_core::types::ReplicaId;

/// Everything that can go wrong while wiring or running nodes and clients. Network input
/// never produces one of these: a bad message is counted and dropped where it arrives.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The consensus protocol refused its parameters or identity.
    #[error("replica {replica}: {source}")]
    Protocol {
        /// The replica being built.
        replica: ReplicaId,
        /// Why.
        source: consensus_any::ProtocolError,
    },
    /// The QUIC transport could not start or be configured.
    #[error("quic: {0}")]
    Quic(#[from] transport_quic::QuicError),
    /// A core operation failed (a store could not be opened, a transport send failed).
    #[error("{0}")]
    Core(#[from] chainspace_core::Error),
    /// A local network was asked for an impossible shape.
    #[error("invalid local network: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// A read found no `f + 1` matching answers in time (replicas down, partitioned, or
    /// still disagreeing because some lag their shard).
    #[error("no {need} matching answers from shard {shard} within {after:?}")]
    ReadTimeout {
        /// The shard asked.
        shard: chainspace_core::types::ShardId,
        /// How many matching answers were needed (`f + 1`).
        need: usize,
        /// How long the client waited.
        after: std::time::Duration,
    },
    /// The client API's socket failed (bind, accept or serve).
    #[error("http server: {0}")]
    Http(#[from] std::io::Error),
    /// The driver task (replica or client) has stopped, so the request cannot be served.
    #[error("the {what} has stopped")]
    Stopped {
        /// Which driver.
        what: &'static str,
    },
}
