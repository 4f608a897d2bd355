//! The client side of S-BAC: a sans-IO submitter that sends transactions to the replicas
//! of every shard they involve and learns each outcome from `f + 1` matching reports (at
//! least one of them from a correct replica): from every involved shard for a commit, so
//! that when the client hears "committed" every output exists and may be used at once;
//! from any one shard for an abort. It re-sends on a timeout, so
//! a lost message, a crashed replica or a view change only delays the outcome; re-sending
//! is harmless because replicas order a submission once and repeat what they decided.

use std::collections::HashMap;
use std::time::Duration;

use smallvec::{SmallVec, smallvec};

use crate::committee::Committee;
use crate::crypto::DigestBuildHasher;
use crate::order::{IdentifiedOrder, OrderRequest};
use crate::sbac::messages::{Outcome, OutcomeReport, Submission};
use crate::shard::involved_shards;
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
    /// Send a command of the consensus-only workload ([`crate::order`]) to replicas (every
    /// replica of its shard): one action for all of them, so that a driver encodes the
    /// command once, not once per replica (a copy and an encoding per replica were 4-5%
    /// of a consensus-only run's CPU).
    SendOrder {
        /// Recipients, in replica order.
        to: SmallVec<[ReplicaId; 4]>,
        /// What.
        request: OrderRequest,
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

/// What a pending entry sends.
enum Sent {
    Submission(Submission),
    Order(OrderRequest),
}

impl Sent {
    /// The instance reports must name.
    fn instance(&self) -> u64 {
        match self {
            Sent::Submission(s) => s.instance,
            // Commands have one attempt; replicas report them as instance 1.
            Sent::Order(_) => 1,
        }
    }
}

struct Pending {
    sent: Sent,
    involved: SmallVec<[ShardId; 2]>,
    /// Who reported what: `(shard, outcome)` and the indices of the replicas of that
    /// shard that reported it. A handful of entries, scanned rather than hashed, and
    /// kept inline: a command of the consensus-only workload costs no allocation here.
    reports: SmallVec<[Reported; 2]>,
    sends: u32,
}

/// Replicas of `shard` that reported `outcome`.
struct Reported {
    shard: ShardId,
    outcome: Outcome,
    voters: SmallVec<[u32; 4]>,
}

impl Pending {
    /// Record that replica `index` of `shard` reported `outcome`; returns how many
    /// distinct replicas of that shard reported it.
    fn record(&mut self, shard: ShardId, outcome: &Outcome, index: u32) -> usize {
        let i = match self.reports.iter().position(|r| r.shard == shard && r.outcome == *outcome) {
            Some(i) => i,
            None => {
                let outcome = outcome.clone();
                self.reports.push(Reported { shard, outcome, voters: SmallVec::new() });
                self.reports.len() - 1
            }
        };
        let voters = &mut self.reports[i].voters;
        if !voters.contains(&index) {
            voters.push(index);
        }
        voters.len()
    }

    /// How many distinct replicas of `shard` reported `outcome`.
    fn count(&self, shard: ShardId, outcome: &Outcome) -> usize {
        self.reports
            .iter()
            .find(|r| r.shard == shard && r.outcome == *outcome)
            .map_or(0, |r| r.voters.len())
    }
}

/// A client of the platform.
pub struct Submitter {
    committee: Committee,
    retry_after: Duration,
    pending: HashMap<TxId, Pending, DigestBuildHasher>,
    finished: Vec<Finished>,
}

impl Submitter {
    /// A submitter that re-sends after `retry_after` without an outcome (doubling each
    /// time, up to 16 times the first wait).
    pub fn new(committee: Committee, retry_after: Duration) -> Self {
        Submitter { committee, retry_after, pending: HashMap::default(), finished: Vec::new() }
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
        let involved = involved_shards(&request.transaction, n).into_iter().collect();
        let sent = Sent::Submission(Submission { request, instance });
        let p = Pending { sent, involved, reports: SmallVec::new(), sends: 0 };
        self.pending.insert(tx, p);
        self.send(tx, out);
        tx
    }

    /// Have `request` ordered by its shard (the consensus-only workload,
    /// [`crate::order`]): it goes to every replica of the shard, and is finished, with a
    /// commit outcome, once `f + 1` of them report it ordered. Returns its ID. A caller
    /// that knows the ID already passes an [`IdentifiedOrder`], so it is not computed
    /// again.
    pub fn order(
        &mut self,
        request: impl Into<IdentifiedOrder>,
        out: &mut Vec<ClientAction>,
    ) -> TxId {
        let request = request.into();
        let id = request.id();
        let request = request.into_request();
        let involved = smallvec![request.shard];
        let p =
            Pending { sent: Sent::Order(request), involved, reports: SmallVec::new(), sends: 0 };
        self.pending.insert(id, p);
        self.send(id, out);
        id
    }

    fn send(&mut self, tx: TxId, out: &mut Vec<ClientAction>) {
        let Some(p) = self.pending.get_mut(&tx) else { return };
        p.sends += 1;
        for shard in &p.involved {
            let Some(sc) = self.committee.shard(*shard) else { continue };
            let replicas = sc.indices().map(|index| ReplicaId { shard: *shard, index });
            match &p.sent {
                Sent::Submission(s) => {
                    out.extend(replicas.map(|to| ClientAction::Send { to, submission: s.clone() }))
                }
                Sent::Order(o) => {
                    out.push(ClientAction::SendOrder { to: replicas.collect(), request: o.clone() })
                }
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
            || report.instance != p.sent.instance()
            || !p.involved.contains(&from.shard)
        {
            return;
        }
        let Some(weak) = self.committee.shard(from.shard).map(|s| s.weak_quorum()) else { return };
        let voters = p.record(from.shard, &report.outcome, from.index);
        let decided = match report.outcome {
            Outcome::Commit => p.involved.iter().all(|s| {
                let need = self.committee.shard(*s).map_or(usize::MAX, |c| c.weak_quorum());
                p.count(*s, &Outcome::Commit) >= need
            }),
            _ => voters >= weak,
        };
        if decided {
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

    /// Stop waiting for `tx`: no more re-sends, and reports about it are ignored. For a
    /// submitter whose caller gave up (timed out or went away): without this it would
    /// re-send a transaction nobody waits for until an outcome came, which for a shard
    /// that never answers is for ever. Returns whether `tx` was pending. Replicas may still
    /// decide it; submitting it again later learns that outcome.
    pub fn forget(&mut self, tx: &TxId, out: &mut Vec<ClientAction>) -> bool {
        let was = self.pending.remove(tx).is_some();
        if was {
            out.push(ClientAction::CancelTimer { timer: ClientTimer::Retry(*tx) });
        }
        was
    }

    /// Whether `tx` is waiting for an outcome.
    pub fn is_pending(&self, tx: &TxId) -> bool {
        self.pending.contains_key(tx)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::Transaction;

    fn request() -> TransactionRequest {
        let tx = Transaction {
            contract_id: "addition".into(),
            method_id: "init".into(),
            input_ids: vec![],
            reference_input_ids: vec![],
            parameters: vec![],
            outputs: vec!["0".into()],
            returns: vec![],
            dependencies: vec![],
        };
        TransactionRequest { transaction: tx, store: Default::default() }
    }

    fn report(tx: TxId, shard: u32, outcome: Outcome) -> OutcomeReport {
        OutcomeReport { tx, instance: 1, shard: ShardId(shard), outcome }
    }

    #[test]
    fn sends_to_every_replica_of_the_involved_shards_and_retries_with_back_off() {
        let (committee, _) = Committee::for_test(2, 4);
        let mut s = Submitter::new(committee, Duration::from_millis(100));
        let mut out = Vec::new();
        let tx = s.submit(request(), 1, &mut out);
        // `init` of the addition vectors creates its object on shard 1 of 2.
        let sends: Vec<ReplicaId> = out
            .iter()
            .filter_map(|a| match a {
                ClientAction::Send { to, .. } => Some(*to),
                _ => None,
            })
            .collect();
        assert_eq!(
            sends,
            (0..4).map(|index| ReplicaId { shard: ShardId(1), index }).collect::<Vec<_>>()
        );
        assert_eq!(
            out.last(),
            Some(&ClientAction::SetTimer {
                timer: ClientTimer::Retry(tx),
                after: Duration::from_millis(100)
            })
        );
        let mut again = Vec::new();
        s.on_timer(ClientTimer::Retry(tx), &mut again);
        assert_eq!(again.len(), 5, "four sends and the timer");
        assert_eq!(
            again.last(),
            Some(&ClientAction::SetTimer {
                timer: ClientTimer::Retry(tx),
                after: Duration::from_millis(200)
            })
        );
    }

    #[test]
    fn a_forgotten_transaction_is_not_resent_and_its_reports_are_ignored() {
        let (committee, _) = Committee::for_test(2, 4);
        let mut s = Submitter::new(committee, Duration::from_millis(100));
        let mut out = Vec::new();
        let tx = s.submit(request(), 1, &mut out);
        assert!(s.is_pending(&tx));
        let mut forgot = Vec::new();
        assert!(s.forget(&tx, &mut forgot));
        assert_eq!(forgot, vec![ClientAction::CancelTimer { timer: ClientTimer::Retry(tx) }]);
        assert_eq!(s.pending(), 0);
        // A timer that was already due sends nothing; late reports decide nothing.
        let mut late = Vec::new();
        s.on_timer(ClientTimer::Retry(tx), &mut late);
        let r = |index| ReplicaId { shard: ShardId(1), index };
        for i in 0..4 {
            s.on_report(r(i), report(tx, 1, Outcome::Commit), &mut late);
        }
        assert!(late.is_empty(), "{late:?}");
        assert!(s.finished().is_empty());
        // Forgetting twice is harmless; submitting again starts afresh.
        assert!(!s.forget(&tx, &mut late));
        assert!(late.is_empty());
        s.submit(request(), 1, &mut late);
        assert_eq!(late.len(), 5, "four sends and the timer");
    }

    #[test]
    fn an_outcome_needs_f_plus_one_matching_reports_from_one_shard() {
        let (committee, _) = Committee::for_test(2, 4);
        let mut s = Submitter::new(committee, Duration::from_millis(100));
        let mut out = Vec::new();
        let tx = s.submit(request(), 1, &mut out);
        let r = |index| ReplicaId { shard: ShardId(1), index };
        // A report claiming another shard, one for another instance, and a lone dissent
        // decide nothing.
        s.on_report(r(0), report(tx, 0, Outcome::Commit), &mut out);
        s.on_report(
            r(0),
            OutcomeReport { instance: 2, ..report(tx, 1, Outcome::Commit) },
            &mut out,
        );
        s.on_report(r(0), report(tx, 1, Outcome::Abort("x".into())), &mut out);
        s.on_report(r(1), report(tx, 1, Outcome::Commit), &mut out);
        // The same replica twice still counts once.
        s.on_report(r(1), report(tx, 1, Outcome::Commit), &mut out);
        assert!(s.finished().is_empty());
        s.on_report(r(2), report(tx, 1, Outcome::Commit), &mut out);
        assert_eq!(s.finished().len(), 1);
        assert_eq!(s.finished()[0].outcome, Outcome::Commit);
        assert_eq!(s.pending(), 0);
        assert_eq!(out.last(), Some(&ClientAction::CancelTimer { timer: ClientTimer::Retry(tx) }));
    }

    #[test]
    fn a_command_goes_to_every_replica_of_its_shard_and_is_ordered_by_f_plus_one_reports() {
        let (committee, _) = Committee::for_test(2, 4);
        let mut s = Submitter::new(committee, Duration::from_millis(100));
        let mut out = Vec::new();
        let request = OrderRequest { shard: ShardId(1), payload: vec![7; 512] };
        let id = s.order(request.clone(), &mut out);
        assert_eq!(id, request.id());
        let to = (0..4).map(|index| ReplicaId { shard: ShardId(1), index }).collect();
        let expected: Vec<ClientAction> =
            [ClientAction::SendOrder { to, request: request.clone() }]
                .into_iter()
                .chain([ClientAction::SetTimer {
                    timer: ClientTimer::Retry(id),
                    after: Duration::from_millis(100),
                }])
                .collect();
        assert_eq!(out, expected);
        let r = |shard, index| ReplicaId { shard: ShardId(shard), index };
        // From another shard, or for another instance: nothing.
        s.on_report(r(0, 0), report(id, 0, Outcome::Commit), &mut out);
        s.on_report(
            r(1, 0),
            OutcomeReport { instance: 2, ..report(id, 1, Outcome::Commit) },
            &mut out,
        );
        s.on_report(r(1, 1), report(id, 1, Outcome::Commit), &mut out);
        assert!(s.finished().is_empty());
        s.on_report(r(1, 2), report(id, 1, Outcome::Commit), &mut out);
        assert_eq!(s.finished().len(), 1);
        assert_eq!(s.finished()[0].tx, id);
        assert_eq!(s.finished()[0].outcome, Outcome::Commit);
    }
}
