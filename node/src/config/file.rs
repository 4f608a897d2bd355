//! The `network.toml` file as written: plain serde structs, every table closed to unknown
//! keys, so a misspelt key is an error that names it instead of a setting silently
//! ignored. Meaning (protocol names, keys, paths, shape) is checked in
//! [`super::validate`], where errors can name the key they are about.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkFile {
    /// The protocol every shard runs.
    pub consensus: ConsensusSection,
    /// Where replicas keep their objects.
    #[serde(default)]
    pub store: StoreSection,
    /// QUIC tunables (optional).
    #[serde(default)]
    pub transport: TransportSection,
    /// The HTTP client API.
    #[serde(default)]
    pub client_api: ClientApiSection,
    /// Contract id -> how it is checked, plus the Python settings (`python`,
    /// `python_root`, `contracts_dir`). Absent: every native contract, natively. Kept as
    /// raw TOML because entries are strings or tables: [`super::checkers`] reads each one
    /// so that an error can name its key, which serde's untagged enums cannot.
    pub checkers: Option<BTreeMap<String, toml::Value>>,
    /// Shards in order: the first is shard 0.
    #[serde(default)]
    pub shards: Vec<ShardSection>,
}

/// `[consensus]`: a protocol by name and, optionally, overrides of its parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusSection {
    /// `"pbft"` or `"hotstuff"`.
    pub protocol: String,
    /// `[consensus.pbft]`: only with `protocol = "pbft"`.
    pub pbft: Option<PbftParams>,
    /// `[consensus.hotstuff]`: only with `protocol = "hotstuff"`.
    pub hotstuff: Option<HotStuffParams>,
}

/// Overrides of PBFT's defaults; durations in milliseconds (TOML has no duration type).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct PbftParams {
    pub max_batch: Option<usize>,
    pub max_batch_bytes: Option<usize>,
    pub batch_timeout_ms: Option<u64>,
    pub max_in_flight: Option<u64>,
    pub checkpoint_interval: Option<u64>,
    pub window: Option<u64>,
    pub tick_ms: Option<u64>,
    pub request_timeout_ticks: Option<u64>,
    pub view_change_timeout_ms: Option<u64>,
    pub dedup_window: Option<u64>,
    pub catch_up_batches: Option<usize>,
    pub status_interval_ticks: Option<u64>,
    pub request_digests: Option<bool>,
}

/// Overrides of HotStuff's defaults; durations in milliseconds.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct HotStuffParams {
    pub max_batch: Option<usize>,
    pub max_batch_bytes: Option<usize>,
    pub max_batch_delay_ms: Option<u64>,
    pub round_timeout_ms: Option<u64>,
    pub max_backoff_exponent: Option<u32>,
    pub checkpoint_interval: Option<u64>,
    pub dedup_window: Option<u64>,
    pub fetch_blocks: Option<usize>,
    pub fetch_retry_ms: Option<u64>,
    pub status_interval_ticks: Option<u64>,
    pub proposal_digests: Option<bool>,
}

/// `[transport]`: overrides of the QUIC transport's defaults, in milliseconds. The idle
/// timeout is how long a crashed peer goes unnoticed, and so how long a restarted replica
/// waits before its peers reach it again: a LAN deployment or a test may want it short.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct TransportSection {
    pub idle_timeout_ms: Option<u64>,
    pub keep_alive_ms: Option<u64>,
    pub connect_timeout_ms: Option<u64>,
    pub backoff_max_ms: Option<u64>,
    /// The largest UDP payload MTU discovery searches for and a replica accepts
    /// (1,200..=65,527; default 4,096).
    pub max_udp_payload: Option<u16>,
}

/// `[store]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// `"redb"` (durable, the default) or `"memory"` (gone at exit).
    #[serde(default)]
    pub kind: StoreKind,
    /// Each replica keeps its files in `data_dir/s{S}r{R}/`; relative to the config file.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection { kind: StoreKind::default(), data_dir: default_data_dir() }
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

/// Which store replicas use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// One redb file per replica: survives crashes, so a restarted replica resumes.
    #[default]
    Redb,
    /// In memory: a restarted replica starts empty and must catch up from its shard.
    Memory,
}

/// `[client_api]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientApiSection {
    /// Where the HTTP API listens (the original's 127.0.0.1:5000 by default).
    #[serde(default = "default_api_listen")]
    pub listen: SocketAddr,
    /// The client's QUIC identity; absent, the API makes a fresh key at each start.
    pub key_file: Option<PathBuf>,
}

impl Default for ClientApiSection {
    fn default() -> Self {
        ClientApiSection { listen: default_api_listen(), key_file: None }
    }
}

/// The original client API's address.
pub fn default_api_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5000))
}

/// `[[shards]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardSection {
    /// Replicas in index order.
    #[serde(default)]
    pub replicas: Vec<ReplicaSection>,
}

/// `[[shards.replicas]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaSection {
    /// The UDP address the replica listens on and its peers dial.
    pub address: SocketAddr,
    /// Its ed25519 public key, 64 hex digits.
    pub public_key: String,
    /// Its secret key file, relative to the config file. Only the machine that runs the
    /// replica needs it; a config naming it is checked to hold the matching key.
    pub key_file: Option<PathBuf>,
}
