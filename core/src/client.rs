//! The client side of S-BAC: a sans-IO submitter that sends transactions to the replicas
//! of their concerned shards and learns each outcome from `f + 1` matching reports of
//! one shard (at least one of them from a correct replica). It re-sends on a timeout, so
//! a lost message, a crashed replica or a view change only delays the outcome; re-sending
//! is harmless because replicas order a submission once and repeat what they decided.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use crate::committee::Committee;
use crate::sbac::messages::{Outcome, OutcomeReport, Submission};
use crate::shard::{concerned_shards, involved_shards};
use crate::transaction::{TransactionRequest, TxId};
use crate::types::{ReplicaId, ShardId};

/// The submitter's timers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClientTimer {
    /// No outcome yet for this transaction: send it again.
    Retry(TxId),
}

/// What a submitter asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAction {
    /// Send a submission to a replica.
    Send {
        /// Recipient.
        to: ReplicaId,
        /// What.
        submission: Submission,
    },
    /// (Re)start a timer.
    SetTimer {
        /// Which.
        timer: ClientTimer,
        /// Delay.
        after: Duration,
    },
    /// Cancel a timer.
    CancelTimer {
        /// Which.
        timer: ClientTimer,
    },
}

/// A transaction the submitter has an outcome for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finished {
    /// Transaction.
    pub tx: TxId,
    /// The attempt the outcome is for.
    pub instance: u64,
    /// The outcome.
    pub outcome: Outcome,
    /// How many times it was sent.
    pub sends: u32,
}

struct Pending {
    submission: Submission,
    concerned: Vec<ShardId>,
    involved: Vec<ShardId>,
    reports: HashMap<(ShardId, Outcome), BTreeSet<u32>>,
    sends: u32,
}

/// A client of the platform.
pub struct Submitter {
    committee: Committee,
    retry_after: Duration,
    pending: BTreeMap<TxId, Pending>,
    finished: Vec<Finished>,
}

impl Submitter {
    /// A submitter that re-sends after `retry_after` without an outcome (doubling each
    /// time, up to 16 times the first wait).
    pub fn new(committee: Committee, retry_after: Duration) -> Self {
        Submitter { committee, retry_after, pending: BTreeMap::new(), finished: Vec::new() }
    }

    /// Submit `request` as attempt `instance` (1 for the first try).
    pub fn submit(
        &mut self,
        request: TransactionRequest,
        instance: u64,
        out: &mut Vec<ClientAction>,
    ) -> TxId {
        let n = self.committee.num_shards();
        let tx = request.transaction.digest();
        let concerned = concerned_shards(&request.transaction, n);
        let involved = involved_shards(&request.transaction, n);
        let submission = Submission { request, instance };
        let p = Pending { submission, concerned, involved, reports: HashMap::new(), sends: 0 };
        self.pending.insert(tx, p);
        self.send(tx, out);
        tx
    }

    fn send(&mut self, tx: TxId, out: &mut Vec<ClientAction>) {
        let Some(p) = self.pending.get_mut(&tx) else { return };
        p.sends += 1;
        for shard in &p.concerned {
            let Some(sc) = self.committee.shard(*shard) else { continue };
            for index in sc.indices() {
                out.push(ClientAction::Send {
                    to: ReplicaId { shard: *shard, index },
                    submission: p.submission.clone(),
                });
            }
        }
        let backoff = 1u32 << (p.sends - 1).min(4);
        out.push(ClientAction::SetTimer {
            timer: ClientTimer::Retry(tx),
            after: self.retry_after * backoff,
        });
    }

    /// A replica reported an outcome; the transport authenticated `from`.
    pub fn on_report(
        &mut self,
        from: ReplicaId,
        report: OutcomeReport,
        out: &mut Vec<ClientAction>,
    ) {
        let Some(p) = self.pending.get_mut(&report.tx) else { return };
        if report.shard != from.shard
            || report.instance != p.submission.instance
            || !p.involved.contains(&from.shard)
        {
            return;
        }
        let Some(weak) = self.committee.shard(from.shard).map(|s| s.weak_quorum()) else { return };
        let voters = p.reports.entry((from.shard, report.outcome.clone())).or_default();
        voters.insert(from.index);
        if voters.len() >= weak {
            let p = self.pending.remove(&report.tx).expect("present");
            out.push(ClientAction::CancelTimer { timer: ClientTimer::Retry(report.tx) });
            self.finished.push(Finished {
                tx: report.tx,
                instance: report.instance,
                outcome: report.outcome,
                sends: p.sends,
            });
        }
    }

    /// A timer fired.
    pub fn on_timer(&mut self, timer: ClientTimer, out: &mut Vec<ClientAction>) {
        let ClientTimer::Retry(tx) = timer;
        self.send(tx, out);
    }

    /// Transactions still waiting for an outcome.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Outcomes learnt so far, in the order they were learnt.
    pub fn finished(&self) -> &[Finished] {
        &self.finished
    }

    /// Take the outcomes learnt so far.
    pub fn take_finished(&mut self) -> Vec<Finished> {
        std::mem::take(&mut self.finished)
    }
}
