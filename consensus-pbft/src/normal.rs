//! The normal case (Castro and Liskov, section 4.2): pre-prepare, prepare, commit,
//! execution in sequence order, with batching and pipelining as in BFT-SMaRt.

use chainspace_core::consensus::Action;
use chainspace_core::crypto::Digest;
use chainspace_core::types::{Command, ReplicaIndex};

use crate::error::Invalid;
use crate::message::{
    Commit, DigestPrePrepare, FetchPrePrepare, Message, PrePrepare, Prepare, PreparedProof, primary,
};
use crate::replica::{MAX_FUTURE, MAX_FUTURE_BATCHES, Out, Pbft, Timer};

impl Pbft {
    /// The primary proposes batches while the pipeline and the window allow: at once when
    /// nothing is in flight or a batch is full (`max_batch` commands, or `max_batch_bytes`
    /// bytes of them), otherwise when the batch timer fires.
    pub(crate) fn try_propose(&mut self, out: &mut Out) {
        if !self.is_primary() || self.in_view_change {
            return;
        }
        self.next_seq = self.unused_seq(self.view, self.next_seq.max(self.last_executed + 1));
        loop {
            let in_flight = self.next_seq - 1 - self.last_executed;
            if in_flight >= self.cfg.max_in_flight
                || self.next_seq > self.stable.seq + self.cfg.window
                || self.queue.is_empty()
            {
                break;
            }
            let full = self.queue.len() >= self.cfg.max_batch
                || self.queue.bytes() >= self.cfg.max_batch_bytes;
            if !full && in_flight > 0 && !self.batch_timer_fired {
                if !self.batch_timer_set {
                    self.batch_timer_set = true;
                    out.set_timer(Timer::Batch, self.cfg.batch_timeout);
                }
                break;
            }
            let mut batch = Vec::new();
            let mut bytes = 0;
            while batch.len() < self.cfg.max_batch {
                let Some((d, size)) = self.queue.front() else { break };
                let live = self.pending.get(&d).is_some_and(|p| !p.in_flight);
                // A command that would take the batch past its byte cap waits for the next
                // one; a command larger than the cap goes alone.
                if live && !batch.is_empty() && bytes + size > self.cfg.max_batch_bytes {
                    break;
                }
                self.queue.pop_front();
                if live && let Some(p) = self.pending.get_mut(&d) {
                    batch.push(p.command.clone());
                    bytes += size;
                    p.in_flight = true;
                }
            }
            if batch.is_empty() {
                break;
            }
            self.batch_timer_fired = false;
            let pp = PrePrepare::new(self.view, self.next_seq, batch, &self.key);
            // `next_seq` is unused in this view (`unused_seq`), so this only records it.
            let recorded = self.may_send(pp.view, pp.seq, pp.digest);
            debug_assert!(recorded, "a sequence number is pre-prepared once per view");
            self.next_seq = self.unused_seq(self.view, self.next_seq + 1);
            out.broadcast(if self.cfg.request_digests {
                Message::PrePrepareDigests(pp.by_digest())
            } else {
                Message::PrePrepare(pp.clone())
            });
            let seq = pp.seq;
            self.slots.entry(seq).or_default().pre_prepare = Some(pp);
        }
        if self.batch_timer_set && self.queue.is_empty() {
            self.batch_timer_set = false;
            out.cancel_timer(Timer::Batch);
        }
    }

    /// Keep a message of a view not entered yet, to process once it is.
    pub(crate) fn buffer_future(&mut self, from: ReplicaIndex, msg: Message) {
        let bytes = match &msg {
            Message::PrePrepare(pp) => pp.batch.iter().map(Command::len).sum(),
            _ => 0,
        };
        let max_bytes = MAX_FUTURE_BATCHES * self.cfg.max_batch_bytes;
        if self.future.len() < MAX_FUTURE && self.future_bytes + bytes <= max_bytes {
            self.future_bytes += bytes;
            self.future.push((from, msg));
        } else {
            self.ignore();
        }
    }

    /// Whether a normal-case message of `view` is for later (true), stale (false, counted),
    /// or current (`None`).
    fn later_or_stale(&mut self, from: ReplicaIndex, view: u64, msg: &Message) -> Option<bool> {
        if view > self.view || (view == self.view && self.in_view_change) {
            self.buffer_future(from, msg.clone());
            return Some(true);
        }
        if view < self.view {
            self.ignore();
            return Some(false);
        }
        None
    }

    fn in_window(&mut self, seq: u64) -> bool {
        if seq > self.last_executed {
            self.highest_seen = self.highest_seen.max(seq);
        }
        if seq <= self.stable.seq || seq > self.stable.seq + self.cfg.window {
            self.ignore();
            return false;
        }
        true
    }

    pub(crate) fn on_pre_prepare(&mut self, from: ReplicaIndex, pp: PrePrepare, out: &mut Out) {
        if self.later_or_stale(from, pp.view, &Message::PrePrepare(pp.clone())).is_some() {
            return;
        }
        if from != primary(self.view, self.n()) {
            self.invalid(Invalid::WrongSender { from, what: "pre-prepare" });
            return;
        }
        if !self.in_window(pp.seq) {
            return;
        }
        if let Err(e) = pp.verify(&self.committee, self.cfg.batch_limits()) {
            self.invalid(e);
            return;
        }
        self.accept_pre_prepare(pp, out);
    }

