//! Checkpoints and garbage collection (Castro and Liskov, section 4.3), and catch-up:
//! how a replica that missed messages, was partitioned or restarted from nothing gets
//! back to where the others are.
//!
//! Catch-up follows BFT-SMaRt's state transfer: a replica that sees it is behind (others
//! talk about higher sequence numbers, or its requests wait) broadcasts a [`Status`];
//! every replica also broadcasts one every `status_interval_ticks` ticks as a heartbeat,
//! because a replica partitioned while the others moved on and then went idle sees no
//! sign of being behind (nobody talks to it), and would otherwise stay behind.
//! Peers answer with the batches it misses ([`Decided`], accepted once `f + 1` replicas
//! sent the same batch) or, when it is behind their garbage-collected log, with their
//! stable checkpoint's snapshot and its quorum proof ([`StateReply`]). A replica left in
//! an older view also gets the current [`NewView`](crate::message::NewView).

use chainspace_core::consensus::Action;
use chainspace_core::crypto::{Digest, sha256};
use chainspace_core::dedup::DedupState;
use chainspace_core::snapshot::Snapshot;
use chainspace_core::types::ReplicaIndex;
use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::message::{
    Checkpoint, Commit, Decided, Message, StateReply, Status, batch_digest, domain,
    verify_checkpoint_proof,
};
use crate::replica::{Out, Pbft, Served, Stable};

/// What a checkpoint covers: the application's snapshot and the dedup window, since
/// both decide what later sequence numbers deliver. Its digest hashes the application
/// snapshot's digest, not its bytes, so a checkpoint costs what the application changed
/// (see [`chainspace_core::snapshot`]); the bytes are made only for a peer that needs them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PbftSnapshot {
    /// The application's snapshot.
    pub app: Snapshot,
    /// The dedup window: digests delivered at each recent sequence number.
    pub recent: DedupState,
}

/// How a [`PbftSnapshot`] travels in a [`StateReply`].
#[derive(Serialize, Deserialize)]
struct Wire {
    #[serde(with = "chainspace_core::types::serde_bytes_vec")]
    app: Vec<u8>,
    recent: DedupState,
}

impl PbftSnapshot {
    /// The checkpoint's state digest.
    ///
    /// It is the SHA-256 of the application snapshot's digest followed by the window's
    /// sequence numbers and list hashes ([`DedupState::encode_digest_input`]): each
    /// list was hashed once, when its sequence number was executed.
    pub fn digest(&self) -> Digest {
        sha256(&self.digest_input())
    }

    fn digest_input(&self) -> Vec<u8> {
        let mut bytes = self.app.digest().0.to_vec();
        self.recent.encode_digest_input(&mut bytes);
        bytes
    }

    /// The bytes a [`StateReply`] carries.
    pub fn encode(&self) -> Vec<u8> {
        let wire = Wire { app: self.app.encode(), recent: self.recent.clone() };
        postcard::to_allocvec(&wire).expect("encoding to a Vec cannot fail")
    }

    /// Decoded, with the application snapshot's digest recomputed from its chunks.
    pub fn decode(bytes: &[u8]) -> Option<PbftSnapshot> {
        let wire: Wire = postcard::from_bytes(bytes).ok()?;
        let app = Snapshot::decode(&wire.app).ok()?;
        Some(PbftSnapshot { app, recent: wire.recent })
    }
}

impl Pbft {
    /// The application's snapshot at `seq` arrived: sign and broadcast our checkpoint.
    pub(crate) fn take_checkpoint(&mut self, seq: u64, app: Snapshot, out: &mut Out) {
        let Some(recent) = self.snapshot_dedup.remove(&seq) else { return };
        if seq <= self.stable.seq {
            return;
        }
        let snapshot = PbftSnapshot { app, recent };
        let state = snapshot.digest();
        self.own_snapshots.insert(seq, (state, snapshot));
        let cp = Checkpoint::new(seq, state, self.me, &self.key);
        self.checkpoints.entry(seq).or_default().insert(self.me, cp.clone());
        out.broadcast(Message::Checkpoint(cp));
        self.check_stable(seq, out);
    }

    pub(crate) fn on_checkpoint(&mut self, from: ReplicaIndex, cp: Checkpoint, out: &mut Out) {
        if cp.replica != from {
            self.invalid(Invalid::WrongSender { from, what: "checkpoint" });
            return;
        }
        if cp.seq <= self.stable.seq || cp.seq > self.stable.seq + 2 * self.cfg.window {
            self.ignore();
            return;
        }
        let key = *self.committee.key(from).expect("sender checked against the committee");
        if !key.verify(domain::CHECKPOINT, &cp.signed_bytes(), &cp.signature) {
            self.invalid(Invalid::Signature("checkpoint"));
            return;
        }
        self.highest_seen = self.highest_seen.max(cp.seq);
        let seq = cp.seq;
        self.checkpoints.entry(seq).or_default().insert(from, cp);
        self.check_stable(seq, out);
    }

