//! Block synchronisation, checkpoints, garbage collection and state transfer.
//!
//! A replica keeps a tree of blocks rooted at its last committed block. A block whose
//! parent is missing (a proposal built on a certificate for a block this replica never
//! received) waits while the parent is fetched by digest from the replica that showed
//! the certificate; replies carry ancestors too, and are trusted through the hash chain
//! from a verified certificate, so fetched blocks need no signature checks.
//!
//! Every `checkpoint_interval` committed blocks each replica signs the digest of its
//! snapshot (application state, dedup window, committed block); a quorum of matching
//! checkpoints makes it stable and the blocks below it are collected (Castro and Liskov,
//! OSDI 1999, section 4.3). A replica that asks for blocks below a peer's stable
//! checkpoint (one restarted from nothing, say) gets that snapshot and its quorum proof.

use chainspace_core::consensus::Action;
use chainspace_core::crypto::{Digest, DigestSet, sha256};
use chainspace_core::dedup::DedupState;
use chainspace_core::snapshot::Snapshot;
use chainspace_core::types::ReplicaIndex;
use chainspace_core::types::encode_varint;
use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::message::{
    Block, BlockRequest, Checkpoint, Message, StateReply, domain, encode, verify_checkpoint_proof,
};
use crate::replica::{HotStuff, MAX_WAITING, Out, Root, Stable, Timer};

/// What a checkpoint covers: the application's snapshot, the dedup window and the
/// committed block, since all three decide what later heights deliver. Its digest hashes
/// the application snapshot's digest, not its bytes, so a checkpoint costs what the
/// application changed (see [`chainspace_core::snapshot`]); the bytes are made only for a
/// peer that needs them.
#[derive(Clone, Debug)]
pub(crate) struct HotStuffSnapshot {
    pub app: Snapshot,
    pub recent: DedupState,
    pub block: Digest,
    pub round: u64,
}

/// How a [`HotStuffSnapshot`] travels in a [`StateReply`].
#[derive(Serialize, Deserialize)]
struct Wire {
    #[serde(with = "chainspace_core::types::serde_bytes_vec")]
    app: Vec<u8>,
    recent: DedupState,
    block: Digest,
    round: u64,
}

impl HotStuffSnapshot {
    /// The checkpoint's state digest.
    pub(crate) fn digest(&self) -> Digest {
        // The postcard encoding of `(app digest, window, block, round)`, written by hand,
        // where the window is its sequence numbers with their lists' hashes
        // ([`DedupState::encode_digest_input`]): each list was hashed once, when its
        // height was committed.
        let mut bytes = self.app.digest().0.to_vec();
        self.recent.encode_digest_input(&mut bytes);
        bytes.extend_from_slice(&self.block.0);
        encode_varint(&mut bytes, self.round);
        sha256(&bytes)
    }

    fn encode(&self) -> Vec<u8> {
        let wire = Wire {
            app: self.app.encode(),
            recent: self.recent.clone(),
            block: self.block,
            round: self.round,
        };
        encode(&wire)
    }

    /// Decoded, with the application snapshot's digest recomputed from its chunks.
    fn decode(bytes: &[u8]) -> Option<HotStuffSnapshot> {
        let wire: Wire = postcard::from_bytes(bytes).ok()?;
        let app = Snapshot::decode(&wire.app).ok()?;
        Some(HotStuffSnapshot { app, recent: wire.recent, block: wire.block, round: wire.round })
    }
}

/// Blocks asked for again per retry.
const FETCH_PER_RETRY: usize = 4;

