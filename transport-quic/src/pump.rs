//! The two loops that move bytes on a connection: [`read_connection`] turns incoming
//! streams into messages from one authenticated sender, and [`pump`] writes a queue of
//! outgoing messages as frames on one long-lived stream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chainspace_core::replica::Addr;
use quinn::{Connection, RecvStream, SendStream};

use crate::frame::{self, Read, STOP_OVERSIZED};
use crate::queue;
use crate::shared::{Counters, Inbox, Shutdown, bump};

/// How often a pump records its connection's path MTU (the largest UDP payload MTU
/// discovery has found the path to carry) in [`Counters::largest_path_mtu`].
const MTU_SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// Samples a connection's path MTU at most every [`MTU_SAMPLE_EVERY`]: reading it takes the
/// connection's lock, which is not worth taking for every write.
#[derive(Default)]
struct MtuSampler {
    last: Option<Instant>,
}

impl MtuSampler {
    fn sample(&mut self, conn: &Connection, counters: &Counters) {
        let now = Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < MTU_SAMPLE_EVERY) {
            return;
        }
        self.last = Some(now);
        let mtu = u64::from(conn.stats().path.current_mtu);
        counters.largest_path_mtu.fetch_max(mtu, std::sync::atomic::Ordering::Relaxed);
    }
}

/// What an endpoint's tasks share.
pub(crate) struct Context {
    pub(crate) inbox: Inbox,
    pub(crate) counters: Counters,
    pub(crate) shutdown: Shutdown,
    pub(crate) max_message: usize,
}

/// Read every stream the peer opens on `conn` and queue its messages as coming from
/// `from`, which the caller established from the connection's peer identity: nothing in
/// the bytes can change it. Ends when the connection or the endpoint does.
pub(crate) async fn read_connection(conn: Connection, from: Addr, cx: Arc<Context>) {
    loop {
        let stream = tokio::select! {
            _ = cx.shutdown.wait() => return,
            s = conn.accept_uni() => s,
        };
        match stream {
            Ok(stream) => {
                tokio::spawn(read_stream(stream, from, cx.clone()));
            }
            Err(e) => {
                tracing::debug!(?from, %e, "connection ended");
                return;
            }
        }
    }
}

async fn read_stream(mut stream: RecvStream, from: Addr, cx: Arc<Context>) {
    loop {
        let read = tokio::select! {
            _ = cx.shutdown.wait() => return,
            r = frame::read(&mut stream, cx.max_message) => r,
        };
        match read {
            Read::Frame(bytes) => cx.inbox.push(from, bytes, &cx.counters),
            Read::End => return,
            Read::Oversized(len) => {
                bump(&cx.counters.oversized_frames);
                tracing::warn!(?from, len, max = cx.max_message, "oversized frame: stream stopped");
                let _ = stream.stop(STOP_OVERSIZED.into());
                return;
            }
            Read::Truncated => {
                bump(&cx.counters.truncated_frames);
                tracing::warn!(?from, "stream ended inside a frame");
                return;
            }
        }
    }
}

/// How many bytes of queued frames [`pump`] writes at once, at most (a message longer
/// than this goes alone).
pub(crate) const BATCH_BYTES: usize = 64 * 1024;

/// Why [`pump`] returned.
pub(crate) enum Pumped {
    /// The endpoint shut down or the queue's senders are gone: stop for good.
    Done,
    /// The connection failed; these frames (if any) were being written and may be
    /// retried.
    Lost(Option<Vec<u8>>),
    /// `abandon` resolved: the caller gives up on the connection, which still looks up;
    /// these frames (if any) were being written and may be retried on another.
    Abandoned(Option<Vec<u8>>),
}

/// Write the messages of `queue` (after `carry`, frames already encoded, if any) on `conn`,
/// one frame each, on a stream opened when first needed and reopened if the peer stops it
/// (after an oversized frame, say). Returns when the connection fails, when `abandon`
/// resolves (the peer is known to have restarted, say), or when there is nothing more to
/// send.
///
/// The messages waiting in the queue when one is taken go out with it in one write (up
/// to [`BATCH_BYTES`]): under load that puts many small protocol messages in one QUIC
/// packet and one system call instead of one each, which profiles of a loaded cluster
/// showed to be a large share of its CPU.
pub(crate) async fn pump(
    conn: &Connection,
    queue: &mut queue::Receiver<Vec<u8>>,
    mut carry: Option<Vec<u8>>,
    cx: &Context,
    abandon: impl Future<Output = ()>,
) -> Pumped {
    let shutdown = &cx.shutdown;
    let mut abandon = std::pin::pin!(abandon);
    let mut stream: Option<SendStream> = None;
    let mut mtu = MtuSampler::default();
    loop {
        mtu.sample(conn, &cx.counters);
        let mut message = match carry.take() {
            Some(m) => m,
            None => tokio::select! {
                biased;
                _ = shutdown.wait() => return Pumped::Done,
                () = abandon.as_mut() => return Pumped::Abandoned(None),
                m = queue.recv() => match m {
                    Some(m) => {
                        let mut framed = Vec::with_capacity(m.len() + 4);
                        frame::append(&mut framed, &m);
                        framed
                    }
                    None => return Pumped::Done,
                },
                _ = conn.closed() => return Pumped::Lost(None),
            },
        };
        while message.len() < BATCH_BYTES {
            match queue.try_recv() {
                Some(m) => frame::append(&mut message, &m),
                None => break,
            }
        }
        let s = match stream.as_mut() {
            Some(s) => s,
            None => {
                let opened = tokio::select! {
                    _ = shutdown.wait() => return Pumped::Done,
                    () = abandon.as_mut() => return Pumped::Abandoned(Some(message)),
                    s = conn.open_uni() => s,
                };
                match opened {
                    Ok(s) => stream.insert(s),
                    Err(_) => return Pumped::Lost(Some(message)),
                }
            }
        };
        // Handed to quinn as it is (`write_all` would copy every byte into its buffer);
        // a clone is kept (a reference count) to retry it elsewhere if this write fails.
        let chunk = Bytes::from(message);
        let written = tokio::select! {
            _ = shutdown.wait() => return Pumped::Done,
            () = abandon.as_mut() => return Pumped::Abandoned(Some(chunk.into())),
            w = s.write_chunk(chunk.clone()) => w,
        };
        if let Err(e) = written {
            stream = None;
            if conn.close_reason().is_some() {
                return Pumped::Lost(Some(chunk.into()));
            }
            tracing::debug!(%e, "stream failed; the next message opens a new one");
        }
    }
}
