//! The consensus conformance suite, run on HotStuff over many seeds per scenario.
//!
//! Each scenario of `chainspace_core::sim::conformance::standard_scenarios` is checked for
//! agreement, total order without duplicates, validity and liveness after faults heal.
//! On top, each test checks that the scenario exercised what it is named after (a round
//! ended by timeout, a snapshot was installed), so a fault that silently stopped being
//! injected would fail the test rather than make it pass trivially.

mod common;

use chainspace_core::consensus::Consensus;
use chainspace_core::sim::Simulation;
use chainspace_core::sim::conformance::{Scenario, run_seeds_with, standard_scenarios};
use common::HotStuffSubject;
use consensus_hotstuff::HotStuff;

/// Seeds per scenario. CI runs 200; `HOTSTUFF_SEEDS` changes it (e.g. for soak runs).
fn seeds() -> std::ops::Range<u64> {
    let n = std::env::var("HOTSTUFF_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    0..n
}

fn scenario(name: &str, n: usize) -> Scenario {
    standard_scenarios(n, 0)
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no scenario {name}"))
}

/// Run a scenario over all seeds; `inspect` gets each run and counts what it saw.
fn run(
    name: &str,
    n: usize,
    mut inspect: impl FnMut(&Simulation<HotStuff>, &Scenario) -> bool,
) -> (u64, u64) {
    let subject = HotStuffSubject::default();
    let s = scenario(name, n);
    let mut seen = 0;
    let count = run_seeds_with(&subject, &s, seeds(), |sim, _| {
        if inspect(sim, &s) {
            seen += 1;
        }
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    (count as u64, seen)
}

/// Some correct replica entered a round through a timeout certificate.
fn timed_out(sim: &Simulation<HotStuff>, s: &Scenario) -> bool {
    s.correct().iter().any(|&r| sim.consensus(r).stats().view_changes >= 1)
}

#[test]
fn all_correct() {
    let interval = common::sim_config().checkpoint_interval;
    let (runs, collected) = run("all correct", 4, |sim, _| {
        (0..4).all(|r| {
            let c = sim.consensus(r);
            c.stable_checkpoint() >= interval && c.blocks_len() <= 4 * interval as usize
        })
    });
    assert_eq!(collected, runs, "every run reaches a stable checkpoint and trims its blocks");
    let (runs, to) = run("all correct", 4, timed_out);
    assert_eq!(to, 0, "no timeout without a fault ({runs} runs)");
}

#[test]
fn leader_crashes_mid_batch() {
    let (runs, to) = run("leader crashes mid-batch", 4, timed_out);
    assert_eq!(to, runs, "every run must time out the crashed leader's rounds");
}

#[test]
fn one_replica_silent() {
    run("one replica silent", 4, |_, _| true);
}

#[test]
fn equivocating_leader() {
    let (runs, seen) = run("equivocating leader", 4, |sim, s| {
        timed_out(sim, s)
            || s.correct().iter().any(|&r| sim.consensus(r).stats().invalid_messages > 0)
    });
    assert_eq!(seen, runs, "equivocation must be noticed: a round timed out or messages rejected");
}

#[test]
fn leader_partitioned_then_healed() {
    let (runs, to) = run("leader partitioned, then healed", 4, timed_out);
    assert_eq!(to, runs, "the isolated leader's rounds must time out");
}

#[test]
fn ten_percent_message_loss() {
    run("10% message loss", 4, |_, _| true);
}

#[test]
fn replica_restarts_from_nothing() {
    let (runs, installs) = run("replica restarts from nothing", 4, |sim, _| {
        sim.consensus(1).stats().snapshots_installed >= 1
    });
    assert!(installs * 2 >= runs, "most runs must catch up through a snapshot: {installs}/{runs}");
}

/// Seven replicas (f = 2) with the leader crashed: quorums of five.
#[test]
fn seven_replicas_leader_crash() {
    let (runs, to) = run("leader crashes mid-batch", 7, timed_out);
    assert_eq!(to, runs);
}

/// Everything at once: loss, duplication, reordering, the leader cut off for a while,
/// and another replica restarting from nothing.
#[test]
fn combined_faults() {
    use chainspace_core::sim::{NetworkModel, Partition};
    use std::time::Duration;
    let ms = Duration::from_millis;
    let base = scenario("all correct", 4);
    let s = Scenario {
        name: "combined faults",
        network: NetworkModel {
            drop_rate: 0.05,
            duplicate_rate: 0.05,
            reorder_rate: 0.1,
            ..NetworkModel::default()
        },
        partitions: vec![Partition::isolate(0, ms(80), ms(500))],
        crashes: vec![(ms(30), 2)],
        restarts: vec![(ms(350), 2, true)],
        propose_until: ms(700),
        commands: 100,
        ..base
    };
    run_seeds_with(&HotStuffSubject::default(), &s, seeds(), |_, _| Ok(()))
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Each command submitted to one replica only (not the leader, mostly): replicas forward
/// waiting commands to the leader when their round timer fires.
#[test]
fn commands_submitted_to_one_replica() {
    let s =
        Scenario { name: "one replica per command", to_all: false, ..scenario("all correct", 4) };
    run_seeds_with(&HotStuffSubject::default(), &s, seeds(), |_, _| Ok(()))
        .unwrap_or_else(|e| panic!("{e}"));
}
