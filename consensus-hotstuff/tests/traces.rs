//! Protocol traces of small named scenarios, under insta snapshots, and the simulator's
//! determinism on HotStuff.
//!
//! A snapshot diff is how a change of protocol behaviour shows up for review. Accept
//! intended changes with `INSTA_UPDATE=always cargo test -p consensus-hotstuff --test
//! traces` and review the diff like code.

mod common;

use std::time::Duration;

use chainspace_core::consensus::Consensus;
use chainspace_core::sim::{NetworkModel, Partition, Simulation, TraceKind};
use chainspace_core::types::Command;
use common::{replica, sim_config};
use consensus_hotstuff::{HotStuff, HotStuffConfig};

fn sim(n: usize, seed: u64, cfg: HotStuffConfig, network: NetworkModel) -> Simulation<HotStuff> {
    Simulation::new(n, seed, network, move |i| replica(&cfg, n, i))
}

/// Trace lines without idle round-timer ticks, which add nothing to read.
fn lines(sim: &Simulation<HotStuff>) -> Vec<String> {
    sim.trace.lines_where(
        |e| !matches!(&e.kind, TraceKind::Timer { timer, .. } if timer.starts_with("Round")),
    )
}

#[test]
fn one_command_through_the_three_chain() {
    let mut s = sim(4, 1, sim_config(), NetworkModel::fixed(Duration::from_millis(1)));
    for r in 0..4 {
        s.propose_at(Duration::ZERO, r, Command::new(b"inc".to_vec()));
    }
    s.run_until(Duration::from_millis(20));
    for r in 0..4 {
        assert_eq!(s.app(r).last(), 1, "r{r} delivered the block");
        assert_eq!(s.app(r).batches[&1].len(), 1);
    }
    insta::assert_yaml_snapshot!("one_command_through_the_three_chain", lines(&s));
}

#[test]
fn leader_timeout_and_recovery() {
    let mut s = sim(4, 1, sim_config(), NetworkModel::fixed(Duration::from_millis(1)));
    s.crash_at(Duration::ZERO, 0);
    for r in 1..4 {
        s.propose_at(Duration::from_millis(1), r, Command::new(b"inc".to_vec()));
    }
    s.run_until(Duration::from_millis(400));
    for r in 1..4 {
        assert_eq!(s.app(r).last(), 1, "r{r} delivered the command after round 1 timed out");
        assert_eq!(s.consensus(r).stats().view_changes, 1, "one timeout certificate");
    }
    insta::assert_yaml_snapshot!("leader_timeout_and_recovery", lines(&s));
}

/// A run with every kind of fault, for the determinism checks.
fn faulty_run(seed: u64) -> Vec<String> {
    let network = NetworkModel {
        drop_rate: 0.05,
        duplicate_rate: 0.05,
        reorder_rate: 0.1,
        ..NetworkModel::default()
    };
    let mut s = sim(4, seed, sim_config(), network);
    s.partition(Partition::isolate(0, Duration::from_millis(50), Duration::from_millis(300)));
    s.crash_at(Duration::from_millis(20), 2);
    s.restart_at(Duration::from_millis(250), 2, true);
    for k in 0..40u32 {
        let at = Duration::from_millis(5 * k as u64);
        for r in 0..4 {
            s.propose_at(at, r, Command::new(format!("c{k}").into_bytes()));
        }
    }
    s.run_until(Duration::from_secs(3));
    s.trace.lines()
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    let a = faulty_run(7);
    let b = faulty_run(7);
    assert!(a.len() > 300, "a substantial trace ({} events)", a.len());
    assert_eq!(a, b);
    let c = faulty_run(8);
    assert_ne!(a, c, "another seed gives another run");
}
