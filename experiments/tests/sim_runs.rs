//! Every shipped config, shortened, in the simulator: the 2x4 configs switched to the
//! simulator, every sweep cut to its first two values, and the fault schedule. Simulated
//! runs are a function of their seed.

mod common;

use common::{check_result_dir, configs_dir, edited, options, short};
use experiments::run_file;
use experiments::summary::{Summary, Sweep};

fn sim(config: &str, edits: &[(&str, toml::Value)]) -> (Summary, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir").keep();
    let mut all = short(0.5, 8);
    all.push(("cluster.transport", "sim".into()));
    all.extend(edits.iter().cloned());
    let path = edited(config, &dir, &all);
    let finished = run_file(&path, &options(&dir.join("results"))).expect("run");
    let s = check_result_dir(&finished.dir, 2, 4);
    assert_eq!(s.transport, "sim");
    assert!(s.cost_model.is_some());
    for u in &s.replicas_usage {
        let busy = u.cpu_utilisation.expect("modelled");
        assert!(busy > 0.0 && busy <= 1.0, "{u:?}");
    }
    (s, finished.dir)
}

#[test]
fn the_2x4_configs_in_the_simulator() {
    for (config, consensus) in [("2x4-pbft.toml", "pbft"), ("2x4-hotstuff.toml", "hotstuff")] {
        let (s, _) = sim(config, &[]);
        assert_eq!(s.consensus, consensus);
        let p = s.phases_ms.clone().expect("per-phase times in the simulator");
        assert!(p.prepare.p50 > 0.0 && p.report.p50 > 0.0, "{p:#?}");
        assert_eq!(p.accept.count, 0, "single-shard transactions have no accept phase");
        assert_eq!(s.aborted, 0);
        assert_eq!(s.unfinished, 0);
    }
}

#[test]
fn a_seed_replays_the_same_run() {
    let (a, da) = sim("2x4-pbft.toml", &[("workload.conflict", 0.2.into())]);
    let (b, db) = sim("2x4-pbft.toml", &[("workload.conflict", 0.2.into())]);
    let strip = |mut s: Summary| {
        s.notes.clear();
        s
    };
    assert_eq!(strip(a.clone()), strip(b));
    let csv = |d: &std::path::Path| std::fs::read_to_string(d.join("latencies.csv")).expect("csv");
    assert_eq!(csv(&da), csv(&db));
    // Conflicts are double spends: they abort, and say why.
    assert!(a.aborted > 0, "{a:#?}");
    assert!(
        a.aborts_by_reason.keys().all(|r| r.contains("inactive") || r.contains("locked")),
        "{:?}",
        a.aborts_by_reason
    );
}

#[test]
fn open_loop_cross_shard_runs_measure_what_they_offer() {
    let (s, _) = sim(
        "2x4-pbft.toml",
        &[
            ("workload.rate", 2000.0.into()),
            ("workload.inputs", 2.into()),
            ("workload.cross_shard", 0.5.into()),
            ("workload.duration_s", 1.0.into()),
        ],
    );
    assert_eq!(s.mode, "open");
    // Poisson arrivals at 2000/s for 1 s.
    assert!((1700..2300).contains(&s.submitted), "{}", s.submitted);
    assert!(s.cross_shard > s.submitted / 4 && s.cross_shard < s.submitted * 3 / 4, "{s:#?}");
    // Cross-shard transactions have an accept phase: votes, certificates, the accept.
    let p = s.phases_ms.expect("per-phase times");
    assert!(p.accept.count > 0 && p.accept.p50 > 0.0, "{p:#?}");
}

#[test]
fn the_fault_schedule_runs_in_the_simulator() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = edited("2x4-pbft-faults.toml", dir.path(), &[("workload.clients", 1.into())]);
    let finished = run_file(&path, &options(&dir.path().join("results"))).expect("run");
    let s = check_result_dir(&finished.dir, 2, 4);
    assert_eq!(s.faults.len(), 5, "{:?}", s.faults);
    assert_eq!(s.unfinished, 0, "every transaction finishes once faults heal");
}

#[test]
fn every_sweep_config_runs_its_first_points_for_both_protocols() {
    let mut sweeps = Vec::new();
    for entry in std::fs::read_dir(configs_dir()).expect("configs/") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        if name.starts_with("sweep-") && name.ends_with(".toml") {
            sweeps.push(name);
        }
    }
    sweeps.sort();
    assert!(sweeps.len() >= 4, "{sweeps:?}");
    for config in sweeps {
        let text = std::fs::read_to_string(configs_dir().join(&config)).expect("read");
        let table: toml::Table = toml::from_str(&text).expect("toml");
        let values = table["sweep"]["values"].as_array().expect("values").clone();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut edits = short(0.3, 8);
        edits.push(("sweep.values", toml::Value::Array(values[..2].to_vec())));
        let path = edited(&config, dir.path(), &edits);
        let finished = run_file(&path, &options(&dir.path().join("results"))).expect(&config);
        assert_eq!(finished.summaries.len(), 4, "{config}: 2 values x 2 protocols");
        let sweep: Sweep = serde_json::from_str(
            &std::fs::read_to_string(finished.dir.join("sweep.json")).expect("sweep.json"),
        )
        .expect("parses");
        assert_eq!(sweep.points.len(), 4);
        let figure = std::fs::read_to_string(finished.dir.join("sweep.svg")).expect("sweep.svg");
        assert!(figure.contains("pbft") && figure.contains("hotstuff"), "{config}");
        for p in &sweep.points {
            let s = &p.summary;
            assert!(s.committed > 0, "{config} {} {}", p.value, p.consensus);
            assert!(finished.dir.join(&p.dir).join("summary.json").is_file());
        }
    }
}

#[test]
fn the_consensus_only_configs_in_the_simulator() {
    for (config, consensus, shards) in [
        ("1x4-consensus-pbft.toml", "pbft", 1),
        ("1x4-consensus-hotstuff.toml", "hotstuff", 1),
        ("1x4-consensus-pbft.toml", "pbft", 2),
    ] {
        let dir = tempfile::tempdir().expect("tempdir").keep();
        let mut all = short(0.5, 8);
        all.push(("cluster.transport", "sim".into()));
        all.push(("cluster.shards", toml::Value::Integer(shards)));
        let path = edited(config, &dir, &all);
        let finished = run_file(&path, &options(&dir.join("results"))).expect("run");
        let s = check_result_dir(&finished.dir, shards as u32, 4);
        assert_eq!(s.consensus, consensus);
        assert_eq!((s.workload.as_str(), s.command_bytes), ("consensus", Some(512)));
        assert_eq!((s.aborted, s.unfinished), (0, 0), "{s:#?}");
        assert!(s.notes.iter().any(|n| n.contains("consensus-only")), "{:?}", s.notes);
        assert!(s.phases_ms.is_none(), "no S-BAC phases");
    }
}
