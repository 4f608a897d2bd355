//! A whole Chainspace network in one process: `S` shards of `R` replicas, each driven by
//! [`crate::runtime`] on a transport of its own, for tests, demos and single-machine
//! experiments.
//!
//! Over QUIC every replica gets its own endpoint on `127.0.0.1:0` (so runs never collide on
//! ports) and learns its peers' real addresses once all are bound; clients connect with
//! [`LocalNetwork::client`]. Over a [`MemoryNetwork`] the same replicas run without
//! sockets, which is faster and needs no ports, for tests of everything above the
//! transport.
//!
//! Keys come from [`Committee::for_test`]: labels anyone can derive, so a local network is
//! never a deployment.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use chainspace_core::checker::CheckerRegistry;
use chainspace_core::committee::Committee;
use chainspace_core::crypto::Keypair;
use chainspace_core::replica::{Replica, ReplicaConfig};
use chainspace_core::store::{MemoryStore, Store};
use chainspace_core::transport::{MemoryNetwork, Transport};
use chainspace_core::types::{ReplicaId, ShardId};
use consensus_any::{AnyConsensus, ProtocolConfig};
use store_redb::RedbStore;
use transport_quic::{QuicClient, QuicConfig, QuicTransport};

use crate::NodeError;
use crate::client::{Client, ClientConfig};
use crate::runtime::{self, NodeStats, ReplicaHandle};

/// Where replicas keep their objects.
#[derive(Clone, Debug, Default)]
pub enum StoreChoice {
    /// In memory: fast, gone when the process ends.
    #[default]
    Memory,
    /// A redb file per replica in this directory (created if missing).
    Redb(PathBuf),
}

/// How replicas (and clients) reach each other.
#[derive(Clone, Debug)]
pub enum TransportChoice {
    /// A QUIC endpoint per replica on `127.0.0.1:0`.
    Quic(QuicConfig),
    /// Endpoints of one in-process network.
    Memory(MemoryNetwork),
}

/// What to build.
#[derive(Clone, Debug)]
pub struct LocalConfig {
    /// Number of shards.
    pub shards: u32,
    /// Replicas per shard (3f + 1).
    pub replicas: u32,
    /// The consensus protocol every shard runs, with its parameters.
    pub protocol: ProtocolConfig,
    /// Where objects are kept.
    pub store: StoreChoice,
    /// The network.
    pub transport: TransportChoice,
    /// Replica parameters (the check timeout).
    pub replica: ReplicaConfig,
    /// The contracts replicas can check.
    pub checkers: CheckerRegistry,
    /// Told of every S-BAC step every replica applies (for per-phase times), if set.
    pub observer: Option<runtime::Observer>,
}

impl LocalConfig {
    /// `shards` x `replicas` running `protocol` over QUIC, objects in memory, the native
    /// contracts.
    pub fn new(shards: u32, replicas: u32, protocol: ProtocolConfig) -> Self {
        LocalConfig {
            shards,
            replicas,
            protocol,
            store: StoreChoice::Memory,
            transport: TransportChoice::Quic(QuicConfig::default()),
            replica: ReplicaConfig::default(),
            checkers: chainspace_contracts::registry(),
            observer: None,
        }
    }
}

/// Build replica `id` of `committee`, running `protocol` over `store`, resuming what the
/// store holds (nothing, for a new one).
pub fn build_replica(
    id: ReplicaId,
    key: Keypair,
    committee: &Committee,
    protocol: &ProtocolConfig,
    config: ReplicaConfig,
    store: Arc<dyn Store>,
) -> Result<Replica<AnyConsensus>, NodeError> {
    let shard = committee.shard(id.shard).ok_or_else(|| NodeError::Config {
        reason: format!("replica {id} is not in the committee"),
    })?;
    let consensus = protocol
        .build(shard.clone(), id.index, key.clone())
        .map_err(|source| NodeError::Protocol { replica: id, source })?;
    Ok(Replica::open(id, key, committee.clone(), config, consensus, store)?)
}

/// A running local network.
pub struct LocalNetwork {
    committee: Committee,
    addrs: BTreeMap<ReplicaId, SocketAddr>,
    nodes: BTreeMap<ReplicaId, ReplicaHandle<AnyConsensus>>,
    /// The QUIC endpoints, kept to wait for their sockets to close at shutdown.
    quic: Vec<Arc<QuicTransport>>,
    transport: TransportChoice,
    /// Every replica's store, kept so that a crashed replica can restart from it.
    stores: BTreeMap<ReplicaId, Arc<dyn Store>>,
    keys: Vec<Vec<Keypair>>,
    protocol: ProtocolConfig,
    replica_config: ReplicaConfig,
    checkers: CheckerRegistry,
    observer: Option<runtime::Observer>,
    /// Numbers client keys, so every client of this network has its own.
    clients: AtomicU64,
    /// The QUIC clients handed out, to tell them a restarted replica's new address.
    quic_clients: Mutex<Vec<Weak<QuicClient>>>,
}

