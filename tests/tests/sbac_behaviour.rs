//! S-BAC behaviours named in the design, each on 2 shards x 4 PBFT replicas in the
//! simulator: checker timeouts and rejections abort with a reason; a transaction
//! submitted twice gets one outcome for both submitters; an aborted transaction can be
//! retried as a new instance; references must be active and are not consumed.

use std::time::Duration;

use chainspace_contracts::{addition, dummy, vote};
use chainspace_core::crypto::Keypair;
use chainspace_core::object::{ObjectId, ObjectStatus};
use chainspace_core::sbac::Outcome;
use chainspace_core::shard::shard_of;
use chainspace_core::sim::World;
use chainspace_core::transaction::TransactionRequest;
use chainspace_tests::setup::Deployment;
use chainspace_tests::workload::{Ledger, outputs};
use consensus_any::AnyConsensus;

fn world(clients: usize) -> World<AnyConsensus> {
    let mut d = Deployment::new(2, 4);
    d.clients = clients;
    d.world(3)
}

fn settle(w: &mut World<AnyConsensus>, client: usize, n: usize) {
    let ok = w.run_until_cond(Duration::from_secs(20), Duration::from_millis(5), |w| {
        w.client(client).finished().len() >= n
    });
    assert!(ok, "client {client} got {n} outcomes");
}

fn outcome(w: &World<AnyConsensus>, client: usize, k: usize) -> Outcome {
    w.client(client).finished()[k].outcome.clone()
}

/// The status of `id` at every replica of its shard (all equal).
fn status(w: &World<AnyConsensus>, id: &ObjectId) -> ObjectStatus {
    let shard = shard_of(id, w.committee().num_shards());
    let all: Vec<ObjectStatus> = w
        .shard_ids(shard)
        .into_iter()
        .map(|r| w.replica(r).engine().store().get(id).unwrap().expect("object exists").status)
        .collect();
    assert!(all.windows(2).all(|p| p[0] == p[1]), "replicas agree: {all:?}");
    all[0]
}

#[test]
fn a_hung_checker_aborts_with_a_reason_within_the_timeout() {
    let mut w = world(1);
    w.check_delays.insert("addition".into(), Duration::MAX);
    let mut ledger = Ledger::default();
    ledger.submit(&mut w, Duration::ZERO, 0, addition::init(), &[]);
    settle(&mut w, 0, 1);
    let o = outcome(&w, 0, 0);
    assert!(o.reason().is_some_and(|r| r.contains("timed out")), "{o:?}");
    // Answered within a few check timeouts (200 ms), not after the client gave up.
    assert!(w.now() < Duration::from_secs(2), "took {:?}", w.now());
    // Other contracts are unaffected.
    ledger.submit_now(&mut w, 0, dummy::create("after", 2), &[]);
    settle(&mut w, 0, 2);
    assert_eq!(outcome(&w, 0, 1), Outcome::Commit);
}

#[test]
fn a_rejected_check_aborts_with_the_checkers_reason() {
    let mut w = world(1);
    let mut ledger = Ledger::default();
    let mut bad = addition::init();
    bad.outputs = vec!["7".into()];
    ledger.submit(&mut w, Duration::ZERO, 0, bad, &[]);
    settle(&mut w, 0, 1);
    let o = outcome(&w, 0, 0);
    assert!(o.reason().is_some_and(|r| r.contains("checker rejected")), "{o:?}");
}

#[test]
fn a_transaction_submitted_twice_gets_one_outcome_for_both_submitters() {
    let mut w = world(2);
    let mut ledger = Ledger::default();
    let create = dummy::create("twice", 4);
    ledger.submit(&mut w, Duration::ZERO, 0, create.clone(), &[]);
    ledger.submit(&mut w, Duration::from_micros(300), 1, create.clone(), &[]);
    settle(&mut w, 0, 1);
    settle(&mut w, 1, 1);
    assert_eq!((outcome(&w, 0, 0), outcome(&w, 1, 0)), (Outcome::Commit, Outcome::Commit));
    for o in outputs(&create) {
        assert_eq!(status(&w, &o.id), ObjectStatus::Active);
    }
    let id = create.digest();
    for r in w.replica_ids() {
        if let Some(rec) = w.replica(r).engine().record(&id) {
            assert_eq!(rec.instance, 1, "{r}: one instance");
        }
    }
}

