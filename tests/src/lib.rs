//! What the S-BAC simulation suites share: building a simulated Chainspace (shards of
//! PBFT replicas, native contracts, clients), workloads, and the invariants checked after
//! a run.

pub mod byzantine;
pub mod invariants;
pub mod replay;
pub mod scenario;
pub mod setup;
pub mod suite;
pub mod workload;
