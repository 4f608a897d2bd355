//! Protocol traces of small named scenarios, under insta snapshots, and the simulator's
//! determinism on PBFT.
//!
//! A snapshot diff is how a change of protocol behaviour shows up for review: if a
//! change makes PBFT send one message more, or reorders a step, the diff says so. Accept
//! intended changes with `INSTA_UPDATE=always cargo test -p consensus-pbft --test traces`
//! and review the diff like code.

mod common;

use std::time::Duration;

use chainspace_core::consensus::Consensus;
use chainspace_core::sim::{NetworkModel, Partition, Simulation, TraceKind};
use chainspace_core::types::Command;
use common::{replica, sim_config};
use consensus_pbft::{Pbft, PbftConfig};

fn sim(n: usize, seed: u64, cfg: PbftConfig, network: NetworkModel) -> Simulation<Pbft> {
    Simulation::new(n, seed, network, move |i| replica(&cfg, n, i))
}

/// Trace lines without the periodic housekeeping tick, which adds nothing to read.
fn lines(sim: &Simulation<Pbft>) -> Vec<String> {
    sim.trace.lines_where(|e| !matches!(&e.kind, TraceKind::Timer { timer, .. } if timer == "Tick"))
}

#[test]
fn normal_case_of_one_request() {
    let mut s = sim(4, 1, sim_config(), NetworkModel::fixed(Duration::from_millis(1)));
    for r in 0..4 {
        s.propose_at(Duration::ZERO, r, Command::new(b"inc".to_vec()));
    }
    s.run_until(Duration::from_millis(20));
    for r in 0..4 {
        assert_eq!(s.app(r).last(), 1, "r{r} delivered the request");
    }
    insta::assert_yaml_snapshot!("normal_case_of_one_request", lines(&s));
}

/// The request reaches the primary and r1 only: the pre-prepare names it by digest, so r2
/// and r3, lacking it, ask the primary for the full pre-prepare and prepare only then;
/// r1 rebuilds it from the request it holds.
#[test]
fn backups_lacking_a_request_fetch_the_full_pre_prepare() {
    let mut s = sim(4, 1, sim_config(), NetworkModel::fixed(Duration::from_millis(1)));
    for r in 0..2 {
        s.propose_at(Duration::ZERO, r, Command::new(b"inc".to_vec()));
    }
    s.run_until(Duration::from_millis(20));
    for r in 0..4 {
        assert_eq!(s.app(r).last(), 1, "r{r} delivered the request");
    }
    let fetched: Vec<u64> = (0..4).map(|r| s.consensus(r).stats().proposals_fetched).collect();
    assert_eq!(fetched, [0, 0, 1, 1]);
    insta::assert_yaml_snapshot!("backups_lacking_a_request_fetch_the_full_pre_prepare", lines(&s));
}

/// With `request_digests` off the primary's pre-prepares carry the requests.
#[test]
fn full_pre_prepares_when_request_digests_is_off() {
    let cfg = PbftConfig { request_digests: false, ..sim_config() };
    let mut s = sim(4, 1, cfg, NetworkModel::fixed(Duration::from_millis(1)));
    s.propose_at(Duration::ZERO, 0, Command::new(b"inc".to_vec()));
    s.run_until(Duration::from_millis(20));
    for r in 0..4 {
        assert_eq!(s.app(r).last(), 1, "r{r} delivered the request");
        assert_eq!(s.consensus(r).stats().proposals_fetched, 0);
    }
    let pre_prepares: Vec<String> =
        lines(&s).into_iter().filter(|l| l.contains("PrePrepare")).collect();
    assert_eq!(pre_prepares.len(), 3, "{pre_prepares:#?}");
    assert!(pre_prepares.iter().all(|l| l.contains("PrePrepare v=0 n=1")), "{pre_prepares:#?}");
}

#[test]
fn view_change_after_the_leader_crashes() {
    let mut s = sim(4, 1, sim_config(), NetworkModel::fixed(Duration::from_millis(1)));
    s.crash_at(Duration::ZERO, 0);
    for r in 1..4 {
        s.propose_at(Duration::from_millis(1), r, Command::new(b"inc".to_vec()));
    }
    s.run_until(Duration::from_millis(400));
    for r in 1..4 {
        assert_eq!(s.app(r).last(), 1, "r{r} delivered the request in view 1");
        assert_eq!(s.consensus(r).view(), 1);
    }
    insta::assert_yaml_snapshot!("view_change_after_the_leader_crashes", lines(&s));
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
    assert!(a.len() > 1000, "a substantial trace ({} events)", a.len());
    assert_eq!(a, b);
    let c = faulty_run(8);
    assert_ne!(a, c, "another seed gives another run");
}