impl HotStuff {
    /// Put a block whose parent is in the tree into it, with every orphan and waiting
    /// proposal that hangs below it; then see what can commit.
    pub(crate) fn insert_block(&mut self, digest: Digest, block: Block, out: &mut Out) {
        let mut work = vec![(digest, block)];
        let mut proposals = Vec::new();
        let mut justifies = Vec::new();
        while let Some((d, b)) = work.pop() {
            self.wanted.remove(&d);
            if self.blocks.contains_key(&d) || b.height <= self.root.height {
                continue;
            }
            justifies.push(b.justify.clone());
            self.blocks.insert(d, b);
            if let Some(children) = self.orphans.remove(&d) {
                work.extend(children.into_iter().map(|c| (c.digest(), c)));
            }
            if let Some(waiting) = self.waiting.remove(&d) {
                proposals.extend(waiting);
            }
        }
        justifies.sort_by_key(|q| q.height);
        for qc in justifies {
            self.update_chain(&qc, out);
        }
        let high = self.high_qc.clone();
        self.update_chain(&high, out);
        for (_, p) in proposals {
            let d = p.block.digest();
            self.on_connected_proposal(d, p.block, out);
        }
        self.maybe_propose(out);
    }

    /// Ask `from` for block `digest` at `height` (and its ancestors).
    pub(crate) fn want(&mut self, digest: Digest, height: u64, from: ReplicaIndex, out: &mut Out) {
        if self.known(&digest)
            || height <= self.root.height
            || self.wanted.contains_key(&digest)
            || self.wanted.len() >= MAX_WAITING
        {
            return;
        }
        self.wanted.insert(digest, (height, from));
        if from != self.me {
            let req = BlockRequest { digest, committed: self.root.height };
            out.send(from, Message::BlockRequest(req));
        }
        self.arm_fetch(out);
    }

    pub(crate) fn arm_fetch(&mut self, out: &mut Out) {
        if !self.fetch_timer_set {
            self.fetch_timer_set = true;
            out.set_timer(Timer::Fetch, self.cfg.fetch_retry);
        }
    }

    /// Blocks still missing: ask again, each time another peer.
    pub(crate) fn on_fetch_timer(&mut self, out: &mut Out) {
        self.fetch_timer_set = false;
        let root = self.root.height;
        let blocks = &self.blocks;
        self.wanted.retain(|d, (h, _)| *h > root && !blocks.contains_key(d));
        if self.wanted.is_empty() {
            return;
        }
        self.fetch_attempt = self.fetch_attempt.wrapping_add(1);
        let mut wanted: Vec<(u64, Digest, ReplicaIndex)> =
            self.wanted.iter().map(|(d, (h, f))| (*h, *d, *f)).collect();
        wanted.sort();
        let n = self.n() as u32;
        for (_, digest, hint) in wanted.into_iter().take(FETCH_PER_RETRY) {
            let mut to = (hint + self.fetch_attempt) % n;
            if to == self.me {
                to = (to + 1) % n;
            }
            let req = BlockRequest { digest, committed: self.root.height };
            out.send(to, Message::BlockRequest(req));
        }
        self.arm_fetch(out);
    }

    /// Serve a block and its ancestors above the requester's committed height; and the
    /// stable checkpoint if the requester is below it and the blocks do not reach down.
    pub(crate) fn on_block_request(&mut self, from: ReplicaIndex, r: BlockRequest, out: &mut Out) {
        let mut list = Vec::new();
        let mut cursor = r.digest;
        while list.len() < self.cfg.fetch_blocks {
            match self.blocks.get(&cursor) {
                Some(b) if b.height > r.committed => {
                    cursor = b.parent();
                    list.push(b.clone());
                }
                _ => break,
            }
        }
        let reached = list.last().is_some_and(|b| b.height == r.committed + 1);
        if !list.is_empty() {
            out.send(from, Message::Blocks(list));
        }
        if r.committed < self.stable.height
            && !reached
            && let Some(snapshot) = self.stable.snapshot.as_ref().map(HotStuffSnapshot::encode)
        {
            let reply = StateReply {
                height: self.stable.height,
                proof: self.stable.proof.clone(),
                snapshot,
            };
            out.send(from, Message::StateReply(reply));
        }
    }

