//! From what a run recorded to what it reports: the [`Summary`], the files of a result
//! directory, and the table printed at the end.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use crate::config::{Experiment, Load, TransportKind, WorkloadKind};
use crate::record::{self, Record};
use crate::run::{RunError, RunOutput};
use crate::summary::Summary;
use crate::{manifest, plot};

/// The summary of `out`, a run of `exp`.
pub fn summarize(exp: &Experiment, out: &RunOutput) -> Summary {
    let (start, end) = out.window;
    let duration = (end - start).as_secs_f64();
    let records = &out.records;
    let committed = records.iter().filter(|r| r.committed()).count() as u64;
    let aborted = records.iter().filter(|r| r.done.is_some() && r.abort.is_some()).count() as u64;
    let per_s = |n: u64| if duration > 0.0 { n as f64 / duration } else { 0.0 };
    let seconds = (end - start).as_secs_f64().ceil() as usize;
    let (mode, offered_rate) = match exp.workload.load {
        Load::Closed => ("closed", None),
        Load::Open { rate } => ("open", Some(rate)),
    };
    Summary {
        name: exp.name.clone(),
        transport: exp.cluster.transport_name().into(),
        processes: match exp.cluster.transport {
            TransportKind::Quic { processes } => Some(format!("{processes:?}").to_lowercase()),
            TransportKind::Sim(_) => None,
        },
        consensus: exp.cluster.protocol().name().into(),
        shards: exp.cluster.shards,
        replicas: exp.cluster.replicas,
        workload: match exp.workload.kind {
            WorkloadKind::Sbac => "sbac".into(),
            WorkloadKind::Consensus { .. } => "consensus".into(),
        },
        command_bytes: match exp.workload.kind {
            WorkloadKind::Sbac => None,
            WorkloadKind::Consensus { command_bytes } => Some(command_bytes),
        },
        clients: exp.workload.clients,
        mode: mode.into(),
        offered_rate,
        inputs: exp.workload.inputs,
        seed: exp.seed,
        duration_s: duration,
        submitted: records.len() as u64,
        committed,
        aborted,
        unfinished: records.iter().filter(|r| r.done.is_none()).count() as u64,
        cross_shard: records.iter().filter(|r| r.cross_shard).count() as u64,
        committed_per_s: per_s(committed),
        aborted_per_s: per_s(aborted),
        latency_ms: record::latency(
            records.iter().filter(|r| r.committed()).filter_map(Record::latency),
        ),
        abort_latency_ms: record::latency(
            records.iter().filter(|r| r.abort.is_some()).filter_map(Record::latency),
        ),
        phases_ms: out.phases.as_ref().map(|log| log.phases(records, exp.cluster.shards)),
        aborts_by_reason: record::aborts_by_reason(records),
        timeline: record::timeline(records, start, seconds),
        replicas_usage: out.replicas_usage.clone(),
        process: out.process.clone(),
        cost_model: out.cost_model.clone(),
        faults: out.faults.clone(),
        notes: {
            let mut notes = out.notes.clone();
            if let WorkloadKind::Consensus { command_bytes } = exp.workload.kind {
                notes.push(format!(
                    "consensus-only: {command_bytes}-byte commands ordered by each shard's \
                     consensus, no S-BAC; committed = reported ordered by f + 1 replicas"
                ));
            }
            if exp.workload.kind == WorkloadKind::Sbac {
                let aborted: u64 = out.refill_aborts.values().sum();
                notes.push(format!(
                    "objects: {} create transactions in setup and refills, not measured: {} \
                     committed, {aborted} aborted, {} still out at the end",
                    out.refills.0,
                    out.refills.1,
                    out.refills.0.saturating_sub(out.refills.1 + aborted)
                ));
                if out.refills_in_run > 0 && exp.workload.prefill > 0 {
                    notes.push(format!(
                        "objects: {} refills went out during the warm-up and the measured \
                         window, competing with the measured transactions: `prefill` ({} \
                         objects per client) did not last the run; raise it to measure \
                         without them",
                        out.refills_in_run, exp.workload.prefill
                    ));
                }
                for (reason, n) in &out.refill_aborts {
                    notes.push(format!("objects: {n} create(s) aborted: {reason}"));
                }
            }
            notes
        },
    }
}

/// Write the result files of a run into `dir` (which exists).
pub fn write(
    dir: &Path,
    exp: &Experiment,
    summary: &Summary,
    out: &RunOutput,
    manifest: &manifest::Manifest,
) -> Result<(), RunError> {
    let io = |what: &str, e: std::io::Error| RunError::Output(format!("{what}: {e}"));
    std::fs::write(dir.join("summary.json"), json(summary)?).map_err(|e| io("summary.json", e))?;
    std::fs::write(dir.join("manifest.json"), json(manifest)?)
        .map_err(|e| io("manifest.json", e))?;
    write_latencies(&dir.join("latencies.csv"), &out.records)
        .map_err(|e| io("latencies.csv", e))?;
    plot::throughput_over_time(summary, &dir.join("throughput.svg"))
        .map_err(|e| RunError::Output(e.to_string()))?;
    let lat: Vec<f64> = out
        .records
        .iter()
        .filter(|r| r.committed())
        .filter_map(Record::latency)
        .map(|d| d.as_secs_f64() * 1e3)
        .collect();
    let title = format!("{}: latency of committed transactions", exp.name);
    plot::latency_cdf(&lat, &title, &dir.join("latency-cdf.svg"))
        .map_err(|e| RunError::Output(e.to_string()))?;
    Ok(())
}

