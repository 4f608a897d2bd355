//! Outgoing links. A [`Link`] is a bounded queue in front of a task that owns the way to
//! one peer: [`dial`] keeps a connection to a replica (redialling with exponential
//! back-off after a failure or a peer restart), [`reply`] writes to a client over the
//! connection the client opened. `send` only ever queues, so a dead or slow peer costs at
//! most one full queue and never blocks the protocol.
//!
//! A peer that restarts is noticed without waiting for the idle timeout, in two ways:
//! its new process answers our packets on the old connection with a stateless reset
//! (see `reset`), which fails the connection at once; and when it connects to us, the
//! replica endpoint passes on the certificate it showed ([`Sightings`]). A certificate
//! other than the one our connection got means a new process: the link drops the old
//! connection and redials at once. A sighting also cuts short a back-off wait, and a dial
//! stuck sending its first packets to the dead process: the peer is up again.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chainspace_core::replica::Addr;
use quinn::{Connection, ConnectionError, Endpoint};
use rustls::pki_types::CertificateDer;
use tokio::sync::watch;

use crate::config::QuicConfig;
use crate::identity::SERVER_NAME;
use crate::pump::{Context, Pumped, pump, read_connection};
use crate::queue;
use crate::shared::bump;

/// The sending end of one peer's queue.
#[derive(Clone, Debug)]
pub(crate) struct Link {
    queue: queue::Sender<Vec<u8>>,
}

impl Link {
    /// Queue `bytes`; if the queue is full by count or by bytes (peer slow or down), drop
    /// and count them.
    pub(crate) fn push(&self, bytes: Vec<u8>, cx: &Context) {
        let size = bytes.len();
        if !self.queue.try_send(bytes, size) {
            bump(&cx.counters.dropped_outgoing);
        }
    }
}

/// A peer's send queue, bounded as `config` says.
fn peer_queue(config: &QuicConfig) -> (queue::Sender<Vec<u8>>, queue::Receiver<Vec<u8>>) {
    queue::bounded(config.queue_capacity, config.queue_bytes)
}

/// Application error code of a connection dropped because its peer restarted: the peer
/// connected to us as a new process, so ours leads to the dead one.
pub(crate) const CLOSE_RESTARTED: u32 = 3;

/// A dial still pending this long when the peer connects to us is taken to be stuck on
/// packets sent to its dead predecessor (quinn retransmits a lost first packet only after
/// about a second, then two, then four) and is started afresh. A dial younger than this
/// is left to finish, so two replicas dialling each other at once do not abort each
/// other's dials.
const STUCK_DIAL: Duration = Duration::from_millis(200);

/// The certificate of the latest connection a replica peer made to us, as the replica
/// endpoint publishes it (`None` until it connects). Clients' links get one whose sender
/// is gone: they never hear of anything.
pub(crate) type Sightings = watch::Receiver<Option<CertificateDer<'static>>>;

/// Where and how to reach a peer; the address may change (a peer restarted elsewhere).
pub(crate) struct Target {
    /// The peer as reported to the layer above when it writes back on our connection.
    pub(crate) peer: Addr,
    pub(crate) addr: Arc<Mutex<SocketAddr>>,
    pub(crate) client_config: quinn::ClientConfig,
    /// The peer's own connections to us.
    pub(crate) seen: Sightings,
}

/// Start a link that dials `target` from `endpoint` and keeps the connection up.
pub(crate) fn dial(
    endpoint: Endpoint,
    target: Target,
    config: &QuicConfig,
    cx: Arc<Context>,
) -> Link {
    let (queue, rx) = peer_queue(config);
    tokio::spawn(dial_loop(endpoint, target, config.clone(), rx, cx));
    Link { queue }
}

