//! The PBFT replica: its state, and how events reach the protocol's parts.
//!
//! The normal case lives in [`crate::normal`], view changes in [`crate::view_change`],
//! checkpoints and catch-up in [`crate::checkpoint`]; this file holds the state they
//! share, client requests, the housekeeping tick, and the [`Consensus`] implementation.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use chainspace_core::committee::ShardCommittee;
use chainspace_core::consensus::{Actions, Consensus, ConsensusStats};
use chainspace_core::crypto::{Digest, DigestMap, Keypair};
use chainspace_core::dedup::{DedupState, DedupWindow};
use chainspace_core::snapshot::Snapshot;
use chainspace_core::types::{Command, ReplicaIndex};

use crate::checkpoint::PbftSnapshot;
use crate::config::PbftConfig;
use crate::error::{Invalid, PbftError};
use crate::message::{
    Checkpoint, Message, NewView, PrePrepare, Prepare, PreparedProof, ViewChange, primary,
};

/// PBFT's timers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// The primary's batch timeout expired: propose a partial batch.
    Batch,
    /// Housekeeping: age pending requests, look for signs of being behind.
    Tick,
    /// No new view arrived in time for this view: move on to the next.
    ViewChange(u64),
}

/// The output buffer of a PBFT replica.
pub type Out = Actions<Message, Timer>;

/// Everything known about one sequence number in the current view.
#[derive(Clone, Debug, Default)]
pub(crate) struct Slot {
    /// The pre-prepare accepted in the current view.
    pub pre_prepare: Option<PrePrepare>,
    /// Prepares of the current view, by sender.
    pub prepares: BTreeMap<ReplicaIndex, Prepare>,
    /// Senders whose prepare's signature is not checked yet: it is checked when the
    /// prepare would complete a certificate (see `check_prepared`).
    pub unverified: BTreeSet<ReplicaIndex>,
    /// Commits of the current view, by sender.
    pub commits: BTreeMap<ReplicaIndex, Digest>,
    /// Whether this replica prepared (and sent its commit) in the current view.
    pub sent_commit: bool,
    /// The highest-view prepared certificate: survives view changes, reported in them.
    pub prepared: Option<PreparedProof>,
    /// The batch decided at this sequence number (committed here, or vouched for by
    /// `f + 1` replicas during catch-up). Kept after execution to serve catch-up.
    pub decided: Option<Vec<Command>>,
}

/// A client request waiting to be ordered.
#[derive(Clone, Debug)]
pub(crate) struct PendingRequest {
    pub command: Command,
    /// The tick at which its timeout started.
    pub since_tick: u64,
    /// Arrival order, for fairness.
    pub order: u64,
    /// Whether it was forwarded to the primary in this view.
    pub forwarded: bool,
    /// Whether a pre-prepare of this view holds it (not executed yet): the primary does
    /// not propose it again. A flag here rather than a set of its own saves two hash-table
    /// operations per command.
    pub in_flight: bool,
}

/// The last stable checkpoint (the log's low-water mark).
#[derive(Clone, Debug, Default)]
pub(crate) struct Stable {
    pub seq: u64,
    pub state: Digest,
    pub proof: Vec<Checkpoint>,
    /// The snapshot, when this replica has it (it may know of a stable checkpoint it has
    /// not reached yet).
    pub snapshot: Option<PbftSnapshot>,
}

