//! The simulator's CPU cost model: how long a replica is busy per event it handles.
//!
//! Without it (the default, every cost zero) replicas compute for free and only the
//! network takes time, which is what the correctness suites want: short, fast runs. For
//! throughput experiments that is meaningless (a free replica has infinite capacity), so a
//! [`CostModel`] makes each replica a single CPU: a message is handled only when the
//! replica is idle, keeps it busy for `per_message`, and what the replica sends leaves when
//! the work is done; every contract check adds `per_check`. Messages that arrive while it
//! is busy wait, in arrival order. Saturation, queueing latency and the per-shard capacity
//! that makes Chainspace scale with shards then appear in simulated runs of any size on
//! one machine, at the cost of a calibration: the experiments runner derives the two
//! numbers from a measured QUIC run and writes them into its results.

use std::time::Duration;

/// CPU time per event, per replica.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CostModel {
    /// Busy time per protocol message or client submission handled.
    pub per_message: Duration,
    /// Busy time per contract call checked.
    pub per_check: Duration,
}

impl CostModel {
    /// Whether every cost is zero (replicas compute for free).
    pub fn is_free(&self) -> bool {
        self.per_message.is_zero() && self.per_check.is_zero()
    }
}

/// What one simulated replica did, for utilisation and message counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeUsage {
    /// Modelled CPU time spent (sum of the costs charged).
    pub busy: Duration,
    /// Messages handled (protocol messages and client submissions).
    pub messages_in: u64,
    /// Messages sent.
    pub messages_out: u64,
    /// Contract calls checked.
    pub checks: u64,
}