    /// A pre-prepare naming its requests by digest: rebuilt from the requests this replica
    /// holds and handled as the full one, or, when any is missing, asked of the primary
    /// in full. A backup never prepares a batch it does not hold.
    pub(crate) fn on_pre_prepare_digests(
        &mut self,
        from: ReplicaIndex,
        m: DigestPrePrepare,
        out: &mut Out,
    ) {
        if from != primary(m.view, self.n()) {
            self.invalid(Invalid::WrongSender { from, what: "pre-prepare" });
            return;
        }
        if let Err(e) = m.check(self.cfg.batch_limits()) {
            self.invalid(e);
            return;
        }
        let mut batch = Vec::with_capacity(m.requests.len());
        for d in &m.requests {
            match self.pending.get(d) {
                Some(p) => batch.push(p.command.clone()),
                None => break,
            }
        }
        if batch.len() == m.requests.len() {
            self.on_pre_prepare(from, m.with_batch(batch), out);
            return;
        }
        // Ask only for what would be accepted: not for a past view, a sequence number out
        // of the window (`in_window` counts it), or one already pre-prepared here in this
        // view.
        if m.view < self.view {
            self.ignore();
            return;
        }
        if !self.in_window(m.seq) {
            return;
        }
        if let Some(pp) = self.slots.get(&m.seq).and_then(|s| s.pre_prepare.as_ref())
            && pp.view == m.view
        {
            // The transport authenticated the primary as the sender, so a second batch
            // for a slot it already filled in this view is its equivocation, whatever
            // form it takes; the one held stands.
            if pp.digest != m.digest {
                let (view, seq) = (m.view, m.seq);
                self.invalid(Invalid::Equivocation { view, seq });
            } else {
                self.ignore();
            }
            return;
        }
        self.stats.proposals_fetched += 1;
        out.send(from, Message::FetchPrePrepare(FetchPrePrepare { view: m.view, seq: m.seq }));
    }

    /// A backup asks for the full pre-prepare `(view, seq)`: the primary of that view
    /// sends it if it still holds it (a backup that is not answered catches up as any
    /// replica left behind does).
    pub(crate) fn on_fetch_pre_prepare(
        &mut self,
        from: ReplicaIndex,
        f: FetchPrePrepare,
        out: &mut Out,
    ) {
        let pp = self.slots.get(&f.seq).and_then(|s| s.pre_prepare.as_ref());
        match pp {
            Some(pp) if pp.view == f.view && primary(pp.view, self.n()) == self.me => {
                out.send(from, Message::PrePrepare(pp.clone()));
            }
            _ => self.ignore(),
        }
    }

    /// Accept a verified pre-prepare of the current view (from the primary, or from a
    /// new-view message) and send this replica's prepare.
    pub(crate) fn accept_pre_prepare(&mut self, pp: PrePrepare, out: &mut Out) {
        let is_primary = self.me == primary(pp.view, self.n());
        let slot = self.slots.entry(pp.seq).or_default();
        if let Some(existing) = &slot.pre_prepare {
            if existing.digest != pp.digest {
                let (view, seq) = (pp.view, pp.seq);
                self.invalid(Invalid::Equivocation { view, seq });
            }
            return;
        }
        let (view, seq, digest) = (pp.view, pp.seq, pp.digest);
        for c in &pp.batch {
            if let Some(p) = self.pending.get_mut(&c.digest()) {
                p.in_flight = true;
            }
        }
        slot.pre_prepare = Some(pp);
        if !is_primary && self.may_send(view, seq, digest) {
            let prepare = Prepare::new(view, seq, digest, self.me, &self.key);
            let slot = self.slots.entry(seq).or_default();
            slot.prepares.insert(self.me, prepare.clone());
            out.broadcast(Message::Prepare(prepare));
        }
        self.check_prepared(seq, out);
    }

    pub(crate) fn on_prepare(&mut self, from: ReplicaIndex, p: Prepare, out: &mut Out) {
        if self.later_or_stale(from, p.view, &Message::Prepare(p.clone())).is_some() {
            return;
        }
        if p.replica != from || from == primary(self.view, self.n()) {
            self.invalid(Invalid::WrongSender { from, what: "prepare" });
            return;
        }
        if !self.in_window(p.seq) {
            return;
        }
        if self.slots.get(&p.seq).is_some_and(|s| s.prepares.contains_key(&from)) {
            self.ignore();
            return;
        }
        // The signature is checked when the prepare would complete a certificate, not
        // here: the sender is authenticated by the channel (QUIC), so the signature only
        // matters for the certificate's use in a view change, and the prepares that arrive
        // after a certificate is complete (one in three with four replicas) are never used.
        let seq = p.seq;
        let slot = self.slots.entry(seq).or_default();
        slot.prepares.insert(from, p);
        slot.unverified.insert(from);
        self.check_prepared(seq, out);
    }