/// A PBFT replica (Castro and Liskov, OSDI 1999; in the style of BFT-SMaRt's Mod-SMaRt).
pub struct Pbft {
    pub(crate) cfg: PbftConfig,
    pub(crate) me: ReplicaIndex,
    pub(crate) committee: ShardCommittee,
    pub(crate) key: Keypair,
    /// The current view (the one being changed to, while `in_view_change`).
    pub(crate) view: u64,
    pub(crate) in_view_change: bool,
    /// View changes in a row without a working view: scales the view-change timeout.
    pub(crate) failed_views: u32,
    /// Views installed in a row in which nothing new executed yet. Each doubles the
    /// request timeout that starts the next view change (Castro and Liskov, section 4.5.2:
    /// a backup waits twice as long before giving up on the next view), so a shard whose
    /// batches take longer than the timeout to order under load settles in a view instead
    /// of changing view for ever, each change re-sending every prepared batch.
    pub(crate) stalled_views: u32,
    /// The view whose view-change timer is running, so later view-change messages for
    /// it do not restart the timer.
    pub(crate) vc_timer_for: Option<u64>,
    pub(crate) slots: BTreeMap<u64, Slot>,
    pub(crate) last_executed: u64,
    /// The next sequence number the primary assigns.
    pub(crate) next_seq: u64,
    pub(crate) stable: Stable,
    /// Checkpoint messages above the stable checkpoint, by sequence number and sender.
    pub(crate) checkpoints: BTreeMap<u64, BTreeMap<ReplicaIndex, Checkpoint>>,
    /// This replica's own snapshots above the stable checkpoint, with their digests.
    pub(crate) own_snapshots: BTreeMap<u64, (Digest, PbftSnapshot)>,
    /// The dedup state captured when a checkpoint's sequence number was executed, waiting
    /// for the application's snapshot.
    pub(crate) snapshot_dedup: BTreeMap<u64, DedupState>,
    pub(crate) pending: DigestMap<PendingRequest>,
    /// `(order, digest)` of pending requests in arrival order. Entries are not removed
    /// when their request is (that would cost a search per executed command): one is live
    /// while `pending` holds its digest with the same order ([`Pbft::live_pending`]); stale
    /// ones are dropped from the front at each tick, and all of them once they outnumber
    /// the live ones.
    pub(crate) pending_order: VecDeque<(u64, Digest)>,
    pub(crate) next_order: u64,
    /// The primary's queue of requests not yet in a pre-prepare of this view.
    pub(crate) queue: crate::queue::BatchQueue,
    pub(crate) batch_timer_set: bool,
    pub(crate) batch_timer_fired: bool,
    /// Commands delivered in the last `dedup_window` sequence numbers.
    pub(crate) recent: DedupWindow,
    pub(crate) tick: u64,
    /// `last_executed` at the previous tick: no progress since means we may be stuck.
    pub(crate) executed_at_last_tick: u64,
    /// The highest sequence number other replicas showed signs of having reached.
    pub(crate) highest_seen: u64,
    /// Just (re)started: ask for status at the first tick unless progress shows up.
    pub(crate) recovering: bool,
    /// View-change messages by view and sender.
    pub(crate) view_changes: BTreeMap<u64, BTreeMap<ReplicaIndex, ViewChange>>,
    /// The highest view each replica asked to move to.
    pub(crate) latest_vc: BTreeMap<ReplicaIndex, u64>,
    /// The new-view message of the current view, re-sent to replicas left behind.
    pub(crate) last_new_view: Option<NewView>,
    /// To whom the new-view message was re-sent: view and tick, by replica. It carries a
    /// quorum of view changes with their certificates, batches included, so it can be many
    /// MB; a replica left behind asks with every status and view change it sends, and is
    /// answered at most once every `request_timeout_ticks` ticks.
    pub(crate) new_view_sent: BTreeMap<ReplicaIndex, (u64, u64)>,
    /// Ticks since this replica started its current view change. Its view change (with
    /// every prepared certificate, batches included, so possibly many MB) is re-sent at
    /// ticks T, 2T, 4T, ... of it (T = `request_timeout_ticks`), not at every tick: the
    /// links are reliable short of overflow or failure, and a view change slowed by its
    /// own size must not flood them with copies of itself.
    pub(crate) vc_ticks: u64,
    /// What each peer was last sent in answer to its status.
    pub(crate) served: BTreeMap<ReplicaIndex, Served>,
    /// Normal-case messages of a view this replica has not entered yet.
    pub(crate) future: Vec<(ReplicaIndex, Message)>,
    /// Bytes of commands in the pre-prepares of `future`.
    pub(crate) future_bytes: usize,
    /// Catch-up votes: sequence -> digest -> (senders, batch).
    pub(crate) decided_votes: BTreeMap<u64, HashMap<Digest, DecidedVotes>>,
    pub(crate) stats: ConsensusStats,
    /// What must survive a crash (see [`crate::durable`]), and its version.
    pub(crate) durable: crate::durable::Durable,
    pub(crate) durable_version: u64,
    /// Why the last invalid message was dropped (for tests and logs).
    pub(crate) last_invalid: Option<Invalid>,
}

