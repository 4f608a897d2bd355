//! What a PBFT replica must remember across a crash (Castro and Liskov keep their whole
//! log on stable storage; this keeps the part whose loss would let a correct replica
//! contradict itself):
//!
//! * the view it is in, and whether it has left it for a view change, so it never goes
//!   back to a view it gave up on;
//! * for each sequence number above the stable checkpoint, the `(view, digest)` it sent a
//!   pre-prepare or prepare for, so that after a restart it never pre-prepares or
//!   prepares another batch at the same `(view, seq)` (equivocation), and a restarted
//!   primary never reuses a sequence number of its view.
//!
//! Known gap: the prepared certificates a replica held are not kept, so a replica that
//! crashes during a view change sends a view-change message without them. Safety then
//! rests on the other correct replicas of the quorum (as if this one were faulty).

use std::collections::BTreeMap;

use chainspace_core::crypto::Digest;
use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::replica::Pbft;

/// The durable part of a replica's state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Durable {
    pub view: u64,
    pub in_view_change: bool,
    /// Sequence -> the (view, batch digest) this replica pre-prepared or prepared.
    pub sent: BTreeMap<u64, (u64, Digest)>,
}

impl Pbft {
    /// Record the view (after entering it or leaving for a view change).
    pub(crate) fn record_view(&mut self) {
        if self.durable.view != self.view || self.durable.in_view_change != self.in_view_change {
            self.durable.view = self.view;
            self.durable.in_view_change = self.in_view_change;
            self.durable_version += 1;
        }
    }

    /// Whether this replica may pre-prepare or prepare `digest` at `(view, seq)`: not if
    /// it already did so for another batch (possibly before a crash). Records it if so.
    pub(crate) fn may_send(&mut self, view: u64, seq: u64, digest: Digest) -> bool {
        match self.durable.sent.get(&seq) {
            Some((v, d)) if *v == view && *d != digest => {
                self.invalid(Invalid::Equivocation { view, seq });
                false
            }
            Some((v, _)) if *v == view => true,
            _ => {
                self.durable.sent.insert(seq, (view, digest));
                self.durable_version += 1;
                true
            }
        }
    }

    /// The first sequence number at or after `seq` this replica has not used in `view`.
    pub(crate) fn unused_seq(&self, view: u64, mut seq: u64) -> u64 {
        while self.durable.sent.get(&seq).is_some_and(|(v, _)| *v == view) {
            seq += 1;
        }
        seq
    }

    /// Forget what is at or below the stable checkpoint.
    pub(crate) fn prune_durable(&mut self, stable: u64) {
        self.durable.sent.retain(|s, _| *s > stable);
    }

    pub(crate) fn encode_durable(&self) -> Vec<u8> {
        postcard::to_allocvec(&self.durable).unwrap_or_default()
    }

    pub(crate) fn restore_durable(&mut self, bytes: &[u8]) -> Result<(), chainspace_core::Error> {
        let d: Durable = postcard::from_bytes(bytes).map_err(|e| {
            chainspace_core::Error::InvalidSnapshot { reason: format!("PBFT state: {e}") }
        })?;
        if d.view > self.view || (d.view == self.view && d.in_view_change) {
            self.view = d.view;
            self.in_view_change = d.in_view_change;
        }
        for (seq, sent) in d.sent {
            self.durable.sent.entry(seq).or_insert(sent);
        }
        self.durable.view = self.view;
        self.durable.in_view_change = self.in_view_change;
        self.durable_version += 1;
        Ok(())
    }
}