    /// Check the signatures of the matching prepares at `seq` that a certificate needs,
    /// in sender order, until `needed` are known good; a bad one is dropped and counted
    /// as invalid, as it would have been on receipt. Returns whether `needed` are good.
    fn verify_prepares(&mut self, seq: u64, digest: Digest, needed: usize) -> bool {
        let Some(slot) = self.slots.get(&seq) else { return false };
        let (mut good, mut checked, mut bad) = (0, Vec::new(), Vec::new());
        for (from, p) in slot.prepares.iter().filter(|(_, p)| p.digest == digest) {
            if good == needed {
                break;
            }
            if !slot.unverified.contains(from) {
                good += 1;
            } else if self.committee.key(*from).is_some_and(|k| {
                k.verify(crate::message::domain::PREPARE, &p.signed_bytes(), &p.signature)
            }) {
                good += 1;
                checked.push(*from);
            } else {
                bad.push(*from);
            }
        }
        let slot = self.slots.get_mut(&seq).expect("looked up above");
        for from in &checked {
            slot.unverified.remove(from);
        }
        for from in &bad {
            slot.prepares.remove(from);
            slot.unverified.remove(from);
        }
        for _ in &bad {
            self.invalid(Invalid::Signature("prepare"));
        }
        good == needed
    }

    /// Prepared: the pre-prepare and `quorum - 1` matching prepares. Then commit.
    fn check_prepared(&mut self, seq: u64, out: &mut Out) {
        let quorum = self.quorum();
        let Some(slot) = self.slots.get_mut(&seq) else { return };
        if slot.sent_commit {
            return;
        }
        let Some(pp) = &slot.pre_prepare else { return };
        let digest = pp.digest;
        if slot.prepares.values().filter(|p| p.digest == digest).count() + 1 < quorum
            || !self.verify_prepares(seq, digest, quorum - 1)
        {
            return;
        }
        let slot = self.slots.get_mut(&seq).expect("checked above");
        let Some(pp) = &slot.pre_prepare else { return };
        let matching: Vec<Prepare> = slot
            .prepares
            .iter()
            .filter(|(from, p)| p.digest == digest && !slot.unverified.contains(from))
            .map(|(_, p)| p.clone())
            .collect();
        let commit = Commit { view: pp.view, seq, digest: pp.digest };
        slot.prepared = Some(PreparedProof {
            pre_prepare: pp.clone(),
            prepares: matching.into_iter().take(quorum - 1).collect(),
        });
        slot.sent_commit = true;
        slot.commits.insert(self.me, commit.digest);
        out.broadcast(Message::Commit(commit));
        self.check_committed(seq, out);
    }

    pub(crate) fn on_commit(&mut self, from: ReplicaIndex, c: Commit, out: &mut Out) {
        if self.later_or_stale(from, c.view, &Message::Commit(c)).is_some() {
            return;
        }
        if !self.in_window(c.seq) {
            return;
        }
        self.slots.entry(c.seq).or_default().commits.insert(from, c.digest);
        self.check_committed(c.seq, out);
    }

    /// Committed-local: prepared, and a quorum of matching commits. Then execute in order.
    fn check_committed(&mut self, seq: u64, out: &mut Out) {
        let quorum = self.quorum();
        let Some(slot) = self.slots.get_mut(&seq) else { return };
        if slot.decided.is_some() || !slot.sent_commit {
            return;
        }
        let Some(pp) = &slot.pre_prepare else { return };
        let votes = slot.commits.values().filter(|d| **d == pp.digest).count();
        if votes >= quorum {
            slot.decided = Some(pp.batch.clone());
            self.try_execute(out);
        }
    }

    /// Execute decided batches in sequence order.
    pub(crate) fn try_execute(&mut self, out: &mut Out) {
        let mut progressed = false;
        loop {
            let seq = self.last_executed + 1;
            let Some(batch) = self.slots.get(&seq).and_then(|s| s.decided.clone()) else {
                break;
            };
            self.execute(seq, batch, out);
            progressed = true;
        }
        if progressed {
            self.stalled_views = 0;
            self.decided_votes.retain(|s, _| *s > self.last_executed);
            self.try_propose(out);
        }
    }

    fn execute(&mut self, seq: u64, batch: Vec<Command>, out: &mut Out) {
        let mut delivered = Vec::with_capacity(batch.len());
        for c in batch {
            let d = c.digest();
            self.remove_pending(&d);
            if self.recent.insert(seq, d) {
                delivered.push(c);
            }
        }
        self.recent.seal(seq);
        self.last_executed = seq;
        out.deliver(seq, delivered);
        if seq.is_multiple_of(self.cfg.checkpoint_interval) {
            self.snapshot_dedup.insert(seq, self.recent.state());
            out.push(Action::TakeSnapshot { sequence: seq });
        }
    }

    /// The batch executed at `seq`, while the log still holds it: serves catch-up.
    pub(crate) fn executed_batch(&self, seq: u64) -> Option<&Vec<Command>> {
        (seq <= self.last_executed).then(|| self.slots.get(&seq)?.decided.as_ref()).flatten()
    }
}