async fn dial_loop(
    endpoint: Endpoint,
    mut target: Target,
    config: QuicConfig,
    mut rx: queue::Receiver<Vec<u8>>,
    cx: Arc<Context>,
) {
    let mut backoff = config.backoff_min;
    let mut carry = None;
    while !cx.shutdown.is_set() {
        let addr = *target.addr.lock().unwrap_or_else(|e| e.into_inner());
        // Only what the peer does from now on is news to this dial.
        target.seen.mark_unchanged();
        let started = Instant::now();
        let dialled = tokio::select! {
            _ = cx.shutdown.wait() => return,
            d = connect(&endpoint, &target, addr, config.connect_timeout) => d,
            () = stuck(target.seen.clone(), started) => {
                tracing::debug!(peer = ?target.peer, "peer back while our dial hangs; redialling");
                backoff = config.backoff_min;
                continue;
            }
        };
        match dialled {
            Ok(conn) => {
                bump(&cx.counters.dials);
                tracing::debug!(peer = ?target.peer, %addr, "connected");
                let since = Instant::now();
                let incarnation = peer_certificate(&conn);
                tokio::spawn(read_connection(conn.clone(), target.peer, cx.clone()));
                let restarted = restarted(target.seen.clone(), incarnation);
                match pump(&conn, &mut rx, carry.take(), &cx, restarted).await {
                    Pumped::Done => {
                        conn.close(0u32.into(), b"shutdown");
                        return;
                    }
                    Pumped::Abandoned(message) => {
                        // The peer connected to us as a new process: ours leads to the
                        // old one, dead. Redial now; the new process is up.
                        bump(&cx.counters.restarted_peers);
                        tracing::info!(peer = ?target.peer, "peer restarted; redialling");
                        conn.close(CLOSE_RESTARTED.into(), b"you restarted");
                        carry = message;
                        backoff = config.backoff_min;
                        continue;
                    }
                    Pumped::Lost(message) => {
                        let reason = conn.close_reason();
                        let peer = target.peer;
                        if matches!(reason, Some(ConnectionError::Reset)) {
                            // A stateless reset: the peer restarted and forgot it.
                            tracing::info!(?peer, "connection reset by the peer; redialling");
                        } else {
                            tracing::debug!(?peer, ?reason, "connection lost; redialling");
                        }
                        carry = message;
                    }
                }
                // What the peer did while this connection was up is no reason to skip
                // the wait below; what it does from now on is.
                target.seen.mark_unchanged();
                // A connection that lived long was healthy: redial at once. One that died
                // young (the peer refuses us, or is restarting) backs off like a failed
                // dial, so a refusing peer is not redialled in a tight loop.
                if since.elapsed() >= config.backoff_max {
                    backoff = config.backoff_min;
                    continue;
                }
            }
            Err(reason) => {
                bump(&cx.counters.failed_dials);
                tracing::debug!(peer = ?target.peer, %addr, %reason, ?backoff, "dial failed");
            }
        }
        tokio::select! {
            _ = cx.shutdown.wait() => return,
            _ = tokio::time::sleep(backoff) => {}
            () = sighting(&mut target.seen) => {
                // The peer connected to us (during the failed dial or this wait): it is
                // up, so redial now and from the shortest back-off. Each sighting is a
                // connection the peer authenticated with its key, so only the peer itself
                // can cut waits short, once per connection it makes.
                tracing::debug!(peer = ?target.peer, "peer seen again; redialling");
                backoff = config.backoff_min;
                continue;
            }
        }
        backoff = (backoff * 2).min(config.backoff_max);
    }
}

/// Resolves at the next connection the peer makes to us (one not yet marked seen). Never,
/// for a client's link or once the replica endpoint is gone.
async fn sighting(seen: &mut Sightings) {
    if seen.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Resolves once the peer has connected to us during a dial begun at `started`, and the
/// dial has been pending for [`STUCK_DIAL`].
async fn stuck(mut seen: Sightings, started: Instant) {
    sighting(&mut seen).await;
    tokio::time::sleep_until((started + STUCK_DIAL).into()).await;
}

/// Resolves when the peer connects to us showing a certificate other than `ours`, the one
/// it showed on our connection: it is a new process, and ours leads to the old one.
/// Sightings since the dial of our connection began count, so a restart noticed while the
/// dial was completing is not missed.
async fn restarted(mut seen: Sightings, ours: Option<CertificateDer<'static>>) {
    loop {
        sighting(&mut seen).await;
        let latest = seen.borrow_and_update();
        if latest.as_ref().is_some_and(|theirs| Some(theirs) != ours.as_ref()) {
            return;
        }
    }
}

/// The certificate the peer of `conn` showed in the handshake.
pub(crate) fn peer_certificate(conn: &Connection) -> Option<CertificateDer<'static>> {
    let certs = conn.peer_identity()?.downcast::<Vec<CertificateDer<'static>>>().ok()?;
    certs.first().cloned()
}

async fn connect(
    endpoint: &Endpoint,
    target: &Target,
    addr: SocketAddr,
    timeout: Duration,
) -> Result<Connection, String> {
    let connecting = endpoint
        .connect_with(target.client_config.clone(), addr, SERVER_NAME)
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

/// Start a link that writes to a client over `conn`, the connection it opened. When the
/// connection ends the task calls `gone`, so the endpoint can forget the client.
pub(crate) fn reply(
    conn: Connection,
    config: &QuicConfig,
    cx: Arc<Context>,
    gone: impl FnOnce() + Send + 'static,
) -> Link {
    let (queue, mut rx) = peer_queue(config);
    tokio::spawn(async move {
        let _ = pump(&conn, &mut rx, None, &cx, std::future::pending()).await;
        gone();
    });
    Link { queue }
}
