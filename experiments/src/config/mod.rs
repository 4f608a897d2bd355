//! Experiment configs: the TOML file (documented key by key in `configs/README.md`), read
//! into an [`Experiment`] that the runners take. Loading checks everything before anything
//! starts: unknown keys, out-of-range values, faults a transport cannot apply, sweep keys.
//! Every error names the file and the key.

pub mod file;
mod sweep;
mod validate;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chainspace_core::sim::CostModel;
use chainspace_core::types::ReplicaId;
use chainspace_node::config::CheckersConfig;
use consensus_any::{Protocol, ProtocolConfig};

pub use sweep::{Expanded, expand};
pub use validate::from_value;

/// The simulator's default CPU time per message handled, µs: the process CPU per message
/// a replica handled in `configs/2x4-pbft.toml` over QUIC on the reference machine (62 µs
/// for PBFT, 72 for HotStuff; BENCHMARKS.md, "Calibration"). It prices everything a
/// message costs: decoding, signatures, consensus, S-BAC, the store, the network stack.
pub const DEFAULT_PER_MESSAGE_US: f64 = 60.0;
/// The simulator's default CPU time per contract check (native `dummy`, with the task that
/// runs it), µs.
pub const DEFAULT_PER_CHECK_US: f64 = 5.0;

/// Why an experiment config cannot be used: the network config's error type, whose
/// variants (`Read`, `Syntax`, `Invalid`) name the file and, for a value, its dotted key
/// (`workload.inputs`, `faults[2].replica`).
pub use chainspace_node::config::ConfigError;

/// How replicas talk.
#[derive(Clone, Debug, PartialEq)]
pub enum TransportKind {
    /// The deterministic simulator, with a network model and a CPU cost model.
    Sim(SimParams),
    /// Real QUIC on 127.0.0.1.
    Quic {
        /// All replicas in this process, or one process each.
        processes: Processes,
    },
}

/// Where QUIC replicas run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Processes {
    /// Every replica in the experiments process.
    One,
    /// Each replica in a process of its own (the experiments binary, re-executed).
    Many,
}

/// `[sim]` checked.
#[derive(Clone, Debug, PartialEq)]
pub struct SimParams {
    /// One-way link latency.
    pub latency: Duration,
    /// Uniform extra delay per message, `[0, jitter)`.
    pub jitter: Duration,
    /// Probability a message is lost.
    pub loss: f64,
    /// CPU time per event.
    pub cost: CostModel,
    /// Where the costs come from, written into the results.
    pub calibration: String,
}

/// Where replicas keep objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// In memory.
    Memory,
    /// A redb file per replica, under the run's directory (deleted after the run).
    Redb,
}

/// `[cluster]` checked.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// Shards.
    pub shards: u32,
    /// Replicas per shard.
    pub replicas: u32,
    /// The protocol and its parameters.
    pub protocol: ProtocolConfig,
    /// How replicas talk.
    pub transport: TransportKind,
    /// Where objects are kept.
    pub store: StoreKind,
    /// How long a replica waits for a check.
    pub check_timeout: Duration,
    /// How each contract is checked.
    pub checkers: CheckersConfig,
}

impl Cluster {
    /// The protocol's name.
    pub fn protocol(&self) -> Protocol {
        self.protocol.protocol()
    }

    /// `"sim"` or `"quic"`.
    pub fn transport_name(&self) -> &'static str {
        match self.transport {
            TransportKind::Sim(_) => "sim",
            TransportKind::Quic { .. } => "quic",
        }
    }
}

/// Open or closed loop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Load {
    /// Each client sends its next transaction when the previous has its outcome.
    Closed,
    /// Transactions arrive at this many per second (Poisson), whatever the system does.
    Open {
        /// Transactions per second, all clients together.
        rate: f64,
    },
}