    /// Blocks asked for arrived (newest first). Only blocks whose digest was asked for
    /// are taken: the digest comes from a verified certificate or a taken child.
    pub(crate) fn on_blocks(&mut self, from: ReplicaIndex, list: Vec<Block>, out: &mut Out) {
        if list.len() > self.cfg.fetch_blocks {
            self.invalid(Invalid::Proof("too many blocks in one reply"));
            return;
        }
        let digests: Vec<Digest> = list.iter().map(Block::digest).collect();
        let in_reply: DigestSet = digests.iter().copied().collect();
        for (b, d) in list.into_iter().zip(digests) {
            let Some(&(height, _)) = self.wanted.get(&d) else {
                self.ignore();
                continue;
            };
            if let Err(e) = b.check_shape(self.cfg.batch_limits()) {
                self.invalid(e);
                continue;
            }
            if b.height != height {
                self.invalid(Invalid::Proof("fetched block at the wrong height"));
                continue;
            }
            self.wanted.remove(&d);
            if b.height <= self.root.height {
                continue;
            }
            let parent = b.parent();
            if self.known(&parent) {
                self.insert_block(d, b, out);
            } else if b.height > self.root.height + 1 {
                let h = b.height - 1;
                let children = self.orphans.entry(parent).or_default();
                if children.len() < MAX_WAITING {
                    children.push(b);
                }
                if in_reply.contains(&parent) {
                    if !self.wanted.contains_key(&parent) && self.wanted.len() < MAX_WAITING {
                        self.wanted.insert(parent, (h, from));
                    }
                } else {
                    self.want(parent, h, from, out);
                }
            }
        }
    }

    /// The application's snapshot at `height` arrived: sign and broadcast a checkpoint.
    pub(crate) fn take_checkpoint(&mut self, height: u64, app: Snapshot, out: &mut Out) {
        let Some(meta) = self.snapshot_meta.remove(&height) else { return };
        if height <= self.stable.height {
            return;
        }
        let snap = HotStuffSnapshot {
            app,
            recent: meta.recent,
            block: meta.root.digest,
            round: meta.root.round,
        };
        let state = snap.digest();
        self.own_snapshots.insert(height, (state, snap));
        let cp = Checkpoint::new(height, state, self.me, &self.key);
        self.checkpoints.entry(height).or_default().insert(self.me, cp.clone());
        out.broadcast(Message::Checkpoint(cp));
        self.check_stable(height);
    }

    pub(crate) fn on_checkpoint(&mut self, from: ReplicaIndex, cp: Checkpoint, _out: &mut Out) {
        if cp.replica != from {
            self.invalid(Invalid::WrongSender { from, what: "checkpoint" });
            return;
        }
        let horizon = self.root.height + 16 * self.cfg.checkpoint_interval;
        if cp.height <= self.stable.height || cp.height > horizon {
            self.ignore();
            return;
        }
        let key = *self.committee.key(from).expect("sender checked against the committee");
        if !key.verify(domain::CHECKPOINT, &cp.signed_bytes(), &cp.signature) {
            self.invalid(Invalid::Signature("checkpoint"));
            return;
        }
        let height = cp.height;
        self.highest_seen.0 = self.highest_seen.0.max(height);
        self.checkpoints.entry(height).or_default().insert(from, cp);
        self.check_stable(height);
    }

    /// A quorum of checkpoints matching this replica's own makes `height` stable.
    fn check_stable(&mut self, height: u64) {
        let quorum = self.quorum();
        let Some((state, _)) = self.own_snapshots.get(&height) else { return };
        let state = *state;
        let Some(msgs) = self.checkpoints.get(&height) else { return };
        let proof: Vec<Checkpoint> =
            msgs.values().filter(|c| c.state == state).take(quorum).cloned().collect();
        if proof.len() < quorum {
            return;
        }
        // Moved, not copied (it can be many MB): `make_stable` drops it from the map anyway.
        let snapshot = self.own_snapshots.remove(&height).map(|(_, snap)| snap);
        self.make_stable(Stable { height, proof, snapshot });
    }

