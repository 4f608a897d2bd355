//! Chained HotStuff for Chainspace shards.
//!
//! A sans-IO [`Consensus`](chainspace_core::consensus::Consensus) implementation of
//! chained HotStuff (Yin, Malkhi, Reiter, Gueta, Abraham, PODC 2019, section 5), with the
//! pacemaker of LibraBFT / DiemBFT (timeouts carrying the high QC, timeout certificates,
//! exponential back-off, round-robin leaders), checkpoints with garbage collection, and
//! state transfer for replicas that fall behind or restart from nothing.
//!
//! * [`chain`]: proposals, votes, quorum certificates, the safety rules and the
//!   three-chain commit rule; delivery;
//! * [`pacemaker`]: rounds, timeouts, timeout certificates, status and sync;
//! * [`sync`]: block fetching, checkpoints, garbage collection, state transfer;
//! * [`message`]: the messages and their verification.
//! * [`pending`]: the commands held and not yet delivered, in arrival order.
//!
//! Sequence numbers are block heights: every committed block is delivered, possibly
//! empty, at its height. `stats().view_changes` counts rounds entered through timeouts.
//!
//! Crash safety: `last_voted_round` and the lock are the replica's
//! [`durable_state`](chainspace_core::consensus::Consensus::durable_state), which the
//! replica driver writes to its store before any message of the same event leaves, and
//! [`restore`](chainspace_core::consensus::Consensus::restore)s after a restart. A
//! replica restarted from nothing (a wiped disk) has neither: it could vote a second time
//! in a round it voted in before, which matters only if that round's leader also
//! equivocates (a second fault); it jumps to the round of the first certificate it sees,
//! so in practice it votes only in later rounds.

pub mod chain;
pub mod config;
pub mod error;
pub mod message;
pub mod pacemaker;
pub mod pending;
pub mod replica;
pub mod sync;

pub use config::HotStuffConfig;
pub use error::{HotStuffError, Invalid};
pub use message::Message;
pub use replica::{HotStuff, Timer};
