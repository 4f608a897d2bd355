//! Queues bounded by count and by bytes, for every buffer of messages an endpoint keeps
//! (each peer's send queue, the receive queues). A count alone bounds nothing when
//! messages are large: a few thousand consensus batches of several MB each is tens of GB.
//! Sending never waits: past either bound the message is refused, and the caller drops
//! and counts it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

/// Bytes queued, shared by both ends.
#[derive(Debug)]
struct Budget {
    used: AtomicUsize,
    max: usize,
}

/// A queue of at most `capacity` items and `bytes` bytes (an item is taken into a queue
/// holding no bytes whatever its size, so one large message is never refused for ever).
pub(crate) fn bounded<T>(capacity: usize, bytes: usize) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let budget = Arc::new(Budget { used: AtomicUsize::new(0), max: bytes });
    (Sender { tx, budget: budget.clone() }, Receiver { rx, budget })
}

/// The sending end; clones share the queue.
#[derive(Debug)]
pub(crate) struct Sender<T> {
    tx: mpsc::Sender<(T, usize)>,
    budget: Arc<Budget>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender { tx: self.tx.clone(), budget: self.budget.clone() }
    }
}

impl<T> Sender<T> {
    /// Queue `item`, of `size` bytes; `false` if the queue is full by count or by bytes
    /// (or its receiver is gone).
    pub(crate) fn try_send(&self, item: T, size: usize) -> bool {
        let before = self.budget.used.fetch_add(size, Ordering::AcqRel);
        if before > 0 && before + size > self.budget.max {
            self.budget.used.fetch_sub(size, Ordering::AcqRel);
            return false;
        }
        if self.tx.try_send((item, size)).is_err() {
            self.budget.used.fetch_sub(size, Ordering::AcqRel);
            return false;
        }
        true
    }
}

/// The receiving end.
#[derive(Debug)]
pub(crate) struct Receiver<T> {
    rx: mpsc::Receiver<(T, usize)>,
    budget: Arc<Budget>,
}

impl<T> Receiver<T> {
    /// The next item; `None` once every sender is gone and the queue is empty. Cancel
    /// safe, like the channel's own `recv`.
    pub(crate) async fn recv(&mut self) -> Option<T> {
        let (item, size) = self.rx.recv().await?;
        self.budget.used.fetch_sub(size, Ordering::AcqRel);
        Some(item)
    }

    /// The next item if one is queued.
    pub(crate) fn try_recv(&mut self) -> Option<T> {
        let (item, size) = self.rx.try_recv().ok()?;
        self.budget.used.fetch_sub(size, Ordering::AcqRel);
        Some(item)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_bytes_and_by_count() {
        let (tx, mut rx) = bounded::<u8>(3, 10);
        assert!(tx.try_send(1, 4));
        assert!(tx.try_send(2, 4));
        assert!(!tx.try_send(3, 4), "12 bytes > 10");
        assert!(tx.try_send(4, 2), "10 bytes fit");
        assert!(!tx.try_send(5, 0), "4 items > 3");
        assert_eq!(rx.try_recv(), Some(1));
        assert!(tx.try_send(6, 4), "room again");
        assert_eq!([rx.try_recv(), rx.try_recv(), rx.try_recv()], [Some(2), Some(4), Some(6)]);
        assert!(rx.is_empty());
        assert!(tx.try_send(7, 100), "an empty queue takes anything");
        assert!(!tx.try_send(8, 1));
    }
}
