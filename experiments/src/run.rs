//! Running experiment files: one run or a sweep, each into a result directory of its own
//! (`<output>/<name>-<UTC time>/`), with the summary printed at the end.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::config::{
    self, ConfigError, Expanded, Experiment, Fault, FaultKind, TransportKind, replica_name,
};
use crate::progress::Progress;
use crate::record::Record;
use crate::summary::{CostModelInfo, ProcessUsage, ReplicaUsage, Summary, Sweep, SweepPoint};
use crate::{manifest, plot, report};

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The config is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The cluster could not be built or set up.
    #[error("setup: {0}")]
    Setup(String),
    /// Results could not be written.
    #[error("writing results: {0}")]
    Output(String),
}

/// What a runner hands back.
pub struct RunOutput {
    /// Every measured transaction.
    pub records: Vec<Record>,
    /// The measured window, from the start of the run.
    pub window: (Duration, Duration),
    /// Refills sent and committed.
    pub refills: (u64, u64),
    /// Refills sent during warm-up and the measured window.
    pub refills_in_run: u64,
    /// Why refills aborted.
    pub refill_aborts: std::collections::BTreeMap<String, u64>,
    /// Per replica.
    pub replicas_usage: Vec<ReplicaUsage>,
    /// The process.
    pub process: Option<ProcessUsage>,
    /// The cost model (simulator).
    pub cost_model: Option<CostModelInfo>,
    /// Faults applied.
    pub faults: Vec<String>,
    /// Notes for the summary.
    pub notes: Vec<String>,
    /// The S-BAC steps replicas applied, where they were observed.
    pub phases: Option<crate::phases::PhaseLog>,
}

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Draw a progress bar (on a terminal).
    pub progress: bool,
    /// Put result directories here instead of the config's `output`.
    pub output: Option<PathBuf>,
    /// Print the summary tables.
    pub print: bool,
    /// The program replica processes run (`processes = "many"`): default, this one.
    pub replica_program: Option<PathBuf>,
}

/// A finished run or sweep.
#[derive(Debug)]
pub struct Finished {
    /// Its result directory.
    pub dir: PathBuf,
    /// The runs' summaries (one, or one per sweep point).
    pub summaries: Vec<Summary>,
}

/// `"t=3.0s crash s0r1"`.
pub fn describe_fault(f: &Fault) -> String {
    let what = match &f.kind {
        FaultKind::Crash(id) => format!("crash {}", replica_name(*id)),
        FaultKind::Restart(id, store) => format!(
            "restart {} from {}",
            replica_name(*id),
            if *store { "its store" } else { "nothing" }
        ),
        FaultKind::Partition(ids, until) => format!(
            "partition {} until t={:.1}s",
            ids.iter().map(|i| replica_name(*i)).collect::<Vec<_>>().join(","),
            until.as_secs_f64()
        ),
        FaultKind::Delay(id, extra, until) => format!(
            "delay {} by {:.1} ms until t={:.1}s",
            replica_name(*id),
            extra.as_secs_f64() * 1e3,
            until.as_secs_f64()
        ),
        FaultKind::Byzantine(id, b) => format!("byzantine {} ({b:?})", replica_name(*id)),
    };
    format!("t={:.1}s {what}", f.at.as_secs_f64())
}

/// Run one experiment into `dir` (created), writing every result file.
pub fn run_into(exp: &Experiment, dir: &Path, opts: &Options) -> Result<Summary, RunError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| RunError::Output(format!("creating {}: {e}", dir.display())))?;
    let started = SystemTime::now();
    let total = exp.workload.warmup + exp.workload.duration;
    let progress = Progress::new(&exp.name, total, opts.progress);
    let out = match &exp.cluster.transport {
        TransportKind::Sim(_) => crate::sim::run(exp, &progress),
        TransportKind::Quic { .. } => {
            let program = match &opts.replica_program {
                Some(p) => p.clone(),
                None => std::env::current_exe()
                    .map_err(|e| RunError::Setup(format!("finding this program: {e}")))?,
            };
            crate::quic::run(exp, dir, &progress, &program)
        }
    };
    progress.finish();
    let out = out?;
    let summary = report::summarize(exp, &out);
    let source = exp.path.parent().unwrap_or(Path::new("."));
    let (commit, dirty) = manifest::git_commit(source);
    let m = manifest::Manifest {
        commit,
        dirty,
        config_path: exp.path.display().to_string(),
        config: exp.text.clone(),
        seed: exp.seed,
        started_utc: manifest::utc_rfc3339(started),
        command: std::env::args().collect(),
        machine: manifest::machine(),
    };
    report::write(dir, exp, &summary, &out, &m)?;
    if opts.print {
        println!("{}", report::table(&summary));
        println!("  results     {}", dir.display());
    }
    Ok(summary)
}

/// Load `path` and run it: one experiment, or every point of its sweep.
pub fn run_file(path: &Path, opts: &Options) -> Result<Finished, RunError> {
    let expanded = config::load(path)?;
    let stamp = manifest::utc_stamp(SystemTime::now());
    match expanded {
        Expanded::One(exp) => {
            let root = opts.output.clone().unwrap_or_else(|| exp.output.clone());
            let dir = unique(&root, &format!("{}-{stamp}", exp.name));
            let summary = run_into(&exp, &dir, opts)?;
            Ok(Finished { dir, summaries: vec![summary] })
        }
        Expanded::Sweep { name, key, points } => {
            let root = opts
                .output
                .clone()
                .or_else(|| points.first().map(|(_, _, e)| e.output.clone()))
                .unwrap_or_else(|| PathBuf::from("results"));
            let dir = unique(&root, &format!("{name}-{stamp}"));
            let short = key.rsplit('.').next().unwrap_or(&key).to_string();
            let mut sweep = Sweep { name, key, points: Vec::new() };
            for (value, consensus, exp) in points {
                let sub = format!("{consensus}-{short}-{value}");
                let summary = run_into(&exp, &dir.join(&sub), opts)?;
                sweep.points.push(SweepPoint { value, consensus, dir: sub, summary });
                // Written after every point, so an interrupted sweep keeps what it has.
                std::fs::write(dir.join("sweep.json"), report::json(&sweep)?)
                    .map_err(|e| RunError::Output(format!("sweep.json: {e}")))?;
            }
            plot::sweep_figure(&sweep, &dir.join("sweep.svg"))
                .map_err(|e| RunError::Output(e.to_string()))?;
            if opts.print {
                println!("{}", sweep_table(&sweep));
                println!("sweep results in {}", dir.display());
            }
            let summaries = sweep.points.into_iter().map(|p| p.summary).collect();
            Ok(Finished { dir, summaries })
        }
    }
}

/// `root/name`, or `root/name-2`, ... if that exists (two runs in one second).
fn unique(root: &Path, name: &str) -> PathBuf {
    let first = root.join(name);
    if !first.exists() {
        return first;
    }
    (2..).map(|i| root.join(format!("{name}-{i}"))).find(|p| !p.exists()).unwrap_or(first)
}

/// One line per sweep point.
pub fn sweep_table(s: &Sweep) -> String {
    let mut t =
        format!("{}: {} | consensus | committed/s | aborted/s | p50 ms | p99 ms\n", s.name, s.key);
    for p in &s.points {
        t.push_str(&format!(
            "{:>10} | {:>9} | {:>11.0} | {:>9.0} | {:>6.1} | {:>6.1}\n",
            p.value,
            p.consensus,
            p.summary.committed_per_s,
            p.summary.aborted_per_s,
            p.summary.latency_ms.p50,
            p.summary.latency_ms.p99
        ));
    }
    t
}
