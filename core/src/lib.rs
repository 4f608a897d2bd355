//! Chainspace core: the data model, the protocol traits and the deterministic simulator.
//!
//! Chainspace (Al-Bassam et al., NDSS 2018) keeps state as *objects* spread over *shards*;
//! each shard is a BFT group of 3f+1 replicas. This crate holds what every other crate
//! shares and depends on no protocol, transport or async runtime:
//!
//! * the model: [`types`], [`object`], [`transaction`], [`shard`], canonical [`json`];
//! * the replica's identity and keys: [`crypto`], [`committee`];
//! * the traits that make the framework pluggable: [`consensus::Consensus`] (sans-IO),
//!   [`transport::Transport`], [`store::Store`], [`checker::Checker`];
//! * the consensus-only workload's ordering service: [`order`];
//! * the deterministic simulator [`sim`], which runs any number of consensus instances on
//!   virtual time from a seed and records a trace.
#![deny(missing_docs)]

pub mod checker;
pub mod client;
pub mod committee;
pub mod consensus;
pub mod crypto;
pub mod dedup;
pub mod error;
pub mod idmap;
pub mod json;
pub mod object;
pub mod order;
pub mod replica;
pub mod sbac;
pub mod shard;
pub mod sim;
pub mod snapshot;
pub mod store;
pub mod transaction;
pub mod transport;
pub mod types;

pub use error::Error;
