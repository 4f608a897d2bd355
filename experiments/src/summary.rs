//! What a run measured, as written to `summary.json` and read back by `experiments
//! compare` and the sweep figures. Plain serde types, so the files are the interface: a
//! notebook can read them without this crate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Latency percentiles, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// How many samples.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// The slowest.
    pub max: f64,
}

/// The phases of committed S-BAC transactions, each a distribution in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    /// From sending until every concerned shard applied its prepare (single-shard: the
    /// one fused step).
    pub prepare: Latency,
    /// Spanning shards only: from the prepares until every involved shard applied the
    /// accept.
    pub accept: Latency,
    /// From the last accept applied until the client held `f + 1` reports.
    pub report: Latency,
}

/// One second of the run (of the measured window, warm-up excluded).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Second {
    /// Start of the second, from the start of the measured window.
    pub t_s: f64,
    /// Transactions that committed in this second.
    pub committed: u64,
    /// Transactions that aborted in this second.
    pub aborted: u64,
}

/// What one replica used. Over QUIC in one process, CPU and memory are the process's,
/// shared by every replica and the clients, so they are reported once in
/// [`Summary::process`] and not per replica.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplicaUsage {
    /// `s{shard}r{index}`.
    pub replica: String,
    /// CPU seconds: measured for a replica process, modelled by the cost model in the
    /// simulator, absent when replicas share a process.
    pub cpu_s: Option<f64>,
    /// `cpu_s` over the run's wall (or virtual) time: 1.0 is one core kept busy.
    pub cpu_utilisation: Option<f64>,
    /// Peak resident memory of the replica's process, MiB (absent in the simulator and in
    /// one-process runs).
    pub peak_rss_mib: Option<f64>,
    /// Protocol messages the replica handled.
    pub messages_in: u64,
    /// Protocol messages the replica sent.
    pub messages_out: u64,
}

/// What the experiments process itself used (all replicas and clients in one-process
/// QUIC runs; the simulator's cost in simulated runs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessUsage {
    /// CPU seconds (user + system) spent by the process during the run.
    pub cpu_s: f64,
    /// Peak resident memory of the process, MiB.
    pub peak_rss_mib: f64,
}

/// The simulator's cost model as used in a run, so a number can be traced to the CPU
/// times it assumed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostModelInfo {
    /// CPU time a replica spends per protocol message it handles, microseconds.
    pub per_message_us: f64,
    /// CPU time a replica spends per contract check, microseconds.
    pub per_check_us: f64,
    /// Where these numbers come from.
    pub calibration: String,
}

/// The result of one run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The experiment's name (the config's `name`).
    pub name: String,
    /// `"sim"` or `"quic"`.
    pub transport: String,
    /// `"one"` or `"many"` processes (QUIC only).
    pub processes: Option<String>,
    /// The consensus protocol (`"pbft"`, `"hotstuff"` or `"mixed"`).
    pub consensus: String,
    /// Shards.
    pub shards: u32,
    /// Replicas per shard.
    pub replicas: u32,
    /// What clients sent: `"sbac"` (dummy transactions) or `"consensus"` (commands
    /// ordered by consensus alone, where "committed" means reported ordered by `f + 1`
    /// replicas of the command's shard).
    #[serde(default)]
    pub workload: String,
    /// Bytes per command of a `"consensus"` workload.
    #[serde(default)]
    pub command_bytes: Option<usize>,
    /// Clients.
    pub clients: usize,
    /// `"closed"` or `"open"`.
    pub mode: String,
    /// Offered load of an open-loop run, transactions per second.
    pub offered_rate: Option<f64>,
    /// Inputs per transaction.
    pub inputs: usize,
    /// The seed.
    pub seed: u64,
    /// Length of the measured window (after warm-up), seconds: wall time over QUIC,
    /// virtual time in the simulator.
    pub duration_s: f64,
    /// Transactions submitted in the measured window.
    pub submitted: u64,
    /// Of those, how many committed.
    pub committed: u64,
    /// Of those, how many aborted.
    pub aborted: u64,
    /// Of those, how many had no outcome when the run ended.
    pub unfinished: u64,
    /// Of those, how many were cross-shard (more than one shard involved).
    pub cross_shard: u64,
    /// `committed / duration_s`.
    pub committed_per_s: f64,
    /// `aborted / duration_s`.
    pub aborted_per_s: f64,
    /// Latency of committed transactions. Open loop: from the moment the schedule said the
    /// transaction should be sent, so a stalled sender cannot hide queueing
    /// (coordinated omission).
    pub latency_ms: Latency,
    /// Latency of aborted transactions.
    pub abort_latency_ms: Latency,
    /// Where the latency of committed transactions goes, phase by phase (see
    /// `experiments::phases`); absent where replicas run in processes of their own, and
    /// for the consensus-only workload.
    #[serde(default)]
    pub phases_ms: Option<Phases>,
    /// Aborts by reason.
    pub aborts_by_reason: BTreeMap<String, u64>,
    /// Committed and aborted per second of the measured window.
    pub timeline: Vec<Second>,
    /// Per-replica usage.
    pub replicas_usage: Vec<ReplicaUsage>,
    /// The process's own usage.
    pub process: Option<ProcessUsage>,
    /// The cost model of a simulated run.
    pub cost_model: Option<CostModelInfo>,
    /// Fault events applied, in order (`"t=3.0s crash s0r1"`).
    pub faults: Vec<String>,
    /// Anything the reader should know about how these numbers were obtained.
    pub notes: Vec<String>,
}

/// One point of a sweep, as listed in `sweep.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// The swept key's value at this point.
    pub value: f64,
    /// The protocol of this point (a sweep may run several).
    pub consensus: String,
    /// The run's directory, relative to the sweep's.
    pub dir: String,
    /// The run's summary.
    pub summary: Summary,
}

/// A sweep: one key varied over values, for one or more protocols.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    /// The experiment's name.
    pub name: String,
    /// The dotted config key varied (`"cluster.shards"`).
    pub key: String,
    /// Every point run.
    pub points: Vec<SweepPoint>,
}
