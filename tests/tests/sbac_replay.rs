//! The replay attacks of Sonnino, Bano, Al-Bassam and Danezis ("Replay attacks and
//! defenses against cross-shard consensus in sharded distributed ledgers", EuroS&P 2020)
//! against S-BAC, each scripted in the whole-system simulator on 2 shards x 4 PBFT
//! replicas (DESIGN.md, S-BAC, "Replay").
//!
//! The attacker controls only the network: it records what replicas send, holds messages
//! back, and re-sends recorded ones later as if from their sender ([`Attacker`]); a
//! recorded client submission is re-sent from a second client node (submissions are not
//! signed, so anyone on the network can send one). It signs nothing.
//!
//! The transaction under attack, `T`, consumes `a` (shard 0) and `b` (shard 1). Its first
//! instance claims a wrong value for `b`, so shard 1 votes abort while shard 0 votes
//! commit and locks `a`; the retry (instance 2) claims the true values and commits. Every
//! scenario checks that the attack fails: no object consumed by two committed
//! transactions, a transaction committed by all its shards or none, no lock left by a
//! finished instance, and the honest outcome reached.

use std::time::Duration;

use chainspace_contracts::dummy;
use chainspace_core::object::{Object, ObjectStatus};
use chainspace_core::replica::{Addr, ReplicaMessage};
use chainspace_core::sbac::engine::{Phase, TxRecord};
use chainspace_core::sbac::{Accept, Outcome, SbacCommand, ShardCertificate};
use chainspace_core::shard::shard_of;
use chainspace_core::sim::{NetworkModel, Partition, World};
use chainspace_core::transaction::{Transaction, TransactionRequest, TxId};
use chainspace_core::types::{Command, ReplicaId, ShardId};
use chainspace_tests::replay::{
    Attacker, Shared, all_have, assert_safe, outcome_of, records, statuses, world_state,
};
use chainspace_tests::setup::Deployment;
use chainspace_tests::workload::{Ledger, outputs};
use consensus_any::{AnyConsensus, AnyMessage};
use consensus_pbft::Message;