    /// Move the low-water mark to `stable` and collect everything below it.
    fn make_stable(&mut self, stable: Stable) {
        let h = stable.height;
        self.stable = stable;
        self.blocks.retain(|_, b| b.height >= h);
        self.committed.retain(|k, _| *k >= h);
        self.checkpoints.retain(|k, _| *k > h);
        self.own_snapshots.retain(|k, _| *k > h);
        self.snapshot_meta.retain(|k, _| *k > h);
        self.verified_qcs.retain(|_, (_, height)| *height >= h);
    }

    /// A peer's stable checkpoint and snapshot: install it if it is ahead of this replica.
    pub(crate) fn on_state_reply(&mut self, _from: ReplicaIndex, r: StateReply, out: &mut Out) {
        if r.height <= self.root.height {
            self.ignore();
            return;
        }
        let Some(snap) = HotStuffSnapshot::decode(&r.snapshot) else {
            return self.invalid(Invalid::Proof("snapshot does not decode"));
        };
        let state = snap.digest();
        if let Err(e) = verify_checkpoint_proof(&self.committee, r.height, state, &r.proof) {
            return self.invalid(e);
        }
        let height = r.height;
        self.recent.install(&snap.recent, height);
        let delivered: Vec<Digest> = self.recent.digests().copied().collect();
        for d in &delivered {
            self.remove_pending(d);
        }
        self.root = Root { digest: snap.block, height, round: snap.round };
        self.committed.clear();
        self.committed.insert(height, snap.block);
        self.stats.snapshots_installed += 1;
        out.push(Action::InstallSnapshot { sequence: height, snapshot: snap.app.clone() });
        let block = snap.block;
        self.make_stable(Stable { height, proof: r.proof, snapshot: Some(snap) });
        // Re-root the tree: keep what descends from the new root, wait for the rest.
        let mut old: Vec<(Digest, Block)> =
            self.blocks.drain().filter(|(_, b)| b.height > height).collect();
        old.sort_by_key(|(_, b)| b.height);
        for (d, b) in old {
            if self.known(&b.parent()) {
                self.insert_block(d, b, out);
            } else {
                self.orphans.entry(b.parent()).or_default().push(b);
            }
        }
        self.wanted.retain(|_, (h, _)| *h > height);
        for children in self.orphans.values_mut() {
            children.retain(|b| b.height > height + 1 || b.parent() == block);
        }
        self.orphans.retain(|_, c| !c.is_empty());
        self.waiting.retain(|_, w| {
            w.retain(|(_, p)| p.block.height > height);
            !w.is_empty()
        });
        if let Some(children) = self.orphans.remove(&block) {
            for c in children {
                let d = c.digest();
                self.insert_block(d, c, out);
            }
        }
        if let Some(waiting) = self.waiting.remove(&block) {
            for (_, p) in waiting {
                let d = p.block.digest();
                self.on_connected_proposal(d, p.block, out);
            }
        }
        let high = self.high_qc.clone();
        self.update_chain(&high, out);
        self.maybe_propose(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_of_the_postcard_encoding() {
        let snap = HotStuffSnapshot {
            app: Snapshot::single(b"state".to_vec()),
            recent: DedupState::from_lists(&[
                (5, vec![Digest([1; 32]), Digest([2; 32])]),
                (300, vec![]),
            ]),
            block: Digest([7; 32]),
            round: 1_000,
        };
        let window: Vec<(u64, Digest)> =
            snap.recent.entries().iter().map(|e| (e.seq, e.hash)).collect();
        let parts = (snap.app.digest(), window, snap.block, snap.round);
        assert_eq!(snap.digest(), sha256(&encode(&parts)));
    }
}