#[test]
fn an_aborted_transaction_is_retried_as_a_new_instance() {
    let mut w = world(1);
    let mut ledger = Ledger::default();
    let create = dummy::create("retry", 8);
    let objs = outputs(&create);
    ledger.submit(&mut w, Duration::ZERO, 0, create, &[]);
    settle(&mut w, 0, 1);
    let a = objs.iter().find(|o| shard_of(&o.id, 2).0 == 0).unwrap().clone();
    let b = objs.iter().find(|o| shard_of(&o.id, 2).0 == 1).unwrap().clone();
    let tx = dummy::consume(&[a.clone(), b.clone()], true);
    // Attempt 1 claims a wrong value for `b`: shard 1 aborts, shard 0 releases its lock.
    let wrong = TransactionRequest {
        transaction: tx.clone(),
        store: [(a.id, a.value.clone()), (b.id, "not the value".into())].into_iter().collect(),
    };
    w.submit_at(w.now(), 0, wrong, 1);
    settle(&mut w, 0, 2);
    assert!(matches!(outcome(&w, 0, 1), Outcome::Abort(_)), "{:?}", outcome(&w, 0, 1));
    assert_eq!(status(&w, &a.id), ObjectStatus::Active, "attempt 1 left no lock");
    // Attempt 2 with the right values commits.
    let right = TransactionRequest {
        transaction: tx.clone(),
        store: [(a.id, a.value.clone()), (b.id, b.value.clone())].into_iter().collect(),
    };
    w.submit_at(w.now(), 0, right, 2);
    settle(&mut w, 0, 3);
    assert_eq!(outcome(&w, 0, 2), Outcome::Commit);
    assert_eq!(w.client(0).finished()[2].instance, 2);
    assert_eq!(
        (status(&w, &a.id), status(&w, &b.id)),
        (ObjectStatus::Inactive, ObjectStatus::Inactive)
    );
}

#[test]
fn references_must_be_active_and_are_not_consumed() {
    let mut w = world(1);
    let mut ledger = Ledger::default();
    let voter = Keypair::from_label("voter");
    let create = vote::create(&["yes".into(), "no".into()], &[voter.public()], "ref").unwrap();
    let election = outputs(&create).remove(0);
    ledger.submit(&mut w, Duration::ZERO, 0, create, &[]);
    settle(&mut w, 0, 1);
    // Reading it leaves it active.
    ledger.submit_now(&mut w, 0, vote::tally(&election).unwrap(), &[&election]);
    settle(&mut w, 0, 2);
    assert_eq!(outcome(&w, 0, 1), Outcome::Commit);
    assert_eq!(status(&w, &election.id), ObjectStatus::Active);
    // Consume it with a vote; reading the old version is then refused.
    ledger.submit_now(&mut w, 0, vote::cast(&election, 0, &voter).unwrap(), &[&election]);
    settle(&mut w, 0, 3);
    assert_eq!(outcome(&w, 0, 2), Outcome::Commit);
    let mut stale = vote::tally(&election).unwrap();
    stale.parameters = vec![serde_json::json!("again")];
    ledger.submit_now(&mut w, 0, stale, &[&election]);
    settle(&mut w, 0, 4);
    let o = outcome(&w, 0, 3);
    assert!(o.reason().is_some_and(|r| r.contains("inactive")), "{o:?}");
}

#[test]
fn dependencies_are_checked_and_their_objects_handled_like_the_parents() {
    let mut w = world(1);
    let mut ledger = Ledger::default();
    let init = addition::init();
    let counter = outputs(&init).remove(0);
    let create = dummy::create("with-dependency", 2);
    let d = outputs(&create).remove(0);
    ledger.submit(&mut w, Duration::ZERO, 0, init, &[]);
    ledger.submit(&mut w, Duration::ZERO, 0, create, &[]);
    settle(&mut w, 0, 2);
    // A dummy call that nests an increment of the counter.
    let nested = addition::increment(&counter).unwrap();
    let mut parent = dummy::consume(std::slice::from_ref(&d), false);
    parent.dependencies = vec![nested.clone()];
    // A broken nested call (wrong output) makes the whole transaction abort.
    let mut broken = parent.clone();
    broken.dependencies[0].outputs = vec!["5".into()];
    ledger.submit_now(&mut w, 0, broken, &[&d, &counter]);
    settle(&mut w, 0, 3);
    let o = outcome(&w, 0, 2);
    assert!(o.reason().is_some_and(|r| r.contains("checker rejected")), "{o:?}");
    assert_eq!(status(&w, &counter.id), ObjectStatus::Active);
    // The valid one commits: both inputs consumed, the nested output created.
    ledger.submit_now(&mut w, 0, parent, &[&d, &counter]);
    settle(&mut w, 0, 4);
    assert_eq!(outcome(&w, 0, 3), Outcome::Commit);
    assert_eq!(
        (status(&w, &d.id), status(&w, &counter.id)),
        (ObjectStatus::Inactive, ObjectStatus::Inactive)
    );
    let one = outputs(&nested).remove(0);
    assert_eq!(status(&w, &one.id), ObjectStatus::Active);
}
