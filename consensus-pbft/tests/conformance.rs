//! The consensus conformance suite, run on PBFT over many seeds per scenario.
//!
//! Each scenario of `chainspace_core::sim::conformance::standard_scenarios` is checked for
//! agreement, total order without duplicates, validity and liveness after faults heal.

mod common;

use chainspace_core::sim::conformance::{Scenario, run_seeds, standard_scenarios};
use common::PbftSubject;

/// Seeds per scenario. CI runs at least 200; `PBFT_SEEDS` raises it for soak runs.
fn seeds() -> std::ops::Range<u64> {
    let n = std::env::var("PBFT_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    0..n
}

fn scenario(name: &str, n: usize) -> Scenario {
    standard_scenarios(n, 0)
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no scenario {name}"))
}

fn run(name: &str) {
    let subject = PbftSubject::default();
    let s = scenario(name, 4);
    let count = run_seeds(&subject, &s, seeds()).unwrap_or_else(|e| panic!("{e}"));
    assert!(count >= 1);
}

#[test]
fn all_correct() {
    run("all correct");
}

#[test]
fn leader_crashes_mid_batch() {
    run("leader crashes mid-batch");
}

#[test]
fn one_replica_silent() {
    run("one replica silent");
}

#[test]
fn equivocating_leader() {
    run("equivocating leader");
}

#[test]
fn leader_partitioned_then_healed() {
    run("leader partitioned, then healed");
}

#[test]
fn ten_percent_message_loss() {
    run("10% message loss");
}

#[test]
fn replica_restarts_from_nothing() {
    run("replica restarts from nothing");
}

/// Seven replicas (f = 2) with the leader crashed: quorums of five.
#[test]
fn seven_replicas_leader_crash() {
    let subject = PbftSubject::default();
    let s = scenario("leader crashes mid-batch", 7);
    run_seeds(&subject, &s, seeds().take(50)).unwrap_or_else(|e| panic!("{e}"));
}
