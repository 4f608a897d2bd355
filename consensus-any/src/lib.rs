//! One [`Consensus`] type over every protocol of the workspace.
//!
//! The replica, the simulator and the node are generic over one `C: Consensus`. A run
//! that picks its protocol from a config file (or, to compare protocols inside one
//! system, a different protocol per shard) needs a single type that can be either: that
//! is [`AnyConsensus`], an enum that forwards every event to the protocol inside and maps
//! its actions back. Its messages are tagged by protocol, so a PBFT message that reaches
//! a HotStuff replica (a misconfigured peer, or a Byzantine one) is counted as invalid and
//! dropped, never misread.
//!
//! The cost is one enum match per event and one move of each action; the protocols
//! themselves are untouched, so their own unit tests and traces still describe them.
//!
//! [`Consensus`]: chainspace_core::consensus::Consensus

#![deny(missing_docs)]

mod any;
mod protocol;

pub use any::{AnyConsensus, AnyMessage, AnyTimer};
pub use protocol::{Protocol, ProtocolConfig, ProtocolError};