    /// A quorum of matching checkpoints makes `seq` stable, if this replica holds the
    /// snapshot; otherwise it is behind and catch-up fetches the snapshot.
    fn check_stable(&mut self, seq: u64, out: &mut Out) {
        let quorum = self.quorum();
        let Some(own) = self.own_snapshots.get(&seq) else { return };
        let own_state = own.0;
        let Some(msgs) = self.checkpoints.get(&seq) else { return };
        let proof: Vec<Checkpoint> =
            msgs.values().filter(|c| c.state == own_state).take(quorum).cloned().collect();
        if proof.len() < quorum {
            return;
        }
        // Moved, not copied (it can be many MB): `make_stable` drops it from the map anyway.
        let snapshot = self.own_snapshots.remove(&seq).map(|s| s.1);
        self.make_stable(Stable { seq, state: own_state, proof, snapshot });
        self.try_propose(out);
    }

    /// Move the low-water mark to `stable` and discard everything below it.
    pub(crate) fn make_stable(&mut self, stable: Stable) {
        let seq = stable.seq;
        self.stable = stable;
        self.prune_durable(seq);
        self.slots.retain(|s, _| *s > seq);
        self.checkpoints.retain(|s, _| *s > seq);
        self.own_snapshots.retain(|s, _| *s > seq);
        self.snapshot_dedup.retain(|s, _| *s > seq);
        self.decided_votes.retain(|s, _| *s > seq);
    }

    pub(crate) fn send_status(&mut self, out: &mut Out) {
        let view = if self.in_view_change { self.view.saturating_sub(1) } else { self.view };
        out.broadcast(Message::Status(Status { view, last_executed: self.last_executed }));
    }

    /// A peer says how far it is: send what it misses. A peer that is behind says so at
    /// every tick, and what it misses can be many MB (batches, a snapshot): what it was
    /// sent in the last `request_timeout_ticks` ticks is not sent again (see
    /// [`Served`](crate::replica::Served)).
    pub(crate) fn on_status(&mut self, from: ReplicaIndex, st: Status, out: &mut Out) {
        if self.last_new_view.as_ref().is_some_and(|nv| nv.view > st.view) && !self.in_view_change {
            self.send_new_view(from, out);
        }
        let fresh = self.unserved(from);
        let mut served = 0;
        if st.view == self.view && !self.in_view_change {
            served = self.retransmit(from, st.last_executed.max(fresh - 1), out);
        }
        if st.last_executed >= self.last_executed {
            if st.last_executed > self.last_executed {
                self.highest_seen = self.highest_seen.max(st.last_executed);
            }
            self.record_served(from, served);
            return;
        }
        if st.last_executed < self.stable.seq && fresh <= self.stable.seq {
            let Some(snapshot) = self.stable.snapshot.as_ref().map(PbftSnapshot::encode) else {
                self.record_served(from, served);
                return;
            };
            out.send(
                from,
                Message::StateReply(StateReply {
                    seq: self.stable.seq,
                    proof: self.stable.proof.clone(),
                    snapshot,
                }),
            );
            served = served.max(self.stable.seq);
        }
        let start = st.last_executed.max(self.stable.seq).max(fresh - 1) + 1;
        let end = self.last_executed.min(start + self.cfg.catch_up_batches as u64 - 1);
        for seq in start..=end {
            if let Some(batch) = self.executed_batch(seq) {
                out.send(from, Message::Decided(Decided { seq, batch: batch.clone() }));
                served = served.max(seq);
            }
        }
        self.record_served(from, served);
    }

    /// The first sequence number not sent to `to` in answer to a status in this view in
    /// the last `request_timeout_ticks` ticks.
    fn unserved(&self, to: ReplicaIndex) -> u64 {
        match self.served.get(&to) {
            Some(s)
                if s.view == self.view && self.tick < s.tick + self.cfg.request_timeout_ticks =>
            {
                s.up_to + 1
            }
            _ => 1,
        }
    }

    /// Sequence numbers up to `up_to` were just sent to `to` in answer to its status.
    fn record_served(&mut self, to: ReplicaIndex, up_to: u64) {
        if up_to == 0 {
            return;
        }
        let (view, tick, t) = (self.view, self.tick, self.cfg.request_timeout_ticks);
        let s = self.served.entry(to).or_insert(Served { view, up_to, tick });
        if s.view != view || tick >= s.tick + t {
            *s = Served { view, up_to, tick };
        } else {
            s.up_to = s.up_to.max(up_to);
        }
    }