/// What a peer was sent in answer to its status (decided batches, a snapshot, this
/// replica's own normal-case messages): every sequence number up to `up_to`, in `view`,
/// since `tick`. A peer that is behind asks at every tick, and the answer can be many MB,
/// more than it can take in within a tick: the same sequence numbers are not sent to it
/// again in the same view before `request_timeout_ticks` ticks have passed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Served {
    pub view: u64,
    pub up_to: u64,
    pub tick: u64,
}

/// Replicas that vouched for one decided batch during catch-up, and the batch.
pub(crate) type DecidedVotes = (Vec<ReplicaIndex>, Vec<Command>);

/// The request of the `pending_order` entry `(order, digest)`, if the entry is live:
/// `pending` still holds that digest, under the same arrival number.
fn live<'a>(
    pending: &'a DigestMap<PendingRequest>,
    (order, d): &(u64, Digest),
) -> Option<&'a PendingRequest> {
    pending.get(d).filter(|p| p.order == *order)
}

/// Most messages of future views kept until the view is entered.
pub(crate) const MAX_FUTURE: usize = 8192;
/// Most bytes of commands in the pre-prepares of future views kept, in full batches: a
/// count alone would let a few thousand large batches in.
pub(crate) const MAX_FUTURE_BATCHES: usize = 16;
/// Most pending client requests; more are refused until some are ordered.
pub(crate) const MAX_PENDING: usize = 1 << 20;

impl Pbft {
    /// Replica `me` of `committee`, signing with `key`.
    pub fn new(
        cfg: PbftConfig,
        committee: ShardCommittee,
        me: ReplicaIndex,
        key: Keypair,
    ) -> Result<Self, PbftError> {
        cfg.validate()?;
        if committee.key(me) != Some(&key.public()) {
            return Err(PbftError::NotInCommittee(me));
        }
        let recent = DedupWindow::new(cfg.dedup_window);
        Ok(Pbft {
            cfg,
            me,
            committee,
            key,
            view: 0,
            in_view_change: false,
            failed_views: 0,
            stalled_views: 0,
            vc_timer_for: None,
            slots: BTreeMap::new(),
            last_executed: 0,
            next_seq: 1,
            stable: Stable::default(),
            checkpoints: BTreeMap::new(),
            own_snapshots: BTreeMap::new(),
            snapshot_dedup: BTreeMap::new(),
            pending: DigestMap::default(),
            pending_order: VecDeque::new(),
            next_order: 0,
            queue: Default::default(),
            batch_timer_set: false,
            batch_timer_fired: false,
            recent,
            tick: 0,
            executed_at_last_tick: 0,
            highest_seen: 0,
            recovering: false,
            durable: Default::default(),
            durable_version: 0,
            view_changes: BTreeMap::new(),
            latest_vc: BTreeMap::new(),
            last_new_view: None,
            new_view_sent: BTreeMap::new(),
            vc_ticks: 0,
            served: BTreeMap::new(),
            future: Vec::new(),
            future_bytes: 0,
            decided_votes: BTreeMap::new(),
            stats: ConsensusStats::default(),
            last_invalid: None,
        })
    }

    /// The current view.
    pub fn view(&self) -> u64 {
        self.view
    }

    /// Whether a view change is under way.
    pub fn in_view_change(&self) -> bool {
        self.in_view_change
    }

    /// The last stable checkpoint's sequence number (the low-water mark).
    pub fn stable_checkpoint(&self) -> u64 {
        self.stable.seq
    }

    /// Sequence numbers with protocol state held in the log (for garbage-collection tests).
    pub fn log_len(&self) -> usize {
        self.slots.len()
    }

