//! Byzantine replicas for the S-BAC suites: the simulator's interceptors, which the
//! experiments runner uses too.

pub use chainspace_core::sim::byzantine::{Byzantine, interceptor};
