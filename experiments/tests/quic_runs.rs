//! The shipped 2x4 configs, shortened, over real QUIC on 127.0.0.1: all replicas in this
//! process, and each replica in a process of its own; plus a crash and a restart under
//! load. The result files must be consistent with each other.

mod common;

use common::{check_result_dir, edited, options, short};
use experiments::run_file;

fn run(config: &str, edits: &[(&str, toml::Value)]) -> experiments::summary::Summary {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut all = short(1.0, 16);
    all.extend(edits.iter().cloned());
    let path = edited(config, dir.path(), &all);
    let out = dir.path().join("results");
    let finished = run_file(&path, &options(&out)).expect("run");
    assert!(finished.dir.starts_with(&out));
    let s = check_result_dir(&finished.dir, 2, 4);
    assert_eq!(finished.summaries.len(), 1);
    assert_eq!(finished.summaries[0].committed, s.committed);
    assert_eq!(finished.summaries[0].latency_ms.count, s.latency_ms.count);
    assert_eq!(s.transport, "quic");
    assert_eq!(s.aborted, 0, "no conflicts, no faults: {:?}", s.aborts_by_reason);
    let p = s.process.clone().expect("process usage");
    assert!(p.cpu_s > 0.0 && p.peak_rss_mib > 0.0);
    s
}

#[test]
fn pbft_over_quic_in_one_process() {
    let s = run("2x4-pbft.toml", &[]);
    assert_eq!(s.consensus, "pbft");
    assert_eq!(s.processes.as_deref(), Some("one"));
    let p = s.phases_ms.expect("per-phase times with every replica in this process");
    assert!(p.prepare.p50 > 0.0 && p.report.p50 > 0.0, "{p:#?}");
}

#[test]
fn hotstuff_over_quic_in_one_process() {
    let s = run("2x4-hotstuff.toml", &[]);
    assert_eq!(s.consensus, "hotstuff");
}

#[test]
fn pbft_over_quic_with_a_process_per_replica() {
    let s = run("2x4-pbft.toml", &[("cluster.processes", "many".into())]);
    assert_eq!(s.processes.as_deref(), Some("many"));
    assert!(s.phases_ms.is_none(), "replica processes keep their own clocks");
    for u in &s.replicas_usage {
        assert!(u.cpu_s.is_some_and(|c| c > 0.0), "{u:?}");
        assert!(u.peak_rss_mib.is_some_and(|m| m > 1.0), "{u:?}");
    }
}

#[test]
fn a_replica_crashes_and_restarts_under_load() {
    let faults = toml::Value::Array(vec![
        toml::from_str::<toml::Table>("at_s = 0.4\nkind = \"crash\"\nreplica = \"s0r3\"")
            .expect("toml")
            .into(),
        toml::from_str::<toml::Table>(
            "at_s = 0.8\nkind = \"restart\"\nreplica = \"s0r3\"\nfrom = \"store\"",
        )
        .expect("toml")
        .into(),
    ]);
    let s = run("2x4-pbft.toml", &[("faults", faults)]);
    assert_eq!(s.faults.len(), 2, "{:?}", s.faults);
    assert_eq!(s.unfinished, 0);
}

#[test]
fn consensus_only_over_quic_for_both_protocols() {
    for (config, consensus) in
        [("1x4-consensus-pbft.toml", "pbft"), ("1x4-consensus-hotstuff.toml", "hotstuff")]
    {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = edited(config, dir.path(), &short(1.0, 16));
        let finished = run_file(&path, &options(&dir.path().join("results"))).expect("run");
        let s = check_result_dir(&finished.dir, 1, 4);
        assert_eq!(s.consensus, consensus);
        assert_eq!(s.workload, "consensus");
        assert_eq!((s.aborted, s.unfinished), (0, 0), "{s:#?}");
    }
}
