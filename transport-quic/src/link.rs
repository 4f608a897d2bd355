//! Outgoing links. A [`Link`] is a bounded queue in front of a task that owns the way to
//! one peer: [`dial`] keeps a connection to a replica (redialling with exponential
//! back-off after a failure or a peer restart), [`reply`] writes to a client over the
//! connection the client opened. `send` only ever queues, so a dead or slow peer costs at
//! most one full queue and never blocks the protocol.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chainspace_core::replica::Addr;
use quinn::{Connection, Endpoint};
use tokio::sync::mpsc;

use crate::config::QuicConfig;
use crate::identity::SERVER_NAME;
use crate::pump::{Context, Pumped, pump, read_connection};
use crate::shared::bump;

/// The sending end of one peer's queue.
#[derive(Clone, Debug)]
pub(crate) struct Link {
    queue: mpsc::Sender<Vec<u8>>,
}

impl Link {
    /// Queue `bytes`; if the queue is full (peer slow or down), drop and count them.
    pub(crate) fn push(&self, bytes: Vec<u8>, cx: &Context) {
        if self.queue.try_send(bytes).is_err() {
            bump(&cx.counters.dropped_outgoing);
        }
    }
}

/// Where and how to reach a peer; the address may change (a peer restarted elsewhere).
pub(crate) struct Target {
    /// The peer as reported to the layer above when it writes back on our connection.
    pub(crate) peer: Addr,
    pub(crate) addr: Arc<Mutex<SocketAddr>>,
    pub(crate) client_config: quinn::ClientConfig,
}

/// Start a link that dials `target` from `endpoint` and keeps the connection up.
pub(crate) fn dial(
    endpoint: Endpoint,
    target: Target,
    config: &QuicConfig,
    cx: Arc<Context>,
) -> Link {
    let (queue, rx) = mpsc::channel(config.queue_capacity.max(1));
    tokio::spawn(dial_loop(endpoint, target, config.clone(), rx, cx));
    Link { queue }
}

async fn dial_loop(
    endpoint: Endpoint,
    target: Target,
    config: QuicConfig,
    mut rx: mpsc::Receiver<Vec<u8>>,
    cx: Arc<Context>,
) {
    let mut backoff = config.backoff_min;
    let mut carry = None;
    while !cx.shutdown.is_set() {
        let addr = *target.addr.lock().unwrap_or_else(|e| e.into_inner());
        match connect(&endpoint, &target, addr, config.connect_timeout).await {
            Ok(conn) => {
                bump(&cx.counters.dials);
                tracing::debug!(peer = ?target.peer, %addr, "connected");
                let since = Instant::now();
                tokio::spawn(read_connection(conn.clone(), target.peer, cx.clone()));
                match pump(&conn, &mut rx, carry.take(), &cx.shutdown).await {
                    Pumped::Done => {
                        conn.close(0u32.into(), b"shutdown");
                        return;
                    }
                    Pumped::Lost(message) => {
                        tracing::debug!(peer = ?target.peer, "connection lost; redialling");
                        carry = message;
                    }
                }
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
        }
        backoff = (backoff * 2).min(config.backoff_max);
    }
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
    let (queue, mut rx) = mpsc::channel(config.queue_capacity.max(1));
    tokio::spawn(async move {
        let _ = pump(&conn, &mut rx, None, &cx.shutdown).await;
        gone();
    });
    Link { queue }
}
