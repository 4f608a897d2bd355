//! [`QuicTransport`]: a replica's endpoint. It listens for replicas and clients, dials the
//! other replicas of the committee, and reports every message with the sender its
//! connection proved.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chainspace_core::committee::Committee;
use chainspace_core::crypto::Keypair;
use chainspace_core::replica::Addr;
use chainspace_core::transport::Transport;
use chainspace_core::types::ReplicaId;
use quinn::{Connection, Endpoint, Incoming};
use rustls::pki_types::CertificateDer;
use tokio::sync::watch;

use crate::config::QuicConfig;
use crate::identity::{Identity, certificate_key, client_number};
use crate::link::{self, Link, Target};
use crate::pump::{Context, read_connection};
use crate::shared::{Counters, Inbox, QuicStats, Shutdown, bump};
use crate::tls::{self, ALPN_CLIENT, ALPN_REPLICA};
use crate::verify::PeerVerifier;
use crate::{QuicError, reset, runtime_check};

/// Application error code of a connection refused after the handshake.
pub const CLOSE_REFUSED: u32 = 2;

/// A replica's QUIC endpoint. Dropping it (or [`Transport::close`]) shuts it down.
pub struct QuicTransport {
    inner: Arc<Inner>,
}

struct Inner {
    id: ReplicaId,
    committee: Committee,
    identity: Identity,
    config: QuicConfig,
    transport: Arc<quinn::TransportConfig>,
    endpoint: Endpoint,
    cx: Arc<Context>,
    peers: Mutex<BTreeMap<ReplicaId, Peer>>,
    /// Connected clients by number, each with the link that writes to it.
    clients: Mutex<HashMap<u64, (usize, Link)>>,
}

struct Peer {
    addr: Arc<Mutex<SocketAddr>>,
    link: Option<Link>,
    /// The certificate of the peer's latest connection to us, for the link to notice a
    /// restart by (a restarted replica shows a new certificate).
    seen: watch::Sender<Option<CertificateDer<'static>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl QuicTransport {
    /// Bind the endpoint of the replica holding `keypair` on `listen`. Its replica id is
    /// the one its key has in `committee`. Must be called inside a tokio runtime; peers'
    /// addresses are given afterwards with [`QuicTransport::set_peer`] (so that tests can
    /// bind every replica on port 0 first).
    pub fn bind(
        keypair: &Keypair,
        committee: Committee,
        listen: SocketAddr,
        config: QuicConfig,
    ) -> Result<Self, QuicError> {
        runtime_check(&config)?;
        let identity = Identity::new(keypair)?;
        let id = committee.replica_of(&identity.public).ok_or(QuicError::NotInCommittee)?;
        let transport = tls::transport_config(&config)?;
        let (verifier, alpns): (_, &[&[u8]]) = if config.accept_clients {
            (PeerVerifier::any_key(), &[ALPN_REPLICA, ALPN_CLIENT])
        } else {
            (PeerVerifier::committee(&committee), &[ALPN_REPLICA])
        };
        let server = tls::server_config(&identity, verifier, alpns, transport.clone())?;
        // The stateless reset key comes from the replica's key, so that after a crash the
        // restarted process resets the connections its predecessor left behind.
        let bind_error = |source| QuicError::Bind { addr: listen, source };
        let endpoint_config = tls::endpoint_config(reset::endpoint_config(keypair), &config)?;
        let socket = std::net::UdpSocket::bind(listen).map_err(bind_error)?;
        widen_receive_buffer(&socket);
        let runtime = quinn::default_runtime().ok_or(QuicError::NoRuntime)?;
        let endpoint =
            Endpoint::new(endpoint_config, Some(server), socket, runtime).map_err(bind_error)?;
        let cx = Arc::new(Context {
            inbox: Inbox::new(config.queue_capacity, config.queue_bytes),
            counters: Counters::default(),
            shutdown: Shutdown::new(),
            max_message: config.max_message,
        });
        let inner = Arc::new(Inner {
            id,
            committee,
            identity,
            config,
            transport,
            endpoint,
            cx,
            peers: Mutex::default(),
            clients: Mutex::default(),
        });
        tokio::spawn(accept_loop(inner.clone()));
        tracing::info!(replica = %id, addr = ?inner.endpoint.local_addr().ok(), "listening");
        Ok(QuicTransport { inner })
    }