/// `latencies.csv`: one row per measured transaction.
fn write_latencies(path: &Path, records: &[Record]) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(f, "client,scheduled_s,sent_s,done_s,latency_ms,outcome,cross_shard,conflict,reason")?;
    for r in records {
        let done = r.done.map(|d| format!("{:.6}", d.as_secs_f64())).unwrap_or_default();
        let lat = r.latency().map(|d| format!("{:.3}", d.as_secs_f64() * 1e3)).unwrap_or_default();
        let outcome = match (&r.done, &r.abort) {
            (None, _) => "unfinished",
            (Some(_), None) => "commit",
            (Some(_), Some(_)) => "abort",
        };
        let reason = r.abort.as_deref().unwrap_or("").replace(['"', '\n'], "'");
        writeln!(
            f,
            "{},{:.6},{},{done},{lat},{outcome},{},{},\"{reason}\"",
            r.client,
            r.scheduled.as_secs_f64(),
            r.sent.map(|s| format!("{:.6}", s.as_secs_f64())).unwrap_or_default(),
            r.cross_shard,
            r.conflict,
        )?;
    }
    f.flush()
}

/// The table printed at the end of a run.
pub fn table(s: &Summary) -> String {
    let mut t = String::new();
    let load = match s.offered_rate {
        Some(r) => format!("open loop at {r:.0} tx/s"),
        None => "closed loop".into(),
    };
    let _ = writeln!(
        t,
        "{}: {} shards x {} replicas, {}, {}{}, {} clients, {}, {} input(s)",
        s.name,
        s.shards,
        s.replicas,
        s.consensus,
        s.transport,
        match s.processes.as_deref() {
            Some("many") => " (a process per replica)",
            Some(_) => " (one process)",
            None => "",
        },
        s.clients,
        load,
        s.inputs
    );
    let _ = writeln!(
        t,
        "  window      {:.1} s: {} submitted, {} committed, {} aborted, {} unfinished, {} cross-shard",
        s.duration_s, s.submitted, s.committed, s.aborted, s.unfinished, s.cross_shard
    );
    let _ = writeln!(
        t,
        "  throughput  {:.0} committed/s, {:.0} aborted/s",
        s.committed_per_s, s.aborted_per_s
    );
    let l = &s.latency_ms;
    let _ = writeln!(
        t,
        "  latency     p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms (committed)",
        l.p50, l.p90, l.p99, l.max
    );
    if let Some(p) = &s.phases_ms {
        let mut line = format!("  phases      prepare p50 {:.1} ms", p.prepare.p50);
        if p.accept.count > 0 {
            line += &format!(", accept p50 {:.1} ms", p.accept.p50);
        }
        let _ = writeln!(
            t,
            "{line}, report p50 {:.1} ms (p99: {:.1} / {:.1} / {:.1})",
            p.report.p50, p.prepare.p99, p.accept.p99, p.report.p99
        );
    }
    for (reason, n) in &s.aborts_by_reason {
        let _ = writeln!(t, "  aborts      {n} x {reason}");
    }
    if let Some(p) = &s.process {
        let _ = writeln!(
            t,
            "  process     {:.1} CPU-s, peak {:.0} MiB resident",
            p.cpu_s, p.peak_rss_mib
        );
    }
    let cpu: Vec<f64> = s.replicas_usage.iter().filter_map(|u| u.cpu_utilisation).collect();
    if !cpu.is_empty() {
        let max = cpu.iter().cloned().fold(0.0, f64::max);
        let mean = cpu.iter().sum::<f64>() / cpu.len() as f64;
        let _ = writeln!(
            t,
            "  replica CPU mean {:.0}%, max {:.0}% of a core",
            mean * 100.0,
            max * 100.0
        );
    }
    let rss: Vec<f64> = s.replicas_usage.iter().filter_map(|u| u.peak_rss_mib).collect();
    if !rss.is_empty() {
        let max = rss.iter().cloned().fold(0.0, f64::max);
        let _ = writeln!(t, "  replica RSS max {max:.0} MiB");
    }
    for f in &s.faults {
        let _ = writeln!(t, "  fault       {f}");
    }
    for n in &s.notes {
        let _ = writeln!(t, "  note        {n}");
    }
    t
}

/// Pretty JSON of `v`.
pub fn json<T: serde::Serialize>(v: &T) -> Result<String, RunError> {
    serde_json::to_string_pretty(v).map_err(|e| RunError::Output(format!("JSON: {e}")))
}
