//! The one error type of this crate.

use std::net::SocketAddr;

use chainspace_core::types::ReplicaId;
use thiserror::Error;

/// Everything that can go wrong in the QUIC transport. Trait methods of
/// [`Transport`](chainspace_core::transport::Transport) turn it into
/// [`chainspace_core::Error::Transport`].
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum QuicError {
    /// The ed25519 key could not be turned into a TLS identity.
    #[error("identity: {reason}")]
    Identity {
        /// What failed.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// quinn refused the TLS configuration (no QUIC-capable cipher suite).
    #[error("QUIC configuration: {reason}")]
    Config {
        /// What failed.
        reason: String,
    },
    /// The UDP socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The transport was started outside a tokio runtime.
    #[error("the QUIC transport needs a tokio runtime")]
    NoRuntime,
    /// A replica endpoint was built with a key that is not in the committee.
    #[error("this key is not a replica of the committee")]
    NotInCommittee,
    /// The replica is not in the committee.
    #[error("unknown replica {0}")]
    UnknownReplica(ReplicaId),
    /// The replica is in the committee but no address is known for it.
    #[error("no address for replica {0}")]
    NoAddress(ReplicaId),
    /// A message larger than the maximum frame was handed to `send`.
    #[error("message of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// This endpoint cannot address the destination (a client sending to a client).
    #[error("cannot send to {to}")]
    Unaddressable {
        /// The destination, described.
        to: String,
    },
    /// The transport is shut down.
    #[error("the transport is shut down")]
    Closed,
}

impl From<QuicError> for chainspace_core::Error {
    fn from(e: QuicError) -> Self {
        chainspace_core::Error::Transport { reason: e.to_string() }
    }
}