    /// This replica.
    pub fn id(&self) -> ReplicaId {
        self.inner.id
    }

    /// The address the endpoint listens on (the real port when bound to port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, QuicError> {
        let listen = self.inner.endpoint.local_addr();
        listen.map_err(|source| QuicError::Bind { addr: ([0, 0, 0, 0], 0).into(), source })
    }

    /// Where replica `id` listens. May be called again when a peer moves; the link uses
    /// the new address at its next dial.
    pub fn set_peer(&self, id: ReplicaId, addr: SocketAddr) -> Result<(), QuicError> {
        if self.key_of(id).is_none() {
            return Err(QuicError::UnknownReplica(id));
        }
        let mut peers = lock(&self.inner.peers);
        match peers.get(&id) {
            Some(peer) => *lock(&peer.addr) = addr,
            None => {
                let addr = Arc::new(Mutex::new(addr));
                peers.insert(id, Peer { addr, link: None, seen: watch::Sender::new(None) });
            }
        }
        Ok(())
    }

    /// [`QuicTransport::set_peer`] for each entry.
    pub fn set_peers(
        &self,
        peers: impl IntoIterator<Item = (ReplicaId, SocketAddr)>,
    ) -> Result<(), QuicError> {
        peers.into_iter().try_for_each(|(id, addr)| self.set_peer(id, addr))
    }

    /// What the endpoint counted so far.
    pub fn stats(&self) -> QuicStats {
        self.inner.cx.counters.snapshot()
    }

    /// Shut down and wait (at most `timeout`) until the connections are closed and the
    /// socket is released, so the address can be bound again (a restart).
    pub async fn shutdown(&self, timeout: std::time::Duration) {
        self.close();
        let _ = tokio::time::timeout(timeout, self.inner.endpoint.wait_idle()).await;
    }

    fn key_of(&self, id: ReplicaId) -> Option<chainspace_core::crypto::PublicKey> {
        self.inner.committee.shard(id.shard).and_then(|s| s.key(id.index)).copied()
    }

    /// The link to replica `to`, started at first use.
    fn link(&self, to: ReplicaId) -> Result<Link, QuicError> {
        let key = self.key_of(to).ok_or(QuicError::UnknownReplica(to))?;
        let mut peers = lock(&self.inner.peers);
        let peer = peers.get_mut(&to).ok_or(QuicError::NoAddress(to))?;
        if let Some(link) = &peer.link {
            return Ok(link.clone());
        }
        let inner = &self.inner;
        let client_config =
            tls::client_config(&inner.identity, key, ALPN_REPLICA, inner.transport.clone())?;
        let target = Target {
            peer: Addr::Replica(to),
            addr: peer.addr.clone(),
            client_config,
            seen: peer.seen.subscribe(),
        };
        let link = link::dial(inner.endpoint.clone(), target, &inner.config, inner.cx.clone());
        peer.link = Some(link.clone());
        Ok(link)
    }
}

impl Drop for QuicTransport {
    fn drop(&mut self) {
        self.close();
    }
}

#[async_trait]
impl Transport for QuicTransport {
    async fn send(&self, to: Addr, bytes: Vec<u8>) -> Result<(), chainspace_core::Error> {
        let inner = &self.inner;
        if inner.cx.shutdown.is_set() {
            return Err(QuicError::Closed.into());
        }
        if bytes.len() > inner.config.max_message {
            let max = inner.config.max_message;
            return Err(QuicError::TooLarge { len: bytes.len(), max }.into());
        }
        match to {
            Addr::Replica(r) if r == inner.id => {
                inner.cx.inbox.push(to, bytes, &inner.cx.counters);
            }
            Addr::Replica(r) => self.link(r)?.push(bytes, &inner.cx),
            Addr::Client(n) => match lock(&inner.clients).get(&n) {
                Some((_, link)) => link.push(bytes, &inner.cx),
                None => bump(&inner.cx.counters.dropped_outgoing),
            },
        }
        Ok(())
    }

    async fn recv(&self) -> Result<(Addr, Vec<u8>), chainspace_core::Error> {
        Ok(self.inner.cx.inbox.recv(&self.inner.cx.shutdown).await?)
    }

    fn try_recv(&self) -> Option<(Addr, Vec<u8>)> {
        self.inner.cx.inbox.try_recv(&self.inner.cx.shutdown)
    }