    /// Re-send this replica's own normal-case messages of the current view for the
    /// sequence numbers a peer has not executed. A lost pre-prepare, prepare or commit
    /// would otherwise stall a sequence number until a view change whenever only a bare
    /// quorum of replicas is up (PBFT's retransmission, section 5.2 of the TOCS paper).
    /// Returns the highest sequence number re-sent (0 for none).
    fn retransmit(&mut self, to: ReplicaIndex, executed: u64, out: &mut Out) -> u64 {
        let from = executed.max(self.stable.seq) + 1;
        let is_primary = self.is_primary();
        let mut last = 0;
        for (seq, slot) in self.slots.range(from..) {
            let Some(pp) = &slot.pre_prepare else { continue };
            if is_primary {
                out.send(to, Message::PrePrepare(pp.clone()));
                last = *seq;
            } else if let Some(p) = slot.prepares.get(&self.me) {
                out.send(to, Message::Prepare(p.clone()));
                last = *seq;
            }
            if slot.sent_commit {
                let commit = Commit { view: self.view, seq: *seq, digest: pp.digest };
                out.send(to, Message::Commit(commit));
                last = *seq;
            }
        }
        last
    }

    /// A peer vouches for a decided batch; `f + 1` matching vouchers decide it here.
    pub(crate) fn on_decided(&mut self, from: ReplicaIndex, d: Decided, out: &mut Out) {
        if d.seq <= self.last_executed || d.seq > self.last_executed + 2 * self.cfg.window {
            self.ignore();
            return;
        }
        if let Err(e) = self.cfg.batch_limits().check(&d.batch) {
            self.invalid(e.into());
            return;
        }
        self.highest_seen = self.highest_seen.max(d.seq);
        let digest = batch_digest(&d.batch);
        let votes = self.decided_votes.entry(d.seq).or_default();
        if votes.values().any(|(senders, _)| senders.contains(&from)) {
            return;
        }
        let entry = votes.entry(digest).or_insert_with(|| (Vec::new(), d.batch));
        entry.0.push(from);
        if entry.0.len() >= self.committee.weak_quorum() {
            let batch = entry.1.clone();
            let slot = self.slots.entry(d.seq).or_default();
            if slot.decided.is_none() {
                slot.decided = Some(batch);
            }
            self.try_execute(out);
        }
    }

    /// A peer's stable checkpoint with its snapshot: install it if it is ahead of us.
    pub(crate) fn on_state_reply(&mut self, _from: ReplicaIndex, r: StateReply, out: &mut Out) {
        // Only forward: never behind what this replica executed, nor below a stable
        // checkpoint it already knows of (say, from a new-view message).
        if r.seq <= self.last_executed || r.seq < self.stable.seq {
            self.ignore();
            return;
        }
        let Some(snap) = PbftSnapshot::decode(&r.snapshot) else {
            self.invalid(Invalid::Proof("snapshot does not decode"));
            return;
        };
        let state = snap.digest();
        if let Err(e) = verify_checkpoint_proof(&self.committee, r.seq, state, &r.proof) {
            self.invalid(e);
            return;
        }
        self.recent.install(&snap.recent, r.seq);
        let delivered: Vec<Digest> = self.recent.digests().copied().collect();
        for d in &delivered {
            self.remove_pending(d);
        }
        self.last_executed = r.seq;
        self.next_seq = self.next_seq.max(r.seq + 1);
        self.stats.snapshots_installed += 1;
        out.push(Action::InstallSnapshot { sequence: r.seq, snapshot: snap.app.clone() });
        self.make_stable(Stable { seq: r.seq, state, proof: r.proof, snapshot: Some(snap) });
        self.try_execute(out);
        self.try_propose(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_of_the_postcard_encoding() {
        // The window's own encoding is checked in `chainspace_core::dedup`.
        let recent =
            DedupState::from_lists(&[(5, vec![Digest([1; 32]), Digest([2; 32])]), (300, vec![])]);
        let snap = PbftSnapshot { app: Snapshot::single(b"state".to_vec()), recent };
        let window: Vec<(u64, Digest)> =
            snap.recent.entries().iter().map(|e| (e.seq, e.hash)).collect();
        let expected = postcard::to_allocvec(&(snap.app.digest(), window)).unwrap();
        assert_eq!(snap.digest_input(), expected);
        assert_eq!(snap.digest(), sha256(&expected));
    }
}
