//! The deterministic simulator: any number of [`Consensus`](crate::consensus::Consensus)
//! replicas on virtual time, single-threaded, driven by one seed.
//!
//! Every source of nondeterminism (message latency, jitter, loss, duplication, reordering)
//! is drawn from one seeded ChaCha generator, and events at the same virtual instant run
//! in the order they were scheduled, so a seed always replays the same run and the same
//! [`Trace`]. Faults are scheduled up front: partitions that start and heal, crashes,
//! restarts (with or without the replica's memory), and Byzantine interceptors that
//! rewrite what one replica sends. A failing seed is therefore a reproducible bug report.
//!
//! * [`network`]: the network model (latency, jitter, loss, duplication, reordering,
//!   partitions);
//! * [`app`]: the application each simulated replica runs, recording what it delivered;
//! * [`trace`]: the recorded trace;
//! * [`cost`]: the optional CPU cost model of whole-system runs;
//! * [`runner`]: the [`Simulation`] itself;
//! * [`conformance`]: the properties every consensus protocol must hold, checked over a
//!   finished simulation.

pub mod app;
pub mod byzantine;
pub mod conformance;
pub mod cost;
pub mod network;
mod queue;
pub mod runner;
pub mod trace;
pub mod world;

#[cfg(test)]
mod tests;

pub use app::SimApp;
pub use cost::{CostModel, NodeUsage};
pub use network::{NetworkModel, Partition};
pub use runner::{Interceptor, Simulation};
pub use trace::{Trace, TraceEvent, TraceKind};
pub use world::{RestartFrom, SimChecker, World};
