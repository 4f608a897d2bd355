//! The Chainspace node runtime: what runs the sans-IO protocol cores for real.
//!
//! Every protocol of this workspace (PBFT, HotStuff, S-BAC, the client's submitter) is a
//! state machine with no clock, socket or thread of its own (DESIGN.md, "Protocol cores
//! are sans-IO state machines"), so the same code runs in the deterministic simulator and
//! here. This crate is the second driver, on tokio:
//!
//! * [`runtime`] drives one [`Replica`](chainspace_core::replica::Replica) over any
//!   [`Transport`](chainspace_core::transport::Transport), with real timers and checkers
//!   running concurrently;
//! * [`client`] drives the client's
//!   [`Submitter`](chainspace_core::client::Submitter): submit a transaction, await its
//!   outcome;
//! * [`api`] serves the original Chainspace's client API over HTTP on such a client;
//! * [`local`] builds a whole network of shards in one process, over QUIC on localhost or
//!   over an in-memory network, for tests, demos and single-machine experiments.
//!
//! The `chainspace` binary (keygen, node, client API, local network) is built on these.
#![deny(missing_docs)]

pub mod api;
pub mod client;
pub mod config;
mod error;
pub mod local;
pub mod runtime;
mod timers;

pub use client::{Client, ClientConfig, ClientStats, OutcomeSink};
pub use error::NodeError;
pub use local::{LocalConfig, LocalNetwork, StoreChoice, TransportChoice};
pub use runtime::{NodeStats, ReplicaHandle};
