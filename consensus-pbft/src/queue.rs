//! The primary's queue of requests waiting for a batch, with their total size, so that
//! a batch is cut by bytes as well as by count (`PbftConfig::max_batch_bytes`).

use std::collections::VecDeque;

use chainspace_core::crypto::Digest;

/// Digests of requests in arrival order, each with its command's size in bytes. An entry
/// may be stale (its request was ordered meanwhile); the primary skips it when it cuts a
/// batch, and it still counts towards `len` and `bytes` until then, so a batch is never
/// held back for want of requests that are gone.
#[derive(Clone, Debug, Default)]
pub(crate) struct BatchQueue {
    items: VecDeque<(Digest, usize)>,
    bytes: usize,
}

impl BatchQueue {
    pub(crate) fn push_back(&mut self, digest: Digest, size: usize) {
        self.items.push_back((digest, size));
        self.bytes += size;
    }

    /// The oldest entry.
    pub(crate) fn front(&self) -> Option<(Digest, usize)> {
        self.items.front().copied()
    }

    pub(crate) fn pop_front(&mut self) -> Option<(Digest, usize)> {
        let item = self.items.pop_front()?;
        self.bytes -= item.1;
        Some(item)
    }

    pub(crate) fn clear(&mut self) {
        self.items.clear();
        self.bytes = 0;
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Total size of the queued commands.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}