impl LocalNetwork {
    /// Bind, wire and start every replica. Must be called inside a tokio runtime.
    pub fn start(config: LocalConfig) -> Result<LocalNetwork, NodeError> {
        if config.shards == 0 || config.replicas == 0 {
            let reason = "at least one shard of at least one replica".to_string();
            return Err(NodeError::Config { reason });
        }
        let (committee, keys) = Committee::for_test(config.shards, config.replicas);
        let ids: Vec<ReplicaId> = (0..config.shards)
            .flat_map(|s| {
                (0..config.replicas).map(move |index| ReplicaId { shard: ShardId(s), index })
            })
            .collect();
        let key = |id: ReplicaId| keys[id.shard.0 as usize][id.index as usize].clone();
        let mut transports: Vec<(ReplicaId, Arc<dyn Transport>)> = Vec::new();
        let mut quic = Vec::new();
        let mut addrs = BTreeMap::new();
        match &config.transport {
            TransportChoice::Quic(qc) => {
                let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
                for id in &ids {
                    let t = Arc::new(QuicTransport::bind(
                        &key(*id),
                        committee.clone(),
                        listen,
                        qc.clone(),
                    )?);
                    addrs.insert(*id, t.local_addr()?);
                    quic.push(t);
                }
                for t in &quic {
                    t.set_peers(
                        addrs.iter().filter(|(id, _)| **id != t.id()).map(|(i, a)| (*i, *a)),
                    )?;
                }
                transports = ids
                    .iter()
                    .copied()
                    .zip(quic.iter().map(|t| t.clone() as Arc<dyn Transport>))
                    .collect();
            }
            TransportChoice::Memory(net) => {
                for id in &ids {
                    transports.push((*id, Arc::new(net.endpoint(*id))));
                }
            }
        }
        let mut nodes = BTreeMap::new();
        let mut stores = BTreeMap::new();
        for (id, transport) in transports {
            let store = open_store(&config.store, id)?;
            stores.insert(id, store.clone());
            let replica = build_replica(
                id,
                key(id),
                &committee,
                &config.protocol,
                config.replica.clone(),
                store,
            )?;
            let observer = config.observer.clone();
            let checkers = config.checkers.clone();
            nodes.insert(id, runtime::spawn_observed(replica, transport, checkers, observer));
        }
        tracing::info!(shards = config.shards, replicas = config.replicas,
            protocol = %config.protocol.protocol(), "local network started");
        Ok(LocalNetwork {
            committee,
            addrs,
            nodes,
            quic,
            transport: config.transport,
            stores,
            keys,
            protocol: config.protocol,
            replica_config: config.replica,
            checkers: config.checkers,
            observer: config.observer,
            clients: AtomicU64::new(0),
            quic_clients: Mutex::new(Vec::new()),
        })
    }

    /// Stop replica `id` as a crash would: its driver stops and its endpoint closes, and
    /// what it held in memory is gone; its store is kept for [`LocalNetwork::restart`].
    pub async fn crash(&mut self, id: ReplicaId) -> Result<(), NodeError> {
        let node = self
            .nodes
            .remove(&id)
            .ok_or_else(|| NodeError::Config { reason: format!("replica {id} is not running") })?;
        node.shutdown().await;
        if let Some(i) = self.quic.iter().position(|t| t.id() == id) {
            let t = self.quic.remove(i);
            t.shutdown(Duration::from_secs(2)).await;
        }
        Ok(())
    }