/// `[workload]` checked.
#[derive(Clone, Debug)]
pub struct Workload {
    /// S-BAC transactions, or commands ordered by consensus alone.
    pub kind: WorkloadKind,
    /// The contract (`dummy`).
    pub contract: String,
    /// Inputs per transaction.
    pub inputs: usize,
    /// Outputs per transaction (0 or 1).
    pub outputs: usize,
    /// Share of transactions whose inputs span at least two shards.
    pub cross_shard: f64,
    /// Share of transactions that try to spend an object an earlier transaction spent
    /// (a double spend: it must abort).
    pub conflict: f64,
    /// Clients.
    pub clients: usize,
    /// Open or closed loop.
    pub load: Load,
    /// The measured window.
    pub duration: Duration,
    /// Before the measured window: submitted, not counted.
    pub warmup: Duration,
    /// Stop after this many measured transactions were submitted (if sooner than the
    /// duration).
    pub transactions: Option<u64>,
    /// Objects a client creates at a time when it runs short.
    pub pool: usize,
    /// Objects each client creates during setup, before the run (at least `pool`): with
    /// enough, no refill competes with the measured transactions.
    pub prefill: usize,
    /// Open loop: at most this many transactions outstanding; past it, arrivals wait
    /// (their latency still counts from their scheduled time).
    pub max_in_flight: usize,
}

/// What the clients send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkloadKind {
    /// `dummy` transactions through S-BAC (the paper's experiments).
    Sbac,
    /// Opaque commands of this many bytes, ordered by each shard's consensus and
    /// reported, with no S-BAC at all (`chainspace_core::order`): the protocols compared
    /// on ordering alone, as BFT-SMaRt and HotStuff are usually benchmarked.
    Consensus {
        /// Bytes per command.
        command_bytes: usize,
    },
}

/// A Byzantine behaviour (of the S-BAC votes a replica sends).
pub use chainspace_core::sim::byzantine::Byzantine;

/// What a fault does.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// The replica stops.
    Crash(ReplicaId),
    /// The replica starts again, from its store (`from = "store"`) or from nothing.
    Restart(ReplicaId, bool),
    /// These replicas are cut off from everyone else until `until`.
    Partition(Vec<ReplicaId>, Duration),
    /// Messages to and from the replica take `extra` longer until `until`.
    Delay(ReplicaId, Duration, Duration),
    /// The replica misbehaves from now on.
    Byzantine(ReplicaId, Byzantine),
}

/// One scheduled fault.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// When, from the start of the run (warm-up included).
    pub at: Duration,
    /// What.
    pub kind: FaultKind,
}

/// One experiment, checked, ready to run.
#[derive(Clone, Debug)]
pub struct Experiment {
    /// The name: results go to `output/<name>-<time>/`.
    pub name: String,
    /// The seed.
    pub seed: u64,
    /// Where result directories go.
    pub output: PathBuf,
    /// The cluster.
    pub cluster: Cluster,
    /// The workload.
    pub workload: Workload,
    /// The fault schedule, by time.
    pub faults: Vec<Fault>,
    /// The file it came from.
    pub path: PathBuf,
    /// The file's text, for the manifest.
    pub text: String,
    /// The effective config (a sweep point's values set), which replica processes of a
    /// `processes = "many"` run read back.
    pub value: toml::Table,
}

impl Experiment {
    /// The replicas' configuration: the check timeout, and the ordering service on
    /// for the consensus-only workload (and only then).
    pub fn replica_config(&self) -> chainspace_core::replica::ReplicaConfig {
        chainspace_core::replica::ReplicaConfig {
            check_timeout: self.cluster.check_timeout,
            ordering: matches!(self.workload.kind, WorkloadKind::Consensus { .. }),
        }
    }
}

/// Read and check `path`: one experiment, or a sweep of several.
pub fn load(path: &Path) -> Result<Expanded, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    expand(path, &text)
}

/// `s{shard}r{index}`, as replicas are named in configs and results.
pub fn replica_name(id: ReplicaId) -> String {
    format!("s{}r{}", id.shard.0, id.index)
}
