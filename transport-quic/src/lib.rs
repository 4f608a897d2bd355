//! Chainspace's transport over QUIC (quinn, rustls with the ring provider).
//!
//! Replicas are authenticated by their ed25519 consensus keys, not by a certificate
//! authority: each presents a certificate self-signed with its key ([`Identity`]), and
//! [`PeerVerifier`] on both sides accepts only the keys it expects and checks the TLS 1.3
//! handshake signature with them. A message's sender is then the identity of the
//! connection it came on, never anything in the bytes (DESIGN.md, "Replica identity on
//! QUIC"; the Chainspace paper, NDSS 2018, assumes authenticated channels between
//! replicas).
//!
//! Clients connect too, with a key of their own, and are trusted with nothing: they are
//! reported as [`Addr::Client`](chainspace_core::replica::Addr), their messages wait in a
//! queue of their own behind replica traffic, and a connection asking to be a replica is
//! refused unless its key is in the committee.
//!
//! A replica killed without closing its connections (SIGKILL) and restarted on the same
//! address is reached again within moments, not after the idle timeout: its stateless
//! reset key is derived from its committee key, so the new process resets the
//! connections the old one left behind; and its certificate is new at every start, so
//! when it connects to a peer, the peer drops its own connection to the dead process and
//! redials at once, even cutting short a back-off wait or a hanging dial.
//!
//! Wiring a node:
//!
//! ```no_run
//! # async fn run(keypair: chainspace_core::crypto::Keypair,
//! #              committee: chainspace_core::committee::Committee,
//! #              addrs: std::collections::BTreeMap<chainspace_core::types::ReplicaId, std::net::SocketAddr>)
//! #              -> Result<(), Box<dyn std::error::Error>> {
//! use chainspace_core::transport::Transport;
//! use transport_quic::{QuicConfig, QuicTransport};
//! let listen = addrs[&committee.replica_of(&keypair.public()).ok_or("not a replica")?];
//! let transport = QuicTransport::bind(&keypair, committee, listen, QuicConfig::default())?;
//! transport.set_peers(addrs)?;
//! while let Ok((from, bytes)) = transport.recv().await {
//!     // decode `bytes` (postcard), hand it to the replica as coming from `from`, and
//!     // carry out its actions with `transport.send(to, encoded)`.
//! #   let _ = (from, bytes);
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod client;
mod config;
mod error;
mod frame;
mod identity;
mod link;
mod pump;
mod queue;
mod replica;
mod reset;
mod shared;
pub mod tls;
mod verify;

pub use client::QuicClient;
pub use config::{MAX_UDP_PAYLOAD, MIN_UDP_PAYLOAD, QuicConfig};
pub use error::QuicError;
pub use frame::STOP_OVERSIZED;
pub use identity::{Identity, SERVER_NAME, certificate_key, client_number, spki};
pub use replica::{CLOSE_REFUSED, QuicTransport};
pub use shared::QuicStats;
pub use verify::PeerVerifier;

/// Refuse to start outside a tokio runtime (quinn would panic) or with a maximum message
/// the 4-byte frame length cannot express.
fn runtime_check(config: &QuicConfig) -> Result<(), QuicError> {
    if u32::try_from(config.max_message).is_err() {
        let reason = "max_message must fit the 4-byte frame length".to_string();
        return Err(QuicError::Config { reason });
    }
    tokio::runtime::Handle::try_current().map(|_| ()).map_err(|_| QuicError::NoRuntime)
}
