//! From a config to running parts: a replica's store, checkers and state machine, and a
//! client's QUIC endpoint. Kept beside the config (not in the binary) so tests and other
//! tools build exactly what `chainspace node` builds.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chainspace_core::checker::CheckerRegistry;
use chainspace_core::crypto::Keypair;
use chainspace_core::replica::{Replica, ReplicaConfig};
use chainspace_core::store::{MemoryStore, Store};
use chainspace_core::types::ReplicaId;
use checker_http::{Checkers, HttpConfig};
use consensus_any::AnyConsensus;
use store_redb::RedbStore;
use transport_quic::QuicClient;

use super::{ConfigError, NetworkConfig, StoreKind};
use crate::NodeError;

/// The name of a replica's redb file inside its data directory.
pub const STORE_FILE: &str = "store.redb";

impl NetworkConfig {
    /// The checkers `[checkers]` names, nothing started yet: managed ones (`"python"`)
    /// start on their first call and log to `log_dir/<contract>.log`. The caller owns
    /// their processes: [`Checkers::shutdown_all`] on exit (dropping the last reference
    /// kills them too).
    pub fn checkers(&self, log_dir: &Path) -> Result<Checkers, ConfigError> {
        checker_http::build(self.checkers.choices(log_dir), &HttpConfig::default()).map_err(|e| {
            ConfigError::Invalid {
                path: self.path.clone(),
                key: "checkers".into(),
                reason: e.to_string(),
            }
        })
    }

    /// Where replica `id`'s managed checkers log: `logs/checkers/s{S}r{R}/` beside the
    /// config file, so the replicas of one machine never share a log.
    pub fn checker_log_dir(&self, id: ReplicaId) -> PathBuf {
        self.base_dir().join("logs").join("checkers").join(format!("s{}r{}", id.shard.0, id.index))
    }

    /// The directory of the config file.
    pub fn base_dir(&self) -> PathBuf {
        self.path.parent().map(Path::to_path_buf).unwrap_or_default()
    }

    /// A registry of every contract `[checkers]` names, for what needs the list rather
    /// than the checks (the client API refusing unknown contracts early). Managed
    /// checkers in it would log to `logs/checkers/unowned/` but are never started by
    /// listing them.
    pub fn checker_registry(&self) -> CheckerRegistry {
        let log_dir = self.base_dir().join("logs").join("checkers").join("unowned");
        match self.checkers(&log_dir) {
            Ok(checkers) => checkers.registry,
            Err(e) => {
                // Only the HTTP client can fail here (validation checked the rest).
                tracing::error!(error = %e, "building the checkers");
                CheckerRegistry::new()
            }
        }
    }

    /// Open replica `id`'s store: its redb file (created with its directory on first
    /// start, reopened after a stop or a crash), or a fresh memory store.
    pub fn open_store(&self, id: ReplicaId) -> Result<Arc<dyn Store>, NodeError> {
        Ok(match self.store.kind {
            StoreKind::Memory => Arc::new(MemoryStore::new()),
            StoreKind::Redb => {
                let dir = self.data_dir(id);
                std::fs::create_dir_all(&dir).map_err(|e| chainspace_core::Error::Store {
                    reason: format!("creating {}: {e}", dir.display()),
                })?;
                Arc::new(RedbStore::open(dir.join(STORE_FILE))?)
            }
        })
    }

    /// Replica `id`, signing with `key`, over `store`, resuming from whatever S-BAC state
    /// the store holds ([`Replica::open`]): a store that cannot be read is an error rather
    /// than a silent fresh start, which could make the replica vote against its own past.
    pub fn build_replica(
        &self,
        id: ReplicaId,
        key: Keypair,
        store: Arc<dyn Store>,
    ) -> Result<Replica<AnyConsensus>, NodeError> {
        let shard = self.committee.shard(id.shard).ok_or_else(|| NodeError::Config {
            reason: format!("replica {id} is not in the committee"),
        })?;
        let consensus = self
            .protocol
            .build(shard.clone(), id.index, key.clone())
            .map_err(|source| NodeError::Protocol { replica: id, source })?;
        let replica = Replica::open(
            id,
            key,
            self.committee.clone(),
            ReplicaConfig::default(),
            consensus,
            store,
        )?;
        Ok(replica)
    }

    /// A QUIC client endpoint with identity `key`, using the config's `[transport]`
    /// tunables, that knows every replica's address and key. It binds an ephemeral port on the wildcard address of the replicas' family.
    /// Must be called inside a tokio runtime.
    pub fn quic_client(&self, key: &Keypair) -> Result<QuicClient, NodeError> {
        let v6 = self.replicas.values().any(|e| e.address.is_ipv6());
        let local = if v6 {
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
        } else {
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
        };
        let client = QuicClient::bind(key, local, self.quic.clone())?;
        client.add_committee(&self.committee, &self.addrs());
        Ok(client)
    }
}
