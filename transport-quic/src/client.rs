//! [`QuicClient`]: the endpoint of anyone who is not a replica (the client API, load
//! generators, a user's tool). It dials replicas by address and expected key, sends
//! bytes, and receives replies, each reported as coming from the replica whose key the
//! connection pinned. Replicas see it as [`Addr::Client`] with its
//! [`client_number`](crate::client_number), whatever its key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chainspace_core::committee::Committee;
use chainspace_core::crypto::{Keypair, PublicKey};
use chainspace_core::replica::Addr;
use chainspace_core::transport::Transport;
use chainspace_core::types::ReplicaId;
use quinn::Endpoint;

use crate::config::QuicConfig;
use crate::identity::{Identity, client_number};
use crate::link::{self, Link, Target};
use crate::pump::Context;
use crate::shared::{Counters, Inbox, QuicStats, Shutdown};
use crate::tls::{self, ALPN_CLIENT};
use crate::{QuicError, runtime_check};

/// A client's QUIC endpoint. Dropping it (or [`Transport::close`]) shuts it down.
pub struct QuicClient {
    identity: Identity,
    config: QuicConfig,
    transport: Arc<quinn::TransportConfig>,
    endpoint: Endpoint,
    cx: Arc<Context>,
    replicas: Mutex<BTreeMap<ReplicaId, Replica>>,
}

struct Replica {
    key: PublicKey,
    addr: Arc<Mutex<SocketAddr>>,
    link: Option<Link>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl QuicClient {
    /// A client identified by `keypair`, sending from a UDP socket bound to `local`
    /// (`127.0.0.1:0` or `0.0.0.0:0` usually). Must be called inside a tokio runtime.
    pub fn bind(
        keypair: &Keypair,
        local: SocketAddr,
        config: QuicConfig,
    ) -> Result<Self, QuicError> {
        runtime_check(&config)?;
        let identity = Identity::new(keypair)?;
        let transport = tls::transport_config(&config)?;
        let endpoint =
            Endpoint::client(local).map_err(|source| QuicError::Bind { addr: local, source })?;
        let cx = Arc::new(Context {
            inbox: Inbox::new(config.queue_capacity, config.queue_bytes),
            counters: Counters::default(),
            shutdown: Shutdown::new(),
            max_message: config.max_message,
        });
        Ok(QuicClient { identity, config, transport, endpoint, cx, replicas: Mutex::default() })
    }

    /// The number replicas report this client by.
    pub fn number(&self) -> u64 {
        client_number(&self.identity.public)
    }

    /// Replica `id` listens on `addr` and must prove it holds `key`. May be called again
    /// when the replica moves; the key of a replica already known cannot change.
    pub fn add_replica(&self, id: ReplicaId, addr: SocketAddr, key: PublicKey) {
        let mut replicas = lock(&self.replicas);
        match replicas.get(&id) {
            Some(r) if r.key == key => *lock(&r.addr) = addr,
            _ => {
                let addr = Arc::new(Mutex::new(addr));
                replicas.insert(id, Replica { key, addr, link: None });
            }
        }
    }

    /// [`QuicClient::add_replica`] for every replica of `committee` found in `addrs`.
    pub fn add_committee(&self, committee: &Committee, addrs: &BTreeMap<ReplicaId, SocketAddr>) {
        for shard in &committee.shards {
            for (index, key) in shard.members.iter().enumerate() {
                let id = ReplicaId { shard: shard.shard, index: index as u32 };
                if let Some(addr) = addrs.get(&id) {
                    self.add_replica(id, *addr, *key);
                }
            }
        }
    }

    /// What the endpoint counted so far.
    pub fn stats(&self) -> QuicStats {
        self.cx.counters.snapshot()
    }

    fn link(&self, to: ReplicaId) -> Result<Link, QuicError> {
        let mut replicas = lock(&self.replicas);
        let replica = replicas.get_mut(&to).ok_or(QuicError::UnknownReplica(to))?;
        if let Some(link) = &replica.link {
            return Ok(link.clone());
        }
        let client_config =
            tls::client_config(&self.identity, replica.key, ALPN_CLIENT, self.transport.clone())?;
        // A client hears of no replica's restarts (replicas do not dial clients); the
        // stateless resets of a restarted replica still end its old connections.
        let seen = tokio::sync::watch::channel(None).1;
        let addr = replica.addr.clone();
        let target = Target { peer: Addr::Replica(to), addr, client_config, seen };
        let link = link::dial(self.endpoint.clone(), target, &self.config, self.cx.clone());
        replica.link = Some(link.clone());
        Ok(link)
    }
}

impl Drop for QuicClient {
    fn drop(&mut self) {
        self.close();
    }
}

#[async_trait]
impl Transport for QuicClient {
    async fn send(&self, to: Addr, bytes: Vec<u8>) -> Result<(), chainspace_core::Error> {
        if self.cx.shutdown.is_set() {
            return Err(QuicError::Closed.into());
        }
        if bytes.len() > self.config.max_message {
            let max = self.config.max_message;
            return Err(QuicError::TooLarge { len: bytes.len(), max }.into());
        }
        match to {
            Addr::Replica(r) => self.link(r)?.push(bytes, &self.cx),
            Addr::Client(n) => {
                return Err(QuicError::Unaddressable { to: format!("client {n}") }.into());
            }
        }
        Ok(())
    }

    async fn recv(&self) -> Result<(Addr, Vec<u8>), chainspace_core::Error> {
        Ok(self.cx.inbox.recv(&self.cx.shutdown).await?)
    }

    fn try_recv(&self) -> Option<(Addr, Vec<u8>)> {
        self.cx.inbox.try_recv(&self.cx.shutdown)
    }

    fn close(&self) {
        self.cx.shutdown.trigger();
        self.endpoint.close(0u32.into(), b"shutdown");
        lock(&self.replicas).clear();
    }
}
