//! View changes (Castro and Liskov, section 4.4): replacing a primary that is crashed,
//! slow or faulty without losing or reordering any decided batch.
//!
//! A replica whose requests wait too long moves to view `v + 1` and broadcasts a signed
//! [`ViewChange`] with its stable checkpoint and its prepared certificates. A replica
//! joins a view change once `f + 1` replicas asked for later views (so one faulty
//! replica cannot force changes), and starts its view-change timer only once a quorum
//! asked for its view (so a lone replica cannot escalate through views). The new primary
//! collects a quorum of view changes and derives, for each sequence number between the
//! highest stable checkpoint and the highest certificate, the batch with the
//! highest-view certificate or a null batch; every backup recomputes that choice from
//! the same view changes before it accepts the [`NewView`].

use std::collections::BTreeMap;
use std::time::Duration;

use chainspace_core::crypto::Digest;
use chainspace_core::types::{Command, ReplicaIndex};

use crate::error::Invalid;
use crate::message::{
    Checkpoint, Message, NewView, PrePrepare, PreparedProof, ViewChange, primary,
};
use crate::replica::{Out, Pbft, Slot, Stable, Timer};

/// What a quorum of view changes determines: the stable checkpoint to start from and
/// the batch for each sequence number above it.
struct Derived {
    stable_seq: u64,
    stable_state: Digest,
    stable_proof: Vec<Checkpoint>,
    batches: Vec<(u64, Vec<Command>)>,
}

fn derive(vcs: &[ViewChange]) -> Derived {
    let best = vcs.iter().max_by_key(|v| v.stable_seq).expect("a quorum is never empty");
    let min_s = best.stable_seq;
    let mut certs: BTreeMap<u64, &PreparedProof> = BTreeMap::new();
    for vc in vcs {
        for p in &vc.prepared {
            let seq = p.pre_prepare.seq;
            if seq <= min_s {
                continue;
            }
            let better = certs.get(&seq).is_none_or(|c| c.pre_prepare.view < p.pre_prepare.view);
            if better {
                certs.insert(seq, p);
            }
        }
    }
    let max_s = certs.keys().next_back().copied().unwrap_or(min_s);
    let batches = (min_s + 1..=max_s)
        .map(|s| (s, certs.get(&s).map(|c| c.pre_prepare.batch.clone()).unwrap_or_default()))
        .collect();
    Derived {
        stable_seq: min_s,
        stable_state: best.stable_state,
        stable_proof: best.checkpoint_proof.clone(),
        batches,
    }
}

impl Pbft {
    /// Leave the current view for `target`.
    pub(crate) fn start_view_change(&mut self, target: u64, out: &mut Out) {
        if target <= self.view && (self.in_view_change || target < self.view) {
            return;
        }
        if target == self.view && !self.in_view_change {
            return;
        }
        self.view = target;
        self.in_view_change = true;
        self.vc_ticks = 0;
        self.record_view();
        if self.batch_timer_set {
            self.batch_timer_set = false;
            out.cancel_timer(Timer::Batch);
        }
        let prepared: Vec<PreparedProof> = self
            .slots
            .range(self.stable.seq + 1..)
            .filter_map(|(_, s)| s.prepared.clone())
            .collect();
        let stable = (self.stable.seq, self.stable.state, self.stable.proof.clone());
        let vc = ViewChange::new(target, stable, prepared, self.me, &self.key);
        out.broadcast(Message::ViewChange(vc.clone()));
        self.record_view_change(vc);
        self.view_changes.retain(|v, _| *v >= target);
        self.after_view_change_message(out);
    }

