//! The network config, `network.toml`: who the replicas are, where they listen, which
//! consensus protocol they run, where they keep their data, how contracts are checked and
//! where the client API listens. Every command of the `chainspace` binary reads it, so a
//! network is described once, in one file that `chainspace keygen` writes.
//!
//! ```toml
//! [consensus]
//! protocol = "pbft"               # or "hotstuff"
//! [consensus.pbft]                # optional: overrides of the protocol's defaults
//! view_change_timeout_ms = 1000
//!
//! [store]
//! kind = "redb"                   # default; or "memory"
//! data_dir = "data"               # replica s{S}r{R} keeps data_dir/s{S}r{R}/
//!
//! [transport]                     # optional: QUIC overrides, in ms
//! idle_timeout_ms = 15000         # how long a crashed peer goes unnoticed
//!
//! [client_api]
//! listen = "127.0.0.1:5000"
//! key_file = "keys/client.key"    # optional: the API's QUIC identity
//!
//! [checkers]                      # optional: absent, every native contract
//! addition = "native"             # or "python", or { url = "http://host:port" }
//! python = "venv/bin/python"      # optional settings of "python" checkers: see
//! python_root = "../.."           # the `checkers` module
//!
//! [[shards]]                      # shard 0; replicas in index order
//! [[shards.replicas]]
//! address = "127.0.0.1:7000"
//! public_key = "<64 hex digits>"
//! key_file = "keys/s0r0.key"      # only where this replica runs
//! ```
//!
//! Paths are relative to the config file. Loading checks everything it can before any
//! socket is opened: unknown keys (a typo is never silently ignored), protocol names and
//! parameters, shard shapes (at least 4 = 3f+1 replicas, a warning when `n != 3f+1`),
//! duplicate addresses and keys, and every key file named (readable, well-formed, holding
//! the secret of the public key listed). Errors name the file and the key.

pub mod checkers;
mod error;
pub mod file;
mod generate;
pub mod keys;
mod validate;
mod wiring;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chainspace_core::committee::Committee;
use chainspace_core::crypto::Keypair;
use chainspace_core::types::{ReplicaId, ShardId};
use consensus_any::ProtocolConfig;
use transport_quic::QuicConfig;

pub use checkers::{CheckerKind, CheckersConfig, PythonSettings};
pub use error::ConfigError;
pub use validate::{apply_hotstuff, apply_pbft};

/// Read a `[checkers]` table (`raw`; absent: every native contract) of the file `path`,
/// relative paths resolved against `base`; for other config files that embed one (an
/// experiment's `[cluster.checkers]`). Errors name the key as `checkers.<contract>`.
pub fn read_checkers(
    path: &Path,
    base: &Path,
    raw: Option<BTreeMap<String, toml::Value>>,
    warnings: &mut Vec<String>,
) -> Result<CheckersConfig, ConfigError> {
    checkers::read(&checkers::Source { path, base }, raw, warnings)
}
pub use file::StoreKind;
pub use generate::{CONFIG_FILE, Layout, generate};
pub use validate::MIN_REPLICAS;

/// A validated network config.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    path: PathBuf,
    /// The protocol every shard runs, with its parameters.
    pub protocol: ProtocolConfig,
    /// Every shard's public keys.
    pub committee: Committee,
    /// Every replica's address and (where named) key file.
    pub replicas: BTreeMap<ReplicaId, ReplicaEntry>,
    /// Where replicas keep their objects.
    pub store: StoreConfig,
    /// The client API.
    pub client_api: ClientApiConfig,
    /// Contract id -> checker, and how Python checkers run.
    pub checkers: CheckersConfig,
    /// The QUIC tunables every replica and client of this network uses.
    pub quic: QuicConfig,
    /// Things that work but are likely mistakes (a shard of 5, a memory store); the
    /// commands log them.
    pub warnings: Vec<String>,
}

/// One replica as the config describes it.
#[derive(Clone, Debug)]
pub struct ReplicaEntry {
    /// Where it listens and peers dial it.
    pub address: SocketAddr,
    /// Its secret key file, if this config names it (resolved against the config's dir).
    pub key_file: Option<PathBuf>,
    key: Option<Keypair>,
}

/// `[store]`, paths resolved.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Which store.
    pub kind: StoreKind,
    /// The parent of every replica's data directory.
    pub data_dir: PathBuf,
}

/// `[client_api]`, paths resolved.
#[derive(Clone, Debug)]
pub struct ClientApiConfig {
    /// Where the HTTP API listens.
    pub listen: SocketAddr,
    /// The API's key file, if named.
    pub key_file: Option<PathBuf>,
    key: Option<Keypair>,
}

impl NetworkConfig {
    /// Read and validate the config at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Self::parse(&text, path)
    }

    /// Validate `text` as if read from `path` (which names it in errors and anchors its
    /// relative paths).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let raw: file::NetworkFile = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        validate::validate(raw, path)
    }

    /// The file this config was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of shards.
    pub fn num_shards(&self) -> u32 {
        self.committee.num_shards()
    }

    /// Replica `index` of `shard`, or an error naming what the file has.
    pub fn replica(
        &self,
        shard: u32,
        index: u32,
    ) -> Result<(ReplicaId, &ReplicaEntry), ConfigError> {
        let id = ReplicaId { shard: ShardId(shard), index };
        self.replicas.get(&id).map(|e| (id, e)).ok_or_else(|| ConfigError::NoSuchReplica {
            path: self.path.clone(),
            replica: id.to_string(),
            shards: self.committee.shards.len(),
        })
    }

    /// The secret key of replica `id`, read (and checked) from its key file at load.
    pub fn replica_key(&self, id: ReplicaId) -> Result<Keypair, ConfigError> {
        let (_, entry) = self.replica(id.shard.0, id.index)?;
        entry.key.clone().ok_or_else(|| ConfigError::Invalid {
            path: self.path.clone(),
            key: format!("shards[{}].replicas[{}].key_file", id.shard.0, id.index),
            reason: "missing: running this replica needs its secret key".into(),
        })
    }

    /// The client API's key: from its key file, or a fresh one (a client's identity only
    /// routes answers back to it, so a new one per run is fine).
    pub fn client_key(&self) -> Result<Keypair, ConfigError> {
        match &self.client_api.key {
            Some(k) => Ok(k.clone()),
            None => keys::generate().map_err(|reason| ConfigError::Invalid {
                path: self.path.clone(),
                key: "client_api.key_file".into(),
                reason,
            }),
        }
    }

    /// Every replica's address.
    pub fn addrs(&self) -> BTreeMap<ReplicaId, SocketAddr> {
        self.replicas.iter().map(|(id, e)| (*id, e.address)).collect()
    }

    /// Replica `id`'s data directory.
    pub fn data_dir(&self, id: ReplicaId) -> PathBuf {
        self.store.data_dir.join(format!("s{}r{}", id.shard.0, id.index))
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod checker_tests;