    /// Start crashed replica `id` again, on its old address: from its store (resuming its
    /// objects, S-BAC records and durable consensus state) or, with `from_store` false,
    /// from an empty memory store (a new machine, which catches up from its peers).
    pub async fn restart(&mut self, id: ReplicaId, from_store: bool) -> Result<(), NodeError> {
        if self.nodes.contains_key(&id) {
            return Err(NodeError::Config { reason: format!("replica {id} is running") });
        }
        let key = self
            .keys
            .get(id.shard.0 as usize)
            .and_then(|s| s.get(id.index as usize))
            .cloned()
            .ok_or_else(|| NodeError::Config { reason: format!("no replica {id}") })?;
        let transport: Arc<dyn Transport> = match &self.transport {
            TransportChoice::Quic(qc) => {
                let addr = self.addrs.get(&id).copied().ok_or_else(|| NodeError::Config {
                    reason: format!("no address for replica {id}"),
                })?;
                // The old address, if the crashed endpoint has released it; else a new one,
                // which the other replicas and the clients are told about (as after a
                // machine restarting elsewhere): the crashed endpoint's socket closes only
                // once every task holding one of its connections has noticed.
                let t = match QuicTransport::bind(&key, self.committee.clone(), addr, qc.clone()) {
                    Ok(t) => Arc::new(t),
                    Err(_) => {
                        let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
                        let t = QuicTransport::bind(&key, self.committee.clone(), any, qc.clone())?;
                        let moved = t.local_addr()?;
                        self.addrs.insert(id, moved);
                        for other in &self.quic {
                            other.set_peer(id, moved)?;
                        }
                        let public = key.public();
                        lock(&self.quic_clients).retain(|c| match c.upgrade() {
                            Some(c) => {
                                c.add_replica(id, moved, public);
                                true
                            }
                            None => false,
                        });
                        Arc::new(t)
                    }
                };
                t.set_peers(self.addrs.iter().filter(|(i, _)| **i != id).map(|(i, a)| (*i, *a)))?;
                self.quic.push(t.clone());
                t
            }
            TransportChoice::Memory(net) => Arc::new(net.endpoint(id)),
        };
        let store: Arc<dyn Store> = match (from_store, self.stores.get(&id)) {
            (true, Some(store)) => store.clone(),
            _ => Arc::new(MemoryStore::new()),
        };
        self.stores.insert(id, store.clone());
        let replica = build_replica(
            id,
            key,
            &self.committee,
            &self.protocol,
            self.replica_config.clone(),
            store,
        )?;
        let observer = self.observer.clone();
        let checkers = self.checkers.clone();
        self.nodes.insert(id, runtime::spawn_observed(replica, transport, checkers, observer));
        Ok(())
    }

    /// The committee (public keys of every replica).
    pub fn committee(&self) -> &Committee {
        &self.committee
    }

    /// Where each replica listens (empty over a memory network).
    pub fn addrs(&self) -> &BTreeMap<ReplicaId, SocketAddr> {
        &self.addrs
    }

    /// The running replica `id`.
    pub fn node(&self, id: ReplicaId) -> Option<&ReplicaHandle<AnyConsensus>> {
        self.nodes.get(&id)
    }

    /// Every running replica, by id.
    pub fn nodes(&self) -> impl Iterator<Item = (&ReplicaId, &ReplicaHandle<AnyConsensus>)> {
        self.nodes.iter()
    }

    /// Every replica's counters.
    pub fn stats(&self) -> BTreeMap<ReplicaId, NodeStats> {
        self.nodes.iter().map(|(id, n)| (*id, n.stats())).collect()
    }

    /// A new client endpoint with a key of its own, knowing every replica: a
    /// [`QuicClient`] on `127.0.0.1:0`, or a client of the memory network.
    pub fn client_transport(&self) -> Result<Arc<dyn Transport>, NodeError> {
        let n = self.clients.fetch_add(1, Ordering::Relaxed);
        Ok(match &self.transport {
            TransportChoice::Quic(qc) => {
                let key = Keypair::from_label(&format!("local-client-{n}"));
                let local = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
                let client = Arc::new(QuicClient::bind(&key, local, qc.clone())?);
                client.add_committee(&self.committee, &self.addrs);
                lock(&self.quic_clients).push(Arc::downgrade(&client));
                client
            }
            TransportChoice::Memory(net) => Arc::new(net.client()),
        })
    }

    /// A new [`Client`] on a new client endpoint.
    pub fn client(&self, config: ClientConfig) -> Result<Client, NodeError> {
        Ok(Client::spawn(self.committee.clone(), self.client_transport()?, config))
    }

    /// Stop every replica and wait (briefly) for the QUIC sockets to close. Returns each
    /// replica's final counters.
    pub async fn shutdown(self) -> BTreeMap<ReplicaId, NodeStats> {
        let mut stats = BTreeMap::new();
        for (id, node) in self.nodes {
            stats.insert(id, node.shutdown().await);
        }
        for t in &self.quic {
            t.shutdown(Duration::from_secs(2)).await;
        }
        stats
    }
}

fn open_store(choice: &StoreChoice, id: ReplicaId) -> Result<Arc<dyn Store>, NodeError> {
    Ok(match choice {
        StoreChoice::Memory => Arc::new(MemoryStore::new()),
        StoreChoice::Redb(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| chainspace_core::Error::Store {
                reason: format!("creating {}: {e}", dir.display()),
            })?;
            let path = dir.join(format!("shard{}-replica{}.redb", id.shard.0, id.index));
            Arc::new(RedbStore::open(path)?)
        }
    })
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