    /// Requests waiting to be ordered.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Why the last invalid message was dropped.
    pub fn last_invalid(&self) -> Option<&Invalid> {
        self.last_invalid.as_ref()
    }

    pub(crate) fn n(&self) -> usize {
        self.committee.n()
    }

    pub(crate) fn quorum(&self) -> usize {
        self.committee.quorum()
    }

    pub(crate) fn is_primary(&self) -> bool {
        primary(self.view, self.n()) == self.me
    }

    /// Drop an invalid message, counting it.
    pub(crate) fn invalid(&mut self, why: Invalid) {
        self.stats.invalid_messages += 1;
        self.last_invalid = Some(why);
    }

    /// Ignore a stale or out-of-window message, counting it.
    pub(crate) fn ignore(&mut self) {
        self.stats.ignored_messages += 1;
    }

    /// Take a client request (from a client, or forwarded by a backup); the caller then
    /// lets the primary propose (once for a whole forwarded batch).
    pub(crate) fn add_request(&mut self, command: Command) {
        let d = command.digest();
        if self.recent.contains(&d) || self.pending.contains_key(&d) {
            return;
        }
        if self.pending.len() >= MAX_PENDING {
            self.ignore();
            return;
        }
        let order = self.next_order;
        self.next_order += 1;
        let size = command.len();
        let request = PendingRequest {
            command,
            since_tick: self.tick,
            order,
            forwarded: false,
            in_flight: false,
        };
        self.pending.insert(d, request);
        if self.pending_order.len() >= 2 * self.pending.len() + 1024 {
            let pending = &self.pending;
            self.pending_order.retain(|e| live(pending, e).is_some());
        }
        self.pending_order.push_back((order, d));
        if self.is_primary() && !self.in_view_change {
            self.queue.push_back(d, size);
        }
    }

    /// A request left the pending set (it was executed). Its `pending_order` entry goes
    /// stale.
    pub(crate) fn remove_pending(&mut self, d: &Digest) {
        self.pending.remove(d);
    }

    /// The pending requests in arrival order, skipping stale `pending_order` entries.
    pub(crate) fn live_pending(&self) -> impl Iterator<Item = &PendingRequest> {
        let pending = &self.pending;
        self.pending_order.iter().filter_map(move |e| live(pending, e))
    }

    /// The housekeeping tick: BFT-SMaRt's two-stage request timeout (forward to the
    /// primary, then ask for a view change) and the catch-up check.
    fn on_tick(&mut self, out: &mut Out) {
        self.tick += 1;
        out.set_timer(Timer::Tick, self.cfg.tick);
        let t = self.cfg.request_timeout_ticks;
        // Retransmit only a view change already under way: one started by this tick was
        // just broadcast.
        if self.in_view_change {
            self.vc_ticks += 1;
            let t = self.cfg.request_timeout_ticks;
            if self.vc_ticks.is_multiple_of(t) && (self.vc_ticks / t).is_power_of_two() {
                self.retransmit_view_change(out);
            }
        }
        while let Some(e) = self.pending_order.front()
            && live(&self.pending, e).is_none()
        {
            self.pending_order.pop_front();
        }
        let oldest_age = self.live_pending().next().map(|p| self.tick - p.since_tick);
        if let Some(age) = oldest_age {
            let patience = (2 * t) << self.stalled_views.min(6);
            if age >= patience && !self.in_view_change {
                self.start_view_change(self.view + 1, out);
            } else if age >= t && !self.is_primary() && !self.in_view_change {
                self.forward_old_requests(out);
            }
        }
        let stuck = self.last_executed == self.executed_at_last_tick;
        let behind = self.recovering
            || self.highest_seen > self.last_executed
            || oldest_age.is_some_and(|a| a >= 1);
        self.recovering = false;
        let heartbeat = self.tick.is_multiple_of(self.cfg.status_interval_ticks);
        if (stuck && behind) || heartbeat {
            self.send_status(out);
            // The evidence of being behind is used up: a replica that really is behind
            // keeps hearing of higher sequence numbers (or its requests keep waiting),
            // while one stray message cannot make it ask forever.
            self.highest_seen = self.last_executed;
        }
        self.executed_at_last_tick = self.last_executed;
    }