    pub(crate) fn on_view_change(&mut self, from: ReplicaIndex, vc: ViewChange, out: &mut Out) {
        if vc.replica != from {
            self.invalid(Invalid::WrongSender { from, what: "view-change" });
            return;
        }
        if vc.new_view < self.view || (vc.new_view == self.view && !self.in_view_change) {
            // The sender is still changing to a view this replica already entered (or
            // passed): the new-view message lets it catch up.
            if !self.in_view_change {
                self.send_new_view(from, out);
            }
            self.ignore();
            return;
        }
        if self.latest_vc.get(&from).is_some_and(|v| *v >= vc.new_view) {
            self.ignore();
            return;
        }
        if let Err(e) = vc.verify(&self.committee, self.cfg.batch_limits(), self.cfg.window) {
            self.invalid(e);
            return;
        }
        self.record_view_change(vc);
        // Join: f + 1 replicas want views above ours, so at least one correct one does.
        let above: Vec<u64> = self
            .latest_vc
            .iter()
            .filter(|(r, v)| **r != self.me && **v > self.view)
            .map(|(_, v)| *v)
            .collect();
        if above.len() >= self.committee.weak_quorum() {
            let smallest = *above.iter().min().expect("not empty");
            self.start_view_change(smallest, out);
        } else {
            self.after_view_change_message(out);
        }
    }

    /// Send the new-view message of the current view to `to`, a replica left in an
    /// earlier view, unless it was sent to it less than `request_timeout_ticks` ticks ago.
    pub(crate) fn send_new_view(&mut self, to: ReplicaIndex, out: &mut Out) {
        let Some(nv) = &self.last_new_view else { return };
        let recent = self.new_view_sent.get(&to).is_some_and(|(view, tick)| {
            *view == nv.view && self.tick < tick + self.cfg.request_timeout_ticks
        });
        if recent {
            return;
        }
        self.new_view_sent.insert(to, (nv.view, self.tick));
        out.send(to, Message::NewView(nv.clone()));
    }

    /// View-change messages can be lost like any other: while the view change lasts,
    /// re-send ours (PBFT retransmits them until the new view is installed). The caller
    /// backs off (see `Pbft::vc_ticks`).
    pub(crate) fn retransmit_view_change(&mut self, out: &mut Out) {
        if let Some(vc) = self.view_changes.get(&self.view).and_then(|m| m.get(&self.me)) {
            out.broadcast(Message::ViewChange(vc.clone()));
        }
    }

    /// Keep only each replica's latest view change: a replica that moved on to a later
    /// view no longer takes part in earlier ones, and a faulty replica cannot fill memory
    /// with view changes for ever higher views.
    fn record_view_change(&mut self, vc: ViewChange) {
        let (from, view) = (vc.replica, vc.new_view);
        if let Some(old) = self.latest_vc.insert(from, view)
            && let Some(m) = self.view_changes.get_mut(&old)
        {
            m.remove(&from);
        }
        self.view_changes.retain(|_, m| !m.is_empty());
        self.view_changes.entry(view).or_default().insert(from, vc);
    }

    /// With a quorum of view changes for our target: start the timer, and as the new
    /// primary, announce the new view.
    fn after_view_change_message(&mut self, out: &mut Out) {
        if !self.in_view_change {
            return;
        }
        let target = self.view;
        let count = self.view_changes.get(&target).map_or(0, |m| m.len());
        if count < self.quorum() {
            return;
        }
        if self.vc_timer_for != Some(target) {
            self.vc_timer_for = Some(target);
            out.set_timer(Timer::ViewChange(target), self.view_change_timeout());
        }
        if primary(target, self.n()) != self.me {
            return;
        }
        let vcs: Vec<ViewChange> =
            self.view_changes[&target].values().take(self.quorum()).cloned().collect();
        let derived = derive(&vcs);
        let pre_prepares = derived
            .batches
            .iter()
            .map(|(s, b)| PrePrepare::new(target, *s, b.clone(), &self.key))
            .collect();
        let nv = NewView { view: target, view_changes: vcs, pre_prepares };
        out.broadcast(Message::NewView(nv.clone()));
        self.install_new_view(nv, derived, out);
    }

    pub(crate) fn on_new_view(&mut self, _from: ReplicaIndex, nv: NewView, out: &mut Out) {
        // Accepted from anyone: a new-view message proves itself (signed view changes,
        // pre-prepares signed by the new primary), so peers may relay it to laggards.
        // A relay could pass on one derived from another quorum of view changes than
        // the primary used; that is still safe: any quorum carries every batch that may
        // have committed, and every pre-prepare must still bear the primary's signature,
        // so at worst the replica waits for pre-prepares that never come, and catches up
        // from its peers.
        if nv.view < self.view || (nv.view == self.view && !self.in_view_change) {
            self.ignore();
            return;
        }
        match self.verify_new_view(&nv) {
            Ok(derived) => self.install_new_view(nv, derived, out),
            Err(e) => self.invalid(e),
        }
    }