    fn close(&self) {
        let inner = &self.inner;
        if !inner.cx.shutdown.is_set() {
            tracing::info!(replica = %inner.id, "shutting down");
        }
        inner.cx.shutdown.trigger();
        inner.endpoint.close(0u32.into(), b"shutdown");
        lock(&inner.peers).clear();
        lock(&inner.clients).clear();
    }
}

async fn accept_loop(inner: Arc<Inner>) {
    loop {
        let incoming = tokio::select! {
            _ = inner.cx.shutdown.wait() => return,
            i = inner.endpoint.accept() => i,
        };
        match incoming {
            Some(incoming) => {
                tokio::spawn(admit(inner.clone(), incoming));
            }
            None => return,
        }
    }
}

/// Finish the handshake of `incoming`, decide who the peer is from its certificate key
/// and ALPN, and serve it, or refuse it.
async fn admit(inner: Arc<Inner>, incoming: Incoming) {
    let remote = incoming.remote_address();
    let conn = match tokio::time::timeout(inner.config.connect_timeout, incoming).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return tracing::debug!(%remote, %e, "handshake failed"),
        Err(_) => return tracing::debug!(%remote, "handshake timed out"),
    };
    let Some((from, certificate)) = classify(&inner, &conn) else {
        bump(&inner.cx.counters.refused_connections);
        tracing::warn!(%remote, "connection refused");
        conn.close(CLOSE_REFUSED.into(), b"refused");
        return;
    };
    bump(&inner.cx.counters.accepted_connections);
    tracing::debug!(%remote, ?from, "connection accepted");
    if let Addr::Replica(id) = from
        && let Some(peer) = lock(&inner.peers).get(&id)
    {
        // The peer (re)connected: our link to it checks that its own connection still
        // leads to this process, and stops waiting to redial if it was.
        peer.seen.send_replace(Some(certificate));
    }
    if let Addr::Client(n) = from {
        let id = conn.stable_id();
        let weak = Arc::downgrade(&inner);
        let gone = move || {
            if let Some(inner) = weak.upgrade() {
                let mut clients = lock(&inner.clients);
                if clients.get(&n).is_some_and(|(c, _)| *c == id) {
                    clients.remove(&n);
                }
            }
        };
        let link = link::reply(conn.clone(), &inner.config, inner.cx.clone(), gone);
        lock(&inner.clients).insert(n, (id, link));
    }
    read_connection(conn, from, inner.cx.clone()).await;
}

/// The peer of `conn` as the layer above will see it, with the certificate it showed: a
/// replica only with the replica ALPN and a committee key; a client only with the client
/// ALPN, when clients are served and there is room. `None` refuses the connection.
fn classify(inner: &Inner, conn: &Connection) -> Option<(Addr, CertificateDer<'static>)> {
    let certificate = link::peer_certificate(conn)?;
    let key = certificate_key(&certificate)?;
    let alpn =
        conn.handshake_data()?.downcast::<quinn::crypto::rustls::HandshakeData>().ok()?.protocol?;
    if alpn == ALPN_REPLICA {
        return inner.committee.replica_of(&key).map(|id| (Addr::Replica(id), certificate));
    }
    let n = client_number(&key);
    let clients = lock(&inner.clients);
    let room = clients.len() < inner.config.max_clients || clients.contains_key(&n);
    let served = alpn == ALPN_CLIENT && inner.config.accept_clients && room;
    served.then_some((Addr::Client(n), certificate))
}

/// What a replica asks of its socket's receive buffer. A replica takes bursts (a batch to
/// every backup at once, clients' requests, a state transfer) and the system default
/// (~200 KB on Linux) overflows under load: each datagram dropped there is a QUIC loss,
/// detected and resent only after a round trip or more. The kernel caps the request at
/// its own limit (`net.core.rmem_max`), so this asks, and never fails the bind.
const RECEIVE_BUFFER: usize = 4 << 20;

fn widen_receive_buffer(socket: &std::net::UdpSocket) {
    let widened = quinn::udp::UdpSocketState::new(socket.into())
        .and_then(|state| state.set_recv_buffer_size(socket.into(), RECEIVE_BUFFER));
    if let Err(e) = widened {
        tracing::debug!(%e, "the receive buffer keeps the system's default size");
    }
}
