//! The pacemaker: rounds, timeouts and timeout certificates (the liveness mechanism of
//! Yin et al., section 4.4, made concrete as in LibraBFT / DiemBFT), and the status and
//! sync messages that bring a replica that is behind back to the current round.
//!
//! A replica enters round `r + 1` on a certificate for round `r` (a quorum certificate or
//! a timeout certificate). A replica with work (pending commands, or uncommitted ones in
//! its chain) that sees no certificate before its round timer fires broadcasts a signed
//! [`Timeout`] carrying its highest certificate; a quorum of them forms a
//! [`TimeoutCert`]. `f + 1` timeouts for a round make a replica join it (one of them is
//! correct), so replicas at different rounds converge. The timeout doubles with every
//! round in a row that ended in a timeout certificate, so after GST rounds last long
//! enough for a correct leader, and a silent leader costs one timeout.
//!
//! A replica whose commands wait when its timer fires also forwards them to the round's
//! leader, so a command submitted to one replica only is still ordered.
//!
//! A replica with no work lets its timer tick at the base period and uses it to
//! broadcast a [`Status`] when its progress changed or a peer showed it is behind, and
//! every `status_interval_ticks` firings in any case (a heartbeat: a replica healed from
//! a partition into an idle shard hears nothing otherwise); peers answer a replica behind
//! them with their certificates ([`SyncInfo`]).

use std::time::Duration;

use chainspace_core::types::ReplicaIndex;

use crate::error::Invalid;
use crate::message::{Message, Status, SyncInfo, Timeout, TimeoutCert, leader};
use crate::replica::{HotStuff, Out, Timer};

/// Timeouts or votes more rounds ahead than this are ignored: they would only fill memory.
pub(crate) const MAX_ROUNDS_AHEAD: u64 = 1000;

impl HotStuff {
    /// The current round's timeout, with back-off.
    pub(crate) fn round_timeout(&self) -> Duration {
        let exp = self.timeouts_in_a_row.min(self.cfg.max_backoff_exponent);
        self.cfg.round_timeout * (1u32 << exp)
    }

    /// Enter `round` (on a quorum certificate if `via_qc`, else on timeouts).
    pub(crate) fn advance_round(&mut self, round: u64, via_qc: bool, out: &mut Out) {
        if round <= self.round {
            return;
        }
        out.cancel_timer(Timer::Round(self.round));
        self.round = round;
        if via_qc {
            self.timeouts_in_a_row = 0;
        } else {
            self.timeouts_in_a_row += 1;
            self.stats.view_changes += 1;
        }
        out.set_timer(Timer::Round(round), self.round_timeout());
        self.timeouts.retain(|r, _| *r >= round);
        self.maybe_propose(out);
    }

    pub(crate) fn on_round_timer(&mut self, round: u64, out: &mut Out) {
        if round != self.round {
            return;
        }
        if self.busy() {
            // Commands may wait only because the leader never heard of them (a client
            // that submitted to this replica alone): hand them over, then give up on the
            // round as usual.
            let leader = leader(round, self.n());
            if leader != self.me {
                let batch = self.select_batch();
                if !batch.is_empty() {
                    out.send(leader, Message::Request(batch));
                }
            }
            self.local_timeout(out);
            out.set_timer(Timer::Round(round), self.round_timeout());
        } else {
            out.set_timer(Timer::Round(round), self.cfg.round_timeout);
        }
        self.maybe_status(out);
    }

    /// Give up on the current round: broadcast a timeout and never vote in it again.
    fn local_timeout(&mut self, out: &mut Out) {
        let round = self.round;
        self.last_voted_round = self.last_voted_round.max(round);
        let t = Timeout::new(round, self.high_qc.clone(), self.me, &self.key);
        out.broadcast(Message::Timeout(t.clone()));
        self.timeouts.entry(round).or_default().insert(self.me, t);
        self.try_form_tc(round, out);
    }

