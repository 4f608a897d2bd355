//! The simulator's CPU cost model: free by default; with a cost, every replica is one CPU
//! (work delays what it sends, messages queue while it is busy), and its modelled CPU
//! time is exactly the work charged, never more than the time that passed.

use std::time::Duration;

use chainspace_contracts::dummy;
use chainspace_core::sbac::Outcome;
use chainspace_core::sim::{CostModel, World};
use chainspace_tests::setup::Deployment;
use chainspace_tests::workload::{Ledger, outputs};
use consensus_any::AnyConsensus;

/// One client creates `n` objects in one transaction, then consumes them one transaction
/// at a time, each sent when the previous one has its outcome. Returns the world and the
/// virtual time the consumes took.
fn closed_loop(cost: CostModel, n: usize) -> (World<AnyConsensus>, Duration) {
    let mut w = Deployment::new(1, 4).world(7);
    w.cost = cost;
    let mut ledger = Ledger::default();
    let create = dummy::create("cost", n);
    let objects = outputs(&create);
    ledger.submit(&mut w, Duration::ZERO, 0, create, &[]);
    let limit = Duration::from_secs(60);
    let done = |k: usize| move |w: &World<AnyConsensus>| w.client(0).finished().len() == k;
    assert!(w.run_until_cond(limit, Duration::from_millis(1), done(1)));
    let start = w.now();
    for (k, o) in objects.iter().enumerate() {
        ledger.submit_now(&mut w, 0, dummy::consume(std::slice::from_ref(o), false), &[o]);
        assert!(w.run_until_cond(limit, Duration::from_millis(1), done(k + 2)));
    }
    assert!(w.client(0).finished().iter().all(|f| f.outcome == Outcome::Commit));
    let took = w.now() - start;
    (w, took)
}

#[test]
fn free_by_default_and_work_is_charged_exactly() {
    let (w, _) = closed_loop(CostModel::default(), 3);
    for id in w.replica_ids() {
        let u = w.usage(id);
        assert_eq!(u.busy, Duration::ZERO);
        assert!(u.messages_in > 0 && u.messages_out > 0, "{id}: {u:?}");
    }
    let cost = CostModel {
        per_message: Duration::from_micros(300),
        per_check: Duration::from_micros(700),
    };
    let (w, _) = closed_loop(cost, 3);
    for id in w.replica_ids() {
        let u = w.usage(id);
        let expected = cost.per_message * u.messages_in as u32 + cost.per_check * u.checks as u32;
        assert_eq!(u.busy, expected, "{id}: {u:?}");
        assert!(u.checks >= 3, "every replica checks every transaction: {u:?}");
    }
}

#[test]
fn work_adds_latency_and_never_outruns_time() {
    let (_, free) = closed_loop(CostModel::default(), 5);
    let slow = CostModel { per_message: Duration::from_millis(2), per_check: Duration::ZERO };
    let (w, costly) = closed_loop(slow, 5);
    // A one-shard commit is several message hops in sequence (submission, consensus
    // rounds, the outcome): each now costs 2 ms of work on top of the network.
    assert!(costly >= free + Duration::from_millis(5 * 2 * 3), "free {free:?}, costly {costly:?}");
    // No replica is ever busier than the time that passed.
    for id in w.replica_ids() {
        assert!(w.usage(id).busy <= w.now(), "{id}");
    }
}
