//! The experiment file as written: serde structs with every default, unknown keys refused
//! (`deny_unknown_fields`), so a typo is an error naming the key, never a silently ignored
//! setting. [`super::validate`] turns this into an [`super::Experiment`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use chainspace_node::config::file::{HotStuffParams, PbftParams};
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentFile {
    /// Names the results directory; default: the file's stem.
    pub name: Option<String>,
    /// Seeds the workload (and, in the simulator, the network).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Where result directories go, relative to the working directory.
    #[serde(default = "default_output")]
    pub output: PathBuf,
    /// `[cluster]`.
    #[serde(default)]
    pub cluster: ClusterSection,
    /// `[sim]`: the simulated network and cost model (`cluster.transport = "sim"`).
    #[serde(default)]
    pub sim: SimSection,
    /// `[workload]`.
    #[serde(default)]
    pub workload: WorkloadSection,
    /// `[[faults]]`, in any order.
    #[serde(default)]
    pub faults: Vec<FaultSection>,
    /// `[sweep]`: run the experiment once per value (and per protocol).
    pub sweep: Option<SweepSection>,
}

fn default_seed() -> u64 {
    1
}

fn default_output() -> PathBuf {
    PathBuf::from("results")
}

/// `[cluster]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSection {
    pub shards: u32,
    pub replicas: u32,
    pub consensus: String,
    pub transport: String,
    pub processes: String,
    pub store: String,
    pub check_timeout_ms: u64,
    pub pbft: Option<PbftParams>,
    pub hotstuff: Option<HotStuffParams>,
    pub checkers: Option<BTreeMap<String, toml::Value>>,
}

impl Default for ClusterSection {
    fn default() -> Self {
        ClusterSection {
            shards: 2,
            replicas: 4,
            consensus: "pbft".into(),
            transport: "quic".into(),
            processes: "one".into(),
            store: "memory".into(),
            check_timeout_ms: 2000,
            pbft: None,
            hotstuff: None,
            checkers: None,
        }
    }
}

/// `[sim]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimSection {
    pub latency_ms: f64,
    pub jitter_ms: f64,
    pub loss: f64,
    pub per_message_us: f64,
    pub per_check_us: f64,
    pub calibration: Option<String>,
}

impl Default for SimSection {
    fn default() -> Self {
        SimSection {
            latency_ms: 0.1,
            jitter_ms: 0.05,
            loss: 0.0,
            per_message_us: super::DEFAULT_PER_MESSAGE_US,
            per_check_us: super::DEFAULT_PER_CHECK_US,
            calibration: None,
        }
    }
}

/// `[workload]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkloadSection {
    pub kind: String,
    pub command_bytes: usize,
    pub contract: String,
    pub inputs: usize,
    pub outputs: usize,
    pub cross_shard: f64,
    pub conflict: f64,
    pub clients: usize,
    pub rate: Option<f64>,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub transactions: Option<u64>,
    pub pool: usize,
    pub prefill: usize,
    pub max_in_flight: usize,
}

impl Default for WorkloadSection {
    fn default() -> Self {
        WorkloadSection {
            kind: "sbac".into(),
            command_bytes: 512,
            contract: "dummy".into(),
            inputs: 1,
            outputs: 0,
            cross_shard: 0.0,
            conflict: 0.0,
            clients: 64,
            rate: None,
            duration_s: 10.0,
            warmup_s: 2.0,
            transactions: None,
            pool: 256,
            prefill: 0,
            max_in_flight: 20_000,
        }
    }
}

/// One `[[faults]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSection {
    pub at_s: f64,
    pub kind: String,
    pub replica: Option<String>,
    pub replicas: Option<Vec<String>>,
    pub until_s: Option<f64>,
    pub delay_ms: Option<f64>,
    pub behaviour: Option<String>,
    pub from: Option<String>,
}

/// `[sweep]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSection {
    pub key: String,
    pub values: Vec<f64>,
    pub consensus: Option<Vec<String>>,
}