    pub(crate) fn on_timeout(&mut self, from: ReplicaIndex, t: Timeout, out: &mut Out) {
        if t.replica != from {
            self.invalid(Invalid::WrongSender { from, what: "timeout" });
            return;
        }
        if t.round < self.round {
            // The sender is behind: help it with our certificates.
            if t.high_qc.round < self.high_qc.round || self.last_tc.is_some() {
                out.send(from, Message::Sync(self.sync_info()));
            }
            self.ignore();
            return;
        }
        if t.round > self.round + MAX_ROUNDS_AHEAD {
            self.ignore();
            return;
        }
        if let Err(e) = t.verify(&self.committee) {
            return self.invalid(e);
        }
        if let Err(e) = self.check_qc(&t.high_qc) {
            return self.invalid(e);
        }
        let qc = t.high_qc.clone();
        self.process_qc(&qc, from, out);
        let round = t.round;
        if round < self.round {
            return;
        }
        let set = self.timeouts.entry(round).or_default();
        set.insert(from, t);
        let joined = set.contains_key(&self.me);
        if set.len() >= self.committee.weak_quorum() && !joined {
            // f + 1 replicas gave up on this round: at least one correct one did.
            self.advance_round(round, false, out);
            if self.round == round {
                self.local_timeout(out);
                out.set_timer(Timer::Round(round), self.round_timeout());
            }
        }
        self.try_form_tc(round, out);
    }

    fn try_form_tc(&mut self, round: u64, out: &mut Out) {
        let quorum = self.quorum();
        let Some(set) = self.timeouts.get(&round) else { return };
        if set.len() < quorum || round < self.round {
            return;
        }
        let timeouts =
            set.values().take(quorum).map(|t| (t.replica, t.high_qc.round, t.signature)).collect();
        self.process_tc(TimeoutCert { round, timeouts }, out);
    }

    /// A verified timeout certificate: enter the next round.
    pub(crate) fn process_tc(&mut self, tc: TimeoutCert, out: &mut Out) {
        if self.last_tc.as_ref().is_none_or(|t| t.round < tc.round) {
            self.last_tc = Some(tc.clone());
        }
        if tc.round >= self.round {
            self.advance_round(tc.round + 1, false, out);
        }
    }

    pub(crate) fn sync_info(&self) -> SyncInfo {
        SyncInfo {
            high_qc: self.high_qc.clone(),
            commit_qc: self.commit_qc.clone(),
            tc: self.last_tc.clone(),
        }
    }

    pub(crate) fn on_sync(&mut self, from: ReplicaIndex, s: SyncInfo, out: &mut Out) {
        if let Err(e) = self.check_qc(&s.high_qc).and_then(|_| self.check_qc(&s.commit_qc)) {
            return self.invalid(e);
        }
        if let Some(tc) = &s.tc
            && let Err(e) = tc.verify(&self.committee)
        {
            return self.invalid(e);
        }
        self.process_qc(&s.commit_qc, from, out);
        self.process_qc(&s.high_qc, from, out);
        if let Some(tc) = s.tc {
            self.process_tc(tc, out);
        }
    }

    fn status(&self) -> Status {
        Status { round: self.round, committed: self.root.height, high_qc_round: self.high_qc.round }
    }

    /// Broadcast this replica's status when its progress changed since the last one, or
    /// when a peer showed it is behind.
    fn maybe_status(&mut self, out: &mut Out) {
        let now = (self.root.height, self.high_qc.round);
        let behind = self.highest_seen.0 > now.0 || self.highest_seen.1 > now.1;
        self.ticks_since_status += 1;
        let heartbeat = self.ticks_since_status >= self.cfg.status_interval_ticks;
        if self.status_sent != Some(now) || behind || heartbeat {
            self.status_sent = Some(now);
            self.ticks_since_status = 0;
            self.highest_seen = (0, 0);
            out.broadcast(Message::Status(self.status()));
        }
    }

    pub(crate) fn on_status(&mut self, from: ReplicaIndex, s: Status, out: &mut Out) {
        if s.committed < self.root.height || s.high_qc_round < self.high_qc.round {
            out.send(from, Message::Sync(self.sync_info()));
        }
        if s.committed > self.root.height || s.high_qc_round > self.high_qc.round {
            self.highest_seen.0 = self.highest_seen.0.max(s.committed);
            self.highest_seen.1 = self.highest_seen.1.max(s.high_qc_round);
        }
    }
}
