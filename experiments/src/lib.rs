//! The experiments runner (DESIGN.md, "Experiments"): one TOML file describes a cluster
//! (shards, replicas, consensus, transport, store, checkers), a workload and a fault
//! schedule; [`run`] builds it in the simulator or over QUIC, drives the workload, and
//! writes `summary.json`, `latencies.csv`, a manifest and SVG plots under `results/`.
//!
//! The library is what the `experiments` binary and the integration tests share.

pub mod compare;
pub mod config;
pub mod driver;
pub mod processes;
pub mod progress;
pub mod quic;
pub mod report;
pub mod run;
pub mod sim;

pub use run::{Finished, Options, RunError, run_file, run_into};
pub mod manifest;
pub mod phases;
pub mod plot;
pub mod record;
pub mod summary;
pub mod workload;