    fn verify_new_view(&self, nv: &NewView) -> Result<Derived, Invalid> {
        let mut senders: Vec<ReplicaIndex> = nv.view_changes.iter().map(|v| v.replica).collect();
        senders.sort_unstable();
        senders.dedup();
        if senders.len() != nv.view_changes.len() || senders.len() < self.quorum() {
            return Err(Invalid::NewView("needs a quorum of view changes from distinct replicas"));
        }
        for vc in &nv.view_changes {
            if vc.new_view != nv.view {
                return Err(Invalid::NewView("view change for another view"));
            }
            vc.verify(&self.committee, self.cfg.batch_limits(), self.cfg.window)?;
        }
        let derived = derive(&nv.view_changes);
        if derived.batches.len() != nv.pre_prepares.len() {
            return Err(Invalid::NewView("wrong number of pre-prepares"));
        }
        for ((seq, batch), pp) in derived.batches.iter().zip(&nv.pre_prepares) {
            if pp.view != nv.view || pp.seq != *seq || &pp.batch != batch {
                return Err(Invalid::NewView("pre-prepare differs from the derived one"));
            }
            pp.verify(&self.committee, self.cfg.batch_limits())?;
        }
        Ok(derived)
    }

    fn install_new_view(&mut self, nv: NewView, derived: Derived, out: &mut Out) {
        self.view = nv.view;
        self.in_view_change = false;
        self.record_view();
        self.failed_views = 0;
        self.stalled_views += 1;
        self.stats.view_changes += 1;
        out.cancel_timer(Timer::ViewChange(nv.view));
        if derived.stable_seq > self.stable.seq {
            let snapshot = self
                .own_snapshots
                .remove(&derived.stable_seq)
                .filter(|(d, _)| *d == derived.stable_state)
                .map(|(_, b)| b);
            self.highest_seen = self.highest_seen.max(derived.stable_seq);
            self.make_stable(Stable {
                seq: derived.stable_seq,
                state: derived.stable_state,
                proof: derived.stable_proof,
                snapshot,
            });
        }
        // The new view starts from scratch above the checkpoint; certificates and
        // decisions are kept.
        for slot in self.slots.values_mut() {
            *slot = Slot {
                prepared: slot.prepared.take(),
                decided: slot.decided.take(),
                ..Slot::default()
            };
        }
        for p in self.pending.values_mut() {
            p.in_flight = false;
        }
        let max_s = derived.batches.last().map_or(derived.stable_seq, |(s, _)| *s);
        for pp in nv.pre_prepares.iter().cloned() {
            self.accept_pre_prepare(pp, out);
        }
        self.next_seq = max_s.max(self.last_executed) + 1;
        self.view_changes.retain(|v, _| *v > nv.view);
        self.last_new_view = Some(nv);
        // Requests get a fresh timeout in the new view.
        for p in self.pending.values_mut() {
            p.since_tick = self.tick;
            p.forwarded = false;
        }
        self.queue.clear();
        if self.is_primary() {
            let waiting: Vec<(Digest, usize)> = self
                .live_pending()
                .filter(|p| !p.in_flight)
                .map(|p| (p.command.digest(), p.command.len()))
                .collect();
            for (d, size) in waiting {
                self.queue.push_back(d, size);
            }
        }
        let future = std::mem::take(&mut self.future);
        self.future_bytes = 0;
        for (from, msg) in future {
            self.on_message_again(from, msg, out);
        }
        self.try_execute(out);
        self.try_propose(out);
    }

    fn on_message_again(&mut self, from: ReplicaIndex, msg: Message, out: &mut Out) {
        match msg {
            Message::PrePrepare(m) => self.on_pre_prepare(from, m, out),
            Message::Prepare(m) => self.on_prepare(from, m, out),
            Message::Commit(m) => self.on_commit(from, m, out),
            _ => {}
        }
    }

    /// The view-change timeout for the next attempt (exposed for tests).
    pub fn view_change_timeout(&self) -> Duration {
        self.cfg.view_change_timeout * (1u32 << self.failed_views.min(6))
    }
}
