//! Helpers of the experiments integration tests: shortened copies of configs, and checks
//! of a result directory's files against each other.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use experiments::summary::Summary;

/// The repository's `configs/`.
pub fn configs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("configs")
}

/// Set the dotted `key` of `table` to `value`.
pub fn set(table: &mut toml::Table, key: &str, value: toml::Value) {
    let parts: Vec<&str> = key.split('.').collect();
    let (last, path) = parts.split_last().expect("a key");
    let mut t = table;
    for p in path {
        t = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .expect("a table");
    }
    t.insert(last.to_string(), value);
}

/// `config` (a file name in `configs/`) with `edits` applied, written into `dir`; the
/// copy's path.
pub fn edited(config: &str, dir: &Path, edits: &[(&str, toml::Value)]) -> PathBuf {
    let text = std::fs::read_to_string(configs_dir().join(config)).expect("shipped config");
    let mut table: toml::Table = toml::from_str(&text).expect("TOML");
    for (k, v) in edits {
        set(&mut table, k, v.clone());
    }
    let path = dir.join(config);
    std::fs::write(&path, toml::to_string(&table).expect("serialise")).expect("write");
    path
}

/// The edits that make a run short: `seconds` of window, a fifth of that of warm-up,
/// `clients` clients.
pub fn short(seconds: f64, clients: i64) -> Vec<(&'static str, toml::Value)> {
    vec![
        ("workload.duration_s", toml::Value::Float(seconds)),
        ("workload.warmup_s", toml::Value::Float(seconds / 5.0)),
        ("workload.clients", toml::Value::Integer(clients)),
    ]
}

/// Check the files of the run in `dir` against each other and against `summary`; returns
/// the summary read back.
pub fn check_result_dir(dir: &Path, shards: u32, replicas: u32) -> Summary {
    for f in ["summary.json", "latencies.csv", "manifest.json", "throughput.svg", "latency-cdf.svg"]
    {
        assert!(dir.join(f).is_file(), "{} has no {f}", dir.display());
    }
    for svg in ["throughput.svg", "latency-cdf.svg"] {
        let text = std::fs::read_to_string(dir.join(svg)).expect("svg");
        assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"), "{svg}");
    }
    let s: Summary =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).expect("read"))
            .expect("summary.json parses");
    assert_eq!((s.shards, s.replicas), (shards, replicas));
    assert!(s.committed > 0, "nothing committed: {s:#?}");
    assert!(s.duration_s > 0.0 && s.committed_per_s > 0.0, "{s:#?}");
    assert!((s.committed_per_s - s.committed as f64 / s.duration_s).abs() < 1e-6);
    assert!(s.latency_ms.p50 > 0.0 && s.latency_ms.p50 <= s.latency_ms.p99, "{s:#?}");
    assert!(s.latency_ms.p99 <= s.latency_ms.max + 1e-9, "{s:#?}");
    assert_eq!(s.latency_ms.count, s.committed);
    if let Some(p) = &s.phases_ms {
        // Every committed transaction is split into phases that add up to its latency
        // from sending (which is its latency in a closed loop).
        assert_eq!((p.prepare.count, p.report.count), (s.committed, s.committed), "{p:#?}");
        assert!(p.accept.count <= s.committed, "{p:#?}");
        if s.mode == "closed" && s.committed > 0 {
            let share = p.accept.count as f64 / s.committed as f64;
            let sum = p.prepare.mean + p.accept.mean * share + p.report.mean;
            let mean = s.latency_ms.mean;
            assert!((sum - mean).abs() <= 0.01 * mean + 0.05, "phases {sum} vs latency {mean}");
        }
    }
    assert_eq!(s.submitted, s.committed + s.aborted + s.unfinished);
    assert_eq!(s.aborts_by_reason.values().sum::<u64>(), s.aborted);
    let in_timeline: u64 = s.timeline.iter().map(|t| t.committed).sum();
    assert!(in_timeline <= s.committed && in_timeline > 0, "{in_timeline} of {}", s.committed);
    assert_eq!(s.replicas_usage.len(), (shards * replicas) as usize);
    assert!(s.replicas_usage.iter().all(|u| u.messages_in > 0), "{:?}", s.replicas_usage);
    // latencies.csv: one row per submitted transaction, outcomes as counted.
    let csv = std::fs::read_to_string(dir.join("latencies.csv")).expect("csv");
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len() as u64, s.submitted);
    let count = |o: &str| rows.iter().filter(|r| r.split(',').nth(5) == Some(o)).count() as u64;
    assert_eq!(count("commit"), s.committed);
    assert_eq!(count("abort"), s.aborted);
    // The manifest holds the config as run.
    let m: experiments::manifest::Manifest =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).expect("read"))
            .expect("manifest.json parses");
    assert_eq!(m.seed, s.seed);
    assert!(!m.config.is_empty() && m.machine.cpus > 0);
    s
}

/// Run options for tests: no bar, no printing, results under `out`.
pub fn options(out: &Path) -> experiments::Options {
    experiments::Options {
        progress: false,
        output: Some(out.to_path_buf()),
        print: false,
        replica_program: Some(PathBuf::from(env!("CARGO_BIN_EXE_experiments"))),
    }
}