const SHARDS: u32 = 2;
const REPLICAS: u32 = 4;
const S0: ShardId = ShardId(0);
const S1: ShardId = ShardId(1);
/// The honest client.
const HONEST: usize = 0;
/// A second client node, through which the attacker re-sends recorded submissions.
const REPLAYER: usize = 1;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Seeds per scenario (the network's jitter changes which message arrives first):
/// `SBAC_REPLAY_SEEDS` overrides.
fn seeds() -> std::ops::Range<u64> {
    let n = std::env::var("SBAC_REPLAY_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    0..n
}

struct Setup {
    w: World<AnyConsensus>,
    att: Shared,
    ledger: Ledger,
    create: Transaction,
    a: Object,
    b: Object,
    c: Object,
    d: Object,
    /// On shard 1; consuming it (with an output) creates an object on shard 0.
    e: Object,
    tx: Transaction,
    id: TxId,
    /// `T` with the true values of `a` and `b`.
    good: TransactionRequest,
    /// `T` claiming a wrong value for `b`: shard 1 aborts it, shard 0 locks `a` for it.
    bad: TransactionRequest,
}

/// A world with the attacker on every link and five active objects, `a` and `c` on shard
/// 0, `b`, `d` and `e` on shard 1; `T` is built but not submitted.
fn setup(seed: u64, network: NetworkModel) -> Setup {
    let mut dep = Deployment::new(SHARDS, REPLICAS);
    dep.clients = 2;
    dep.network = network;
    let mut w = dep.world(seed);
    let att = Attacker::attach(&mut w);
    let mut ledger = Ledger::default();
    let (create, on0, on1, e) = (0..)
        .find_map(|k| {
            let create = dummy::create(&format!("replay-{seed}-{k}"), 10);
            let objs = outputs(&create);
            let on = |s| objs.iter().filter(|o| shard_of(&o.id, SHARDS) == s).cloned().collect();
            let (on0, on1): (Vec<Object>, Vec<Object>) = (on(S0), on(S1));
            let output_on_0 = |o: &&Object| {
                let out = outputs(&dummy::consume(std::slice::from_ref(*o), true)).remove(0);
                shard_of(&out.id, SHARDS) == S0
            };
            let e = on1.iter().skip(2).find(output_on_0).cloned()?;
            (on0.len() >= 2).then_some((create, on0, on1, e))
        })
        .expect("some label spreads the objects");
    let created = ledger.submit(&mut w, Duration::ZERO, HONEST, create.clone(), &[]);
    assert_eq!(outcome_of(&mut w, HONEST, created, 1, ms(5_000)), Some(Outcome::Commit));
    settle(&mut w);
    let (a, c, b, d) = (on0[0].clone(), on0[1].clone(), on1[0].clone(), on1[1].clone());
    let tx = dummy::consume(&[a.clone(), b.clone()], true);
    let id = tx.digest();
    ledger.txs.insert(id, tx.clone());
    let good = TransactionRequest {
        transaction: tx.clone(),
        store: [(a.id, a.value.clone()), (b.id, b.value.clone())].into_iter().collect(),
    };
    let mut bad = good.clone();
    bad.store.insert(b.id, dummy::object_value("forged", 0));
    Setup { w, att, ledger, create, a, b, c, d, e, tx, id, good, bad }
}

/// Let the last messages of a finished step reach every replica.
fn settle(w: &mut World<AnyConsensus>) {
    let t = w.now() + ms(300);
    w.run_until(t);
}

impl Setup {
    fn submit(&mut self, client: usize, request: &TransactionRequest, instance: u64) {
        let now = self.w.now();
        self.w.submit_at(now, client, request.clone(), instance);
    }

    /// The outcome the honest client learns for instance `instance` of `T`.
    fn outcome(&mut self, instance: u64, limit: Duration) -> Option<Outcome> {
        outcome_of(&mut self.w, HONEST, self.id, instance, limit)
    }

    /// Instance 1 (the bad request) aborts everywhere; `a` is free again.
    fn first_instance_aborts(&mut self) {
        let bad = self.bad.clone();
        self.submit(HONEST, &bad, 1);
        match self.outcome(1, ms(5_000)) {
            Some(Outcome::Abort(reason)) => {
                assert!(reason.contains("not the stored one"), "{reason}")
            }
            other => panic!("instance 1 should abort, got {other:?}"),
        }
        settle(&mut self.w);
        for shard in [S0, S1] {
            for r in records(&self.w, shard, &self.id) {
                assert!(
                    matches!(
                        r,
                        Some(TxRecord { instance: 1, phase: Phase::Accepted(Outcome::Abort(_)) })
                    ),
                    "{shard}: {r:?}"
                );
            }
        }
        assert!(all_have(&self.w, S0, &self.a.id, ObjectStatus::Active));
    }

    /// Instance 2 (the good request) commits for the honest client.
    fn retry_commits(&mut self) {
        let good = self.good.clone();
        self.submit(HONEST, &good, 2);
        assert_eq!(self.outcome(2, ms(10_000)), Some(Outcome::Commit));
        settle(&mut self.w);
    }

    /// `T` committed as `instance` at every replica of both shards: inputs consumed, its
    /// output created, once, on its shard (where it now has status `output`).
    fn assert_committed(&self, instance: u64, output: ObjectStatus) {
        let want = Some(TxRecord { instance, phase: Phase::Accepted(Outcome::Commit) });
        for shard in [S0, S1] {
            assert!(
                records(&self.w, shard, &self.id).iter().all(|r| *r == want),
                "{shard}: {:?}",
                records(&self.w, shard, &self.id)
            );
        }
        assert!(
            all_have(&self.w, S0, &self.a.id, ObjectStatus::Inactive),
            "a: {:?}",
            statuses(&self.w, S0, &self.a.id)
        );
        assert!(
            all_have(&self.w, S1, &self.b.id, ObjectStatus::Inactive),
            "b: {:?}",
            statuses(&self.w, S1, &self.b.id)
        );
        self.assert_output_once(output);
    }

    /// `T`'s output exists on its shard with `status`, and nowhere else.
    fn assert_output_once(&self, status: ObjectStatus) {
        for o in outputs(&self.tx) {
            let home = shard_of(&o.id, SHARDS);
            assert!(all_have(&self.w, home, &o.id, status), "{:?}", statuses(&self.w, home, &o.id));
            for other in [S0, S1].into_iter().filter(|s| *s != home) {
                assert!(statuses(&self.w, other, &o.id).iter().all(Option::is_none));
            }
        }
    }

    fn assert_safe(&self) {
        assert_safe(&self.w, &self.ledger);
    }

    /// A transaction consuming `c` and `d`: its votes cross every link between the two
    /// shards, carrying whatever the attacker wants to send on them.
    fn carrier(&mut self) -> TxId {
        let t3 = dummy::consume(&[self.c.clone(), self.d.clone()], true);
        let now = self.w.now();
        let (c, d) = (self.c.clone(), self.d.clone());
        let id = self.ledger.submit(&mut self.w, now, HONEST, t3, &[&c, &d]);
        assert_eq!(outcome_of(&mut self.w, HONEST, id, 1, ms(10_000)), Some(Outcome::Commit));
        settle(&mut self.w);
        id
    }
}

/// Replica `index` of `shard`.
fn rid(shard: ShardId, index: u32) -> ReplicaId {
    ReplicaId { shard, index }
}

// ---------------------------------------------------------------------------------------
// Replayed submissions.
// ---------------------------------------------------------------------------------------

/// The attacker re-sends the client's first submission (instance 1, the one that
/// aborted) after the retry committed: replicas only say the transaction is committed,
/// and no state changes anywhere.
#[test]
fn replaying_the_aborted_first_submission_after_the_retry_committed_changes_nothing() {
    for seed in seeds() {
        let mut s = setup(seed, NetworkModel::default());
        s.first_instance_aborts();
        s.retry_commits();
        s.assert_committed(2, ObjectStatus::Active);
        let before = world_state(&s.w);
        let bad = s.bad.clone();
        s.submit(REPLAYER, &bad, 1);
        let t = s.w.now() + ms(3_000);
        s.w.run_until(t);
        assert!(world_state(&s.w) == before, "seed {seed}: the replay changed some state");
        assert!(s.w.client(REPLAYER).finished().is_empty(), "seed {seed}: instance 1 reported");
        s.assert_committed(2, ObjectStatus::Active);
        s.assert_safe();
    }
}

/// A committed transaction's submission, and the transaction that created its inputs,
/// re-sent as recorded and under fresh instance numbers (submissions are not signed):
/// neither consumes anything again nor brings a consumed object back to life; outputs
/// exist once.
#[test]
fn replaying_committed_submissions_neither_consumes_again_nor_recreates_outputs() {
    for seed in seeds() {
        let mut s = setup(seed, NetworkModel::default());
        let good = s.good.clone();
        s.submit(HONEST, &good, 1);
        assert_eq!(s.outcome(1, ms(10_000)), Some(Outcome::Commit), "seed {seed}");
        settle(&mut s.w);
        // Spend T's output too, so that re-creating it would be visible.
        let out = outputs(&s.tx).remove(0);
        let spend = dummy::consume(std::slice::from_ref(&out), false);
        let now = s.w.now();
        let spent = s.ledger.submit(&mut s.w, now, HONEST, spend.clone(), &[&out]);
        assert_eq!(outcome_of(&mut s.w, HONEST, spent, 1, ms(10_000)), Some(Outcome::Commit));
        settle(&mut s.w);
        s.assert_committed(1, ObjectStatus::Inactive);
        let before = world_state(&s.w);

        let create =
            TransactionRequest { transaction: s.create.clone(), store: Default::default() };
        let spend =
            TransactionRequest { transaction: spend, store: [(out.id, out.value.clone())].into() };
        let bad = s.bad.clone();
        let replays = [
            (good.clone(), 1),
            (good.clone(), 2),
            (bad, 3),
            (good, 9),
            (create.clone(), 1),
            (create, 2),
            (spend.clone(), 1),
            (spend, 5),
        ];
        for (i, (request, instance)) in replays.into_iter().enumerate() {
            let at = s.w.now() + ms(40 * i as u64);
            s.w.submit_at(at, REPLAYER, request, instance);
        }
        let t = s.w.now() + ms(3_000);
        s.w.run_until(t);
        assert!(world_state(&s.w) == before, "seed {seed}: a replay changed some state");
        assert!(all_have(&s.w, S0, &s.a.id, ObjectStatus::Inactive));
        assert!(all_have(&s.w, S1, &s.b.id, ObjectStatus::Inactive));
        s.assert_output_once(ObjectStatus::Inactive);
        // What the replayer hears is the committed outcome of the original instance.
        for f in s.w.client(REPLAYER).finished() {
            assert_eq!((f.instance, &f.outcome), (1, &Outcome::Commit), "seed {seed}");
        }
        s.assert_safe();
    }
}

// ---------------------------------------------------------------------------------------
// Replayed votes.
// ---------------------------------------------------------------------------------------

/// Shard 1's abort votes of instance 1, recorded, are replayed to shard 0 together with
/// shard 1's votes of instance 2 (so while shard 0 prepares the retry, or just after):
/// shard 0 does not abort instance 2 because of them, and both shards commit it.
#[test]
fn replaying_first_instance_abort_votes_does_not_abort_the_retry() {
    for seed in seeds() {
        let mut s = setup(seed, NetworkModel::default());
        s.first_instance_aborts();
        let old: Vec<_> =
            s.att.borrow().votes(s.id, 1, S1).into_iter().filter(|v| v.to_shard(S0)).collect();
        assert_eq!(old.len(), 16, "seed {seed}: every shard-1 vote to every shard-0 replica");
        assert!(old.iter().all(|v| v.vote().is_some_and(|m| !m.vote.commit)));
        for v in old {
            s.att.borrow_mut().inject(v.from, v.to, v.msg);
        }
        s.retry_commits();
        assert_eq!(s.att.borrow().due(), 0, "seed {seed}: every replay went out");
        assert_eq!(s.att.borrow().emitted().len(), 16);
        s.assert_committed(2, ObjectStatus::Active);
        s.assert_safe();
    }
}

/// The same replay against a shard that only creates `T`'s output (it never prepares
/// `T`, so its record comes from accepts alone).
#[test]
fn replaying_first_instance_abort_votes_to_an_output_only_shard_does_not_abort_the_retry() {
    for seed in seeds() {
        let mut s = setup(seed, NetworkModel::default());
        // U consumes `e` (shard 1) and creates its output on shard 0.
        let e = s.e.clone();
        let u = dummy::consume(std::slice::from_ref(&e), true);
        let out = outputs(&u).remove(0);
        assert_eq!((shard_of(&e.id, SHARDS), shard_of(&out.id, SHARDS)), (S1, S0));
        let uid = u.digest();
        s.ledger.txs.insert(uid, u.clone());
        let good = TransactionRequest { transaction: u, store: [(e.id, e.value.clone())].into() };
        let mut bad = good.clone();
        bad.store.insert(e.id, dummy::object_value("forged", 0));
        let now = s.w.now();
        s.w.submit_at(now, HONEST, bad, 1);
        assert!(
            matches!(outcome_of(&mut s.w, HONEST, uid, 1, ms(5_000)), Some(Outcome::Abort(_))),
            "seed {seed}"
        );
        settle(&mut s.w);
        let old: Vec<_> =
            s.att.borrow().votes(uid, 1, S1).into_iter().filter(|v| v.to_shard(S0)).collect();
        assert_eq!(old.len(), 16, "seed {seed}");
        assert!(
            old.iter().all(|v| v.vote().is_some_and(|m| !m.vote.commit && m.transaction.is_some()))
        );
        for v in old {
            s.att.borrow_mut().inject(v.from, v.to, v.msg);
        }
        let now = s.w.now();
        s.w.submit_at(now, HONEST, good, 2);
        assert_eq!(
            outcome_of(&mut s.w, HONEST, uid, 2, ms(10_000)),
            Some(Outcome::Commit),
            "seed {seed}"
        );
        settle(&mut s.w);
        assert_eq!(s.att.borrow().due(), 0, "seed {seed}");
        let want = Some(TxRecord { instance: 2, phase: Phase::Accepted(Outcome::Commit) });
        for shard in [S0, S1] {
            assert!(records(&s.w, shard, &uid).iter().all(|r| *r == want), "seed {seed} {shard}");
        }
        assert!(all_have(&s.w, S0, &out.id, ObjectStatus::Active), "seed {seed}");
        assert!(all_have(&s.w, S1, &e.id, ObjectStatus::Inactive), "seed {seed}");
        s.assert_safe();
    }
}

/// The attacker rewrites recorded abort votes of instance 1 to claim instance 2 (the
/// signature stays that of instance 1) and delivers them to shard 0 before the genuine
/// votes of instance 2, for two of shard 1's four replicas. A vote whose signature does
/// not verify must count for nothing: shard 0 neither aborts nor stalls.
#[test]
fn relabelled_abort_votes_neither_abort_nor_block_the_retry() {
    let mut s = setup(0, NetworkModel::fixed(ms(1)));
    s.first_instance_aborts();
    let old: Vec<_> = s
        .att
        .borrow()
        .votes(s.id, 1, S1)
        .into_iter()
        .filter(|v| v.to_shard(S0) && v.from.index < 2)
        .collect();
    assert_eq!(old.len(), 8);
    for v in old {
        let ReplicaMessage::Vote(mut m) = v.msg else { unreachable!("a vote") };
        m.vote.instance = 2;
        s.att.borrow_mut().inject(v.from, v.to, ReplicaMessage::Vote(m));
    }
    let good = s.good.clone();
    s.submit(HONEST, &good, 2);
    assert_eq!(s.outcome(2, ms(10_000)), Some(Outcome::Commit));
    let t = s.w.now() + ms(10_000);
    s.w.run_until(t);
    assert_eq!(s.att.borrow().due(), 0, "every rewritten vote went out");
    s.assert_committed(2, ObjectStatus::Active);
    s.assert_safe();
}

/// Every vote ever sent on `T` (both instances, every link) is replayed after both shards
/// accepted instance 2, riding on the votes of another transaction: nothing about `T`
/// changes, and the other transaction commits normally.
#[test]
fn replaying_votes_to_shards_that_already_accepted_has_no_effect() {
    for seed in seeds() {
        let mut s = setup(seed, NetworkModel::default());
        s.first_instance_aborts();
        s.retry_commits();
        s.assert_committed(2, ObjectStatus::Active);
        let before: Vec<_> = [S0, S1].iter().map(|sh| records(&s.w, *sh, &s.id)).collect();
        let mut replays = Vec::new();
        for instance in [1, 2] {
            for shard in [S0, S1] {
                replays.extend(s.att.borrow().votes(s.id, instance, shard));
            }
        }
        // 8 replicas, each voting to the 7 others, in each instance.
        assert_eq!(replays.len(), 2 * 8 * 7, "seed {seed}");
        let n = replays.len();
        for v in replays {
            s.att.borrow_mut().inject(v.from, v.to, v.msg);
        }
        s.carrier();
        assert_eq!(s.att.borrow().due(), 0, "seed {seed}: every replay went out");
        assert_eq!(s.att.borrow().emitted().len(), n);
        let after: Vec<_> = [S0, S1].iter().map(|sh| records(&s.w, *sh, &s.id)).collect();
        assert_eq!(after, before, "seed {seed}");
        s.assert_committed(2, ObjectStatus::Active);
        s.assert_safe();
    }
}

// ---------------------------------------------------------------------------------------
// Replayed accepts.
// ---------------------------------------------------------------------------------------

/// While instance 2 holds `a` locked on shard 0 (shard 1 is cut off, so the retry cannot
/// finish yet), the attacker gets shard 0 to order instance 1's accept again: the very
/// command shard 0 ordered before, and a new one assembling all four recorded abort votes
/// of shard 1 into a certificate. The lock stays with instance 2 until instance 2's own
/// accept, which commits.
#[test]
fn replaying_an_old_accept_does_not_release_locks_taken_by_the_retry() {
    for seed in seeds() {
        let mut s = setup(seed, NetworkModel::default());
        s.first_instance_aborts();
        // The instance-1 accept shard 0 ordered, as its primary pre-prepared it.
        let recorded = s
            .att
            .borrow()
            .log()
            .iter()
            .filter(|m| m.from.shard == S0)
            .filter_map(|m| match &m.msg {
                ReplicaMessage::Consensus(AnyMessage::Pbft(Message::PrePrepare(p))) => Some(p.batch.clone()),
                _ => None,
            })
            .flatten()
            .find(|c| {
                matches!(SbacCommand::decode(c.as_bytes()),
                    Ok(SbacCommand::Accept(acc)) if acc.transaction.digest() == s.id && acc.instance == 1)
            })
            .expect("shard 0 ordered instance 1's accept");
        // A fresh certificate from every recorded abort vote of shard 1.
        let mut votes: Vec<_> = s
            .att
            .borrow()
            .votes(s.id, 1, S1)
            .iter()
            .filter_map(|v| {
                v.vote().map(|m| (m.vote.replica, m.vote.signature, m.vote.reason.clone()))
            })
            .collect();
        votes.sort_by_key(|v| v.0);
        votes.dedup_by_key(|v| v.0);
        assert_eq!(votes.len(), 4);
        let cert = ShardCertificate {
            shard: S1,
            commit: false,
            votes: votes.iter().map(|(r, sig, _)| (*r, *sig)).collect(),
            reason: votes[0].2.clone(),
        };
        let old = SbacCommand::Accept(Accept {
            transaction: s.tx.clone(),
            instance: 1,
            certificates: vec![cert],
        });
        let assembled = Command::new(old.encode());

        // Cut shard 1 off while instance 2 starts.
        let start = s.w.now();
        let shard1: Vec<u32> = (0..REPLICAS).map(|i| s.w.node_of(rid(S1, i))).collect();
        s.w.partition(Partition { start, end: start + ms(1_500), groups: vec![shard1] });
        let good = s.good.clone();
        s.submit(HONEST, &good, 2);
        let locked2 = ObjectStatus::Locked { tx: s.id, instance: 2 };
        let a = s.a.id;
        assert!(
            s.w.run_until_cond(start + ms(600), ms(5), |w| all_have(w, S0, &a, locked2)),
            "seed {seed}: shard 0 locks a for instance 2"
        );
        let primary =
            s.w.replica(rid(S0, 0)).consensus().as_pbft().expect("PBFT").view() as u32 % REPLICAS;
        let backup = rid(S0, (primary + 1) % REPLICAS);
        let msg = ReplicaMessage::Consensus(AnyMessage::Pbft(Message::Request(vec![
            recorded,
            assembled.clone(),
        ])));
        s.att.borrow_mut().inject(backup, Addr::Replica(rid(S0, primary)), msg);
        let logged = s.att.borrow().log().len();
        assert!(s.w.run_until_cond(start + ms(1_400), ms(5), |_| s.att.borrow().due() == 0));
        let t = s.w.now() + ms(100);
        s.w.run_until(t);
        assert!(t < start + ms(1_500), "seed {seed}: still inside the partition");
        // Shard 0 did order the assembled accept...
        let ordered = s.att.borrow().log()[logged..].iter().any(|m| {
            m.from == rid(S0, primary)
                && matches!(&m.msg, ReplicaMessage::Consensus(AnyMessage::Pbft(Message::PrePrepare(p))) if p.batch.contains(&assembled))
        });
        assert!(ordered, "seed {seed}: the replayed accept was ordered");
        // ... and it changed nothing.
        assert!(all_have(&s.w, S0, &a, locked2), "seed {seed}: {:?}", statuses(&s.w, S0, &a));
        let want =
            Some(TxRecord { instance: 2, phase: Phase::Prepared { commit: true, reason: None } });
        assert!(records(&s.w, S0, &s.id).iter().all(|r| *r == want), "seed {seed}");

        assert_eq!(s.outcome(2, ms(15_000)), Some(Outcome::Commit), "seed {seed}");
        settle(&mut s.w);
        s.assert_committed(2, ObjectStatus::Active);
        s.assert_safe();
    }
}

// ---------------------------------------------------------------------------------------
// Replayed outcomes.
// ---------------------------------------------------------------------------------------

/// Shard 1's reports of instance 1 (abort) are replayed to the client just before its
/// reports of instance 2: the client takes the commit of instance 2.
#[test]
fn replaying_first_instance_outcomes_does_not_fool_the_client() {
    for seed in seeds() {
        let mut s = setup(seed, NetworkModel::default());
        s.first_instance_aborts();
        let old: Vec<_> = s
            .att
            .borrow()
            .log()
            .iter()
            .filter(|m| {
                m.to == Addr::Client(HONEST as u64)
                    && matches!(&m.msg, ReplicaMessage::Outcome(o) if o.tx == s.id && o.instance == 1)
            })
            .cloned()
            .collect();
        assert!(old.len() >= 4, "seed {seed}: {} reports of instance 1", old.len());
        for m in old {
            s.att.borrow_mut().inject(m.from, m.to, m.msg);
        }
        s.retry_commits();
        assert!(s.att.borrow().emitted().len() >= 4, "seed {seed}: the old reports went out");
        s.assert_committed(2, ObjectStatus::Active);
        s.assert_safe();
    }
}

// ---------------------------------------------------------------------------------------
// Locks with a stale instance.
// ---------------------------------------------------------------------------------------

/// The DoS of a stale instance: shard 0 never saw instance 1 (cut off while it ran, and
/// shard 1's abort votes of it delayed by the attacker); once instance 1 is over, the
/// attacker replays its submission to shard 0, which locks `a` for a dead instance.
/// Returns once every replica of shard 0 holds that lock.
fn lock_with_a_stale_instance(s: &mut Setup, hold_votes: bool) {
    let id = s.id;
    if hold_votes {
        s.att
            .borrow_mut()
            .hold(move |m| m.from.shard == S1 && m.to_shard(S0) && m.is_vote_on(id, 1));
    }
    let start = s.w.now();
    let mut group: Vec<u32> = (0..REPLICAS).map(|i| s.w.node_of(rid(S1, i))).collect();
    group.push(s.w.client_node(HONEST));
    s.w.partition(Partition { start, end: start + ms(500), groups: vec![group] });
    let bad = s.bad.clone();
    s.submit(HONEST, &bad, 1);
    assert!(matches!(s.outcome(1, ms(400)), Some(Outcome::Abort(_))), "shard 1 aborts instance 1");
    s.w.run_until(start + ms(501));
    assert!(records(&s.w, S0, &id).iter().all(Option::is_none), "shard 0 never saw instance 1");
    if hold_votes {
        assert_eq!(s.att.borrow().held().len(), 16);
        s.att.borrow_mut().stop_holding();
    }
    let replay = s.bad.clone();
    s.submit(REPLAYER, &replay, 1);
    let stale = ObjectStatus::Locked { tx: id, instance: 1 };
    let a = s.a.id;
    let until = s.w.now() + ms(1_000);
    assert!(s.w.run_until_cond(until, ms(5), |w| all_have(w, S0, &a, stale)), "the stale lock");
}

/// The stale lock goes once shard 1's abort votes of instance 1 arrive (held back by the
/// attacker, then released), or earlier, when shard 1 answers shard 0's late votes for
/// the instance it finished. The retry, submitted after that, commits.
#[test]
fn a_stale_instance_lock_is_released_when_its_abort_votes_arrive() {
    for seed in seeds() {
        let mut s = setup(seed, NetworkModel::default());
        lock_with_a_stale_instance(&mut s, true);
        let t = s.w.now() + ms(1_000);
        s.w.run_until(t);
        s.att.borrow_mut().release();
        s.carrier();
        assert!(all_have(&s.w, S0, &s.a.id, ObjectStatus::Active), "seed {seed}");
        for r in records(&s.w, S0, &s.id) {
            assert!(
                matches!(
                    r,
                    Some(TxRecord { instance: 1, phase: Phase::Accepted(Outcome::Abort(_)) })
                ),
                "seed {seed}: {r:?}"
            );
        }
        s.retry_commits();
        s.assert_committed(2, ObjectStatus::Active);
        s.assert_safe();
    }
}

/// As above, but the honest client retries (instance 2) while shard 0 still holds the
/// stale lock; shard 1's abort votes of instance 1 arrive afterwards, with shard 1's
/// votes of instance 2. Once the stale instance is settled, the retry must go through.
#[test]
fn a_retry_refused_during_a_stale_lock_goes_through_once_the_lock_is_released() {
    for seed in seeds() {
        let mut s = setup(seed, NetworkModel::default());
        lock_with_a_stale_instance(&mut s, true);
        let good = s.good.clone();
        s.submit(HONEST, &good, 2);
        let t = s.w.now() + ms(100);
        s.w.run_until(t);
        s.att.borrow_mut().release();
        assert_eq!(s.outcome(2, ms(20_000)), Some(Outcome::Commit), "seed {seed}");
        settle(&mut s.w);
        s.assert_committed(2, ObjectStatus::Active);
        s.assert_safe();
    }
}

/// The same race with no replay at all: shard 1's abort votes of instance 1 reach shard 0
/// late (the network is slow on that link), the client learns the abort from shard 1 and
/// retries at once, while shard 0 still holds `a` for instance 1.
#[test]
fn a_retry_racing_the_abort_of_the_first_instance_goes_through() {
    for seed in seeds() {
        let mut s = setup(seed, NetworkModel::default());
        let id = s.id;
        s.att
            .borrow_mut()
            .hold(move |m| m.from.shard == S1 && m.to_shard(S0) && m.is_vote_on(id, 1));
        let bad = s.bad.clone();
        s.submit(HONEST, &bad, 1);
        assert!(matches!(s.outcome(1, ms(5_000)), Some(Outcome::Abort(_))), "seed {seed}");
        assert!(all_have(&s.w, S0, &s.a.id, ObjectStatus::Locked { tx: id, instance: 1 }));
        s.att.borrow_mut().stop_holding();
        let good = s.good.clone();
        s.submit(HONEST, &good, 2);
        let t = s.w.now() + ms(100);
        s.w.run_until(t);
        s.att.borrow_mut().release();
        let o = s.outcome(2, ms(20_000));
        if std::env::var("DEBUG_REPLAY").is_ok() {
            let p2 = Command::new(
                SbacCommand::Prepare(chainspace_core::sbac::Submission {
                    request: s.good.clone(),
                    instance: 2,
                })
                .encode(),
            );
            let att = s.att.borrow();
            let pp: Vec<_> = att.log().iter().filter(|m| m.from.shard == S0 && matches!(&m.msg, ReplicaMessage::Consensus(AnyMessage::Pbft(Message::PrePrepare(p))) if p.batch.contains(&p2))).map(|m| (m.from, m.to)).collect();
            let submits = att.log().len();
            eprintln!("seed {seed}: preprepares of Prepare(2) on shard 0: {pp:?} log {submits}");
            eprintln!("S0 records {:?}", records(&s.w, S0, &s.id));
            eprintln!("S1 records {:?}", records(&s.w, S1, &s.id));
            eprintln!("a {:?} b {:?}", statuses(&s.w, S0, &s.a.id), statuses(&s.w, S1, &s.b.id));
            eprintln!("client pending {}", s.w.client(HONEST).pending());
        }
        assert_eq!(o, Some(Outcome::Commit), "seed {seed}");
        settle(&mut s.w);
        s.assert_committed(2, ObjectStatus::Active);
        s.assert_safe();
    }
}

/// The stale-instance DoS when shard 1's abort votes of instance 1 were not delayed but
/// lost (shard 0 was partitioned while they were sent): shard 0's commit votes for the
/// stale instance do reach shard 1 after the partition, yet shard 1, done with instance
/// 1, never answers them. Shard 0 must still get rid of the stale lock.
#[test]
fn a_stale_instance_lock_is_released_even_if_its_abort_votes_were_lost() {
    for seed in seeds() {
        let mut s = setup(seed, NetworkModel::default());
        lock_with_a_stale_instance(&mut s, false);
        let a = s.a.id;
        let until = s.w.now() + ms(10_000);
        let freed =
            s.w.run_until_cond(until, ms(20), |w| all_have(w, S0, &a, ObjectStatus::Active));
        assert!(freed, "seed {seed}: still {:?}", statuses(&s.w, S0, &a));
        s.retry_commits();
        s.assert_committed(2, ObjectStatus::Active);
        s.assert_safe();
    }
}