    fn forward_old_requests(&mut self, out: &mut Out) {
        let limit = self.tick.saturating_sub(self.cfg.request_timeout_ticks);
        let mut batch = Vec::new();
        let mut bytes = 0;
        for (o, d) in &self.pending_order {
            let Some(p) = self.pending.get_mut(d).filter(|p| p.order == *o) else { continue };
            if p.since_tick > limit || p.forwarded {
                continue;
            }
            // Capped like a batch: the rest goes at the next tick.
            if !batch.is_empty() && bytes + p.command.len() > self.cfg.max_batch_bytes {
                break;
            }
            p.forwarded = true;
            bytes += p.command.len();
            batch.push(p.command.clone());
            if batch.len() >= self.cfg.max_batch {
                break;
            }
        }
        if !batch.is_empty() {
            out.send(primary(self.view, self.n()), Message::Request(batch));
        }
    }
}

impl Consensus for Pbft {
    type Message = Message;
    type Timer = Timer;

    fn index(&self) -> ReplicaIndex {
        self.me
    }

    fn on_start(&mut self, out: &mut Out) {
        out.set_timer(Timer::Tick, self.cfg.tick);
        self.batch_timer_set = false;
        // A replica that (re)starts may have missed anything, and in an idle shard nothing
        // else would tell it: at its first tick it asks the others where they are
        // (BFT-SMaRt likewise asks for state when a replica starts).
        self.recovering = true;
        self.try_propose(out);
    }

    fn propose(&mut self, command: Command, out: &mut Out) {
        self.add_request(command);
        self.try_propose(out);
    }

    fn on_message(&mut self, from: ReplicaIndex, msg: Message, out: &mut Out) {
        if !self.committee.contains(from) || from == self.me {
            self.invalid(Invalid::UnknownReplica(from));
            return;
        }
        match msg {
            Message::Request(batch) => {
                if let Err(e) = self.cfg.batch_limits().check(&batch) {
                    self.invalid(e.into());
                    return;
                }
                for c in batch {
                    self.add_request(c);
                }
                self.try_propose(out);
            }
            Message::PrePrepare(m) => self.on_pre_prepare(from, m, out),
            Message::Prepare(m) => self.on_prepare(from, m, out),
            Message::Commit(m) => self.on_commit(from, m, out),
            Message::Checkpoint(m) => self.on_checkpoint(from, m, out),
            Message::ViewChange(m) => self.on_view_change(from, m, out),
            Message::NewView(m) => self.on_new_view(from, m, out),
            Message::Status(m) => self.on_status(from, m, out),
            Message::Decided(m) => self.on_decided(from, m, out),
            Message::StateReply(m) => self.on_state_reply(from, m, out),
            Message::PrePrepareDigests(m) => self.on_pre_prepare_digests(from, m, out),
            Message::FetchPrePrepare(m) => self.on_fetch_pre_prepare(from, m, out),
        }
    }

    fn on_timer(&mut self, timer: Timer, out: &mut Out) {
        match timer {
            Timer::Batch => {
                self.batch_timer_set = false;
                self.batch_timer_fired = true;
                self.try_propose(out);
            }
            Timer::Tick => self.on_tick(out),
            Timer::ViewChange(v) => {
                if self.in_view_change && self.view == v {
                    self.failed_views += 1;
                    self.start_view_change(v + 1, out);
                }
            }
        }
    }

    fn on_snapshot(&mut self, sequence: u64, snapshot: Snapshot, out: &mut Out) {
        self.take_checkpoint(sequence, snapshot, out);
    }

    fn last_delivered(&self) -> u64 {
        self.last_executed
    }

    fn stats(&self) -> ConsensusStats {
        self.stats
    }

    fn delivered_recently(&self, command: &Digest) -> bool {
        self.recent.contains(command)
    }

    fn durable_version(&self) -> u64 {
        self.durable_version
    }

    fn durable_state(&self) -> Vec<u8> {
        self.encode_durable()
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), chainspace_core::Error> {
        self.restore_durable(state)
    }
}
