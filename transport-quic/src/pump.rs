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

/// Frames ready to write: each frame's 4-byte length and its message, as chunks handed to
/// quinn as they are (the lengths are slices of one buffer), so no message is copied on
/// its way to the stream (copying them into one buffer was 2.6% of a consensus-only
/// run's CPU). Cloning it counts references.
pub(crate) type Frames = Vec<Bytes>;

/// Why [`pump`] returned.
pub(crate) enum Pumped {
    /// The endpoint shut down or the queue's senders are gone: stop for good.
    Done,
    /// The connection failed; these frames (if any) were being written and may be
    /// retried.
    Lost(Option<Frames>),
    /// `abandon` resolved: the caller gives up on the connection, which still looks up;
    /// these frames (if any) were being written and may be retried on another.
    Abandoned(Option<Frames>),
}

/// `first` and the messages waiting behind it in `queue` (up to [`BATCH_BYTES`] in all),
/// as frames.
fn frames(first: Vec<u8>, queue: &mut queue::Receiver<Vec<u8>>) -> Frames {
    let mut total = first.len();
    let mut messages = vec![first];
    while total < BATCH_BYTES {
        match queue.try_recv() {
            Some(m) => {
                total += m.len();
                messages.push(m);
            }
            None => break,
        }
    }
    let mut lengths = Vec::with_capacity(4 * messages.len());
    for m in &messages {
        lengths.extend_from_slice(&frame::length(m));
    }
    let lengths = Bytes::from(lengths);
    let mut out = Vec::with_capacity(2 * messages.len());
    for (i, m) in messages.into_iter().enumerate() {
        out.push(lengths.slice(4 * i..4 * i + 4));
        out.push(Bytes::from(m));
    }
    out
}

/// Write the messages of `queue` (after `carry`, frames already made, if any) on `conn`,
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
    mut carry: Option<Frames>,
    cx: &Context,
    abandon: impl Future<Output = ()>,
) -> Pumped {
    let shutdown = &cx.shutdown;
    let mut abandon = std::pin::pin!(abandon);
    let mut stream: Option<SendStream> = None;
    let mut mtu = MtuSampler::default();
    loop {
        mtu.sample(conn, &cx.counters);
        let batch = match carry.take() {
            Some(b) => b,
            None => tokio::select! {
                biased;
                _ = shutdown.wait() => return Pumped::Done,
                () = abandon.as_mut() => return Pumped::Abandoned(None),
                m = queue.recv() => match m {
                    Some(m) => frames(m, queue),
                    None => return Pumped::Done,
                },
                _ = conn.closed() => return Pumped::Lost(None),
            },
        };
        let s = match stream.as_mut() {
            Some(s) => s,
            None => {
                let opened = tokio::select! {
                    _ = shutdown.wait() => return Pumped::Done,
                    () = abandon.as_mut() => return Pumped::Abandoned(Some(batch)),
                    s = conn.open_uni() => s,
                };
                match opened {
                    Ok(s) => stream.insert(s),
                    Err(_) => return Pumped::Lost(Some(batch)),
                }
            }
        };
        // quinn empties the chunks it writes; `batch` keeps them to retry elsewhere if
        // this write fails.
        let mut chunks = batch.clone();
        let written = tokio::select! {
            _ = shutdown.wait() => return Pumped::Done,
            () = abandon.as_mut() => return Pumped::Abandoned(Some(batch)),
            w = s.write_all_chunks(&mut chunks) => w,
        };
        if let Err(e) = written {
            stream = None;
            if conn.close_reason().is_some() {
                return Pumped::Lost(Some(batch));
            }
            tracing::debug!(%e, "stream failed; the next message opens a new one");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frames' bytes, as the stream carries them.
    fn wire(frames: &Frames) -> Vec<u8> {
        frames.iter().flat_map(|b| b.iter().copied()).collect()
    }

    #[test]
    fn queued_messages_join_the_first_as_frames_up_to_the_batch_bound() {
        let (tx, mut rx) = queue::bounded(16, 1 << 20);
        for m in [vec![2u8; 3], vec![], vec![3u8; BATCH_BYTES], vec![4u8; 5]] {
            let size = m.len();
            assert!(tx.try_send(m, size));
        }
        let batch = frames(vec![1u8; 2], &mut rx);
        let mut expected = Vec::new();
        for m in [&[1u8; 2][..], &[2u8; 3], &[], &[3u8; BATCH_BYTES]] {
            expected.extend_from_slice(&(m.len() as u32).to_be_bytes());
            expected.extend_from_slice(m);
        }
        assert_eq!(batch.len(), 8, "a length and a message per frame");
        assert_eq!(wire(&batch), expected, "the bound is reached: the last message waits");
        let rest = frames(rx.try_recv().expect("still queued"), &mut rx);
        assert_eq!(wire(&rest), [&5u32.to_be_bytes()[..], &[4u8; 5]].concat());
    }
}
