//! PBFT for Chainspace shards, in the style of BFT-SMaRt's Mod-SMaRt.
//!
//! A sans-IO [`Consensus`](chainspace_core::consensus::Consensus) implementation of
//! Castro and Liskov's Practical Byzantine Fault Tolerance (OSDI 1999), with what
//! BFT-SMaRt (Bessani, Sousa, Alchieri, DSN 2014) adds to make it practical: request
//! batching, several consensus instances in flight, a two-stage request timeout (forward
//! to the primary, then change view), and state transfer from `f + 1` replicas.
//!
//! * [`normal`]: pre-prepare, prepare, commit, execution; batching and pipelining;
//! * [`view_change`]: view changes with signed prepared certificates;
//! * [`checkpoint`]: checkpoints, garbage collection, catch-up and state transfer;
//! * [`message`]: the messages and their verification.

pub mod checkpoint;
pub mod config;
mod durable;
pub mod error;
pub mod message;
pub mod normal;
mod queue;
pub mod replica;
pub mod view_change;

pub use config::PbftConfig;
pub use error::{Invalid, PbftError};
pub use message::Message;
pub use replica::{Pbft, Timer};
