//! S-BAC traces of small named scenarios under insta snapshots: a single-shard commit,
//! a cross-shard commit, and a cross-shard abort (one shard's input already spent).
//!
//! Only S-BAC's own messages are kept (submissions, votes, outcomes); the consensus
//! messages inside each shard are PBFT's, snapshotted in `consensus-pbft`. Accept an
//! intended change with `INSTA_UPDATE=always cargo test -p chainspace-tests --test
//! sbac_traces` and review the diff.

use std::time::Duration;

use chainspace_contracts::dummy;
use chainspace_core::object::Object;
use chainspace_core::sbac::Outcome;
use chainspace_core::shard::shard_of;
use chainspace_core::sim::{NetworkModel, World};
use chainspace_core::types::ShardId;
use chainspace_tests::setup::Deployment;
use chainspace_tests::workload::{Ledger, outputs};
use consensus_any::AnyConsensus;

fn world() -> World<AnyConsensus> {
    let mut d = Deployment::new(2, 4);
    d.network = NetworkModel::fixed(Duration::from_millis(1));
    d.world(7)
}

/// Run until client 0 has `n` outcomes.
fn settle(w: &mut World<AnyConsensus>, n: usize) {
    let ok = w.run_until_cond(Duration::from_secs(10), Duration::from_millis(5), |w| {
        w.client(0).finished().len() >= n
    });
    assert!(ok, "outcome {n} arrived");
}

/// The S-BAC lines of the trace from `from` on.
fn sbac_lines(w: &World<AnyConsensus>, from: usize) -> Vec<String> {
    w.trace.events[from..]
        .iter()
        .map(ToString::to_string)
        .filter(|l| [" Submit ", " Vote ", " Outcome "].iter().any(|k| l.contains(k)))
        .collect()
}

/// Objects on shard 0 and shard 1, created (and committed) before the trace starts.
fn two_objects(w: &mut World<AnyConsensus>, ledger: &mut Ledger) -> (Object, Object) {
    let create = dummy::create("trace-objects", 8);
    let objs = outputs(&create);
    ledger.submit(w, Duration::ZERO, 0, create, &[]);
    settle(w, 1);
    let on = |s| objs.iter().find(|o| shard_of(&o.id, 2) == ShardId(s)).cloned().expect("object");
    (on(0), on(1))
}

#[test]
fn single_shard_commit() {
    let mut w = world();
    w.trace.enabled = true;
    let mut ledger = Ledger::default();
    let create = dummy::create("single", 1);
    ledger.submit(&mut w, Duration::ZERO, 0, create, &[]);
    settle(&mut w, 1);
    assert_eq!(w.client(0).finished()[0].outcome, Outcome::Commit);
    insta::assert_yaml_snapshot!("single_shard_commit", sbac_lines(&w, 0));
}

#[test]
fn cross_shard_commit() {
    let mut w = world();
    let mut ledger = Ledger::default();
    let (a, b) = two_objects(&mut w, &mut ledger);
    w.trace.enabled = true;
    let start = w.trace.events.len();
    let at = w.now();
    ledger.submit(&mut w, at, 0, dummy::consume(&[a.clone(), b.clone()], false), &[&a, &b]);
    settle(&mut w, 2);
    assert_eq!(w.client(0).finished()[1].outcome, Outcome::Commit);
    insta::assert_yaml_snapshot!("cross_shard_commit", sbac_lines(&w, start));
}

#[test]
fn cross_shard_abort_when_one_input_is_spent() {
    let mut w = world();
    let mut ledger = Ledger::default();
    let (a, b) = two_objects(&mut w, &mut ledger);
    let at = w.now();
    ledger.submit(&mut w, at, 0, dummy::consume(std::slice::from_ref(&b), false), &[&b]);
    settle(&mut w, 2);
    w.trace.enabled = true;
    let start = w.trace.events.len();
    let at = w.now();
    ledger.submit(&mut w, at, 0, dummy::consume(&[a.clone(), b.clone()], true), &[&a, &b]);
    settle(&mut w, 3);
    let last = &w.client(0).finished()[2];
    assert!(matches!(&last.outcome, Outcome::Abort(r) if r.contains("inactive")), "{last:?}");
    insta::assert_yaml_snapshot!("cross_shard_abort", sbac_lines(&w, start));
}
