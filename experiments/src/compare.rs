//! `experiments compare`: two runs' summaries side by side as a text table.
//!
//! A table rather than a figure, because the question is usually "what changed between
//! these two runs" (a protocol, a transport, a commit), and a ratio column answers it at
//! a glance in a terminal or a commit message. Runs are read from their `summary.json`,
//! given either as the file or as the run's results directory.

use std::path::{Path, PathBuf};

use crate::summary::Summary;

/// A summary could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The file could not be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a summary.
    #[error("parsing {}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What serde_json said.
        source: serde_json::Error,
    },
}

/// Reads a run's summary from `path`: a `summary.json`, or a results directory holding
/// one.
pub fn load(path: &Path) -> Result<Summary, CompareError> {
    let file = if path.is_dir() { path.join("summary.json") } else { path.to_path_buf() };
    let text = std::fs::read_to_string(&file)
        .map_err(|source| CompareError::Read { path: file.clone(), source })?;
    serde_json::from_str(&text).map_err(|source| CompareError::Parse { path: file, source })
}

/// One row of the table: a label, the two runs' values and the ratio (may be empty).
struct Row {
    label: String,
    a: String,
    b: String,
    ratio: String,
}

/// `b / a` as `x1.23`, when both are finite and positive; empty otherwise (a ratio
/// against zero says nothing).
fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && a > 0.0 && b > 0.0 {
        format!("x{:.2}", b / a)
    } else {
        String::new()
    }
}

/// The rows, built from the two summaries.
struct Rows<'s> {
    a: &'s Summary,
    b: &'s Summary,
    rows: Vec<Row>,
}

impl<'s> Rows<'s> {
    /// A row with no ratio (names, protocols, shapes).
    fn text(&mut self, label: &str, value: impl Fn(&Summary) -> String) {
        self.rows.push(Row {
            label: label.to_string(),
            a: value(self.a),
            b: value(self.b),
            ratio: String::new(),
        });
    }

    /// A numeric row shown with `decimals` decimals, and its ratio.
    fn number(&mut self, label: &str, decimals: usize, value: impl Fn(&Summary) -> f64) {
        let (a, b) = (value(self.a), value(self.b));
        self.rows.push(Row {
            label: label.to_string(),
            a: format!("{a:.decimals$}"),
            b: format!("{b:.decimals$}"),
            ratio: ratio(a, b),
        });
    }

    /// A numeric row that only some runs have: shown when either has it, `-` for the
    /// one that does not.
    fn optional(&mut self, label: &str, decimals: usize, value: impl Fn(&Summary) -> Option<f64>) {
        let (a, b) = (value(self.a), value(self.b));
        if a.is_none() && b.is_none() {
            return;
        }
        let show =
            |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"));
        self.rows.push(Row {
            label: label.to_string(),
            a: show(a),
            b: show(b),
            ratio: match (a, b) {
                (Some(a), Some(b)) => ratio(a, b),
                _ => String::new(),
            },
        });
    }
}

/// How a run's load was applied: `closed`, or `open @ 500 tx/s`.
fn mode(s: &Summary) -> String {
    match s.offered_rate {
        Some(rate) => format!("{} @ {rate} tx/s", s.mode),
        None => s.mode.clone(),
    }
}

/// The transport, with the process layout when there is one: `quic (many)`.
fn transport(s: &Summary) -> String {
    match &s.processes {
        Some(p) => format!("{} ({p})", s.transport),
        None => s.transport.clone(),
    }
}

/// Two runs side by side, one row per measure, with `b / a` as `x1.23` in a ratio column
/// for numeric rows where both are positive. Columns are aligned; process CPU and
/// memory rows appear only when at least one run recorded them.
pub fn compare(a: &Summary, b: &Summary, a_label: &str, b_label: &str) -> String {
    let mut t = Rows { a, b, rows: Vec::new() };
    t.text("name", |s| s.name.clone());
    t.text("transport", transport);
    t.text("consensus", |s| s.consensus.clone());
    t.text("shards x replicas", |s| format!("{} x {}", s.shards, s.replicas));
    t.number("clients", 0, |s| s.clients as f64);
    t.text("mode", mode);
    t.number("inputs", 0, |s| s.inputs as f64);
    t.number("duration (s)", 1, |s| s.duration_s);
    t.number("submitted", 0, |s| s.submitted as f64);
    t.number("committed", 0, |s| s.committed as f64);
    t.number("aborted", 0, |s| s.aborted as f64);
    t.number("committed/s", 1, |s| s.committed_per_s);
    t.number("aborted/s", 1, |s| s.aborted_per_s);
    t.number("latency p50 (ms)", 2, |s| s.latency_ms.p50);
    t.number("latency p90 (ms)", 2, |s| s.latency_ms.p90);
    t.number("latency p99 (ms)", 2, |s| s.latency_ms.p99);
    t.number("latency max (ms)", 2, |s| s.latency_ms.max);
    t.number("unfinished", 0, |s| s.unfinished as f64);
    t.number("cross-shard", 0, |s| s.cross_shard as f64);
    t.optional("process CPU (s)", 2, |s| s.process.as_ref().map(|p| p.cpu_s));
    t.optional("peak RSS (MiB)", 1, |s| s.process.as_ref().map(|p| p.peak_rss_mib));
    render(&t.rows, a_label, b_label)
}

/// Lays the rows out: labels left-aligned, values and ratios right-aligned.
fn render(rows: &[Row], a_label: &str, b_label: &str) -> String {
    let header = Row {
        label: String::new(),
        a: a_label.to_string(),
        b: b_label.to_string(),
        ratio: "ratio".to_string(),
    };
    let all = || std::iter::once(&header).chain(rows);
    let width = |f: fn(&Row) -> &str| all().map(|r| f(r).chars().count()).max().unwrap_or(0);
    let (wl, wa, wb, wr) =
        (width(|r| &r.label), width(|r| &r.a), width(|r| &r.b), width(|r| &r.ratio));
    let mut out = String::new();
    for r in all() {
        let line = format!("{:<wl$}  {:>wa$}  {:>wb$}  {:>wr$}", r.label, r.a, r.b, r.ratio);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&format!("ratio = {b_label} / {a_label}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{Latency, ProcessUsage};

    fn summary(name: &str, committed_per_s: f64, p50: f64) -> Summary {
        Summary {
            name: name.into(),
            transport: "sim".into(),
            consensus: "pbft".into(),
            shards: 2,
            replicas: 4,
            clients: 8,
            mode: "closed".into(),
            inputs: 2,
            duration_s: 10.0,
            committed: (committed_per_s * 10.0) as u64,
            committed_per_s,
            latency_ms: Latency {
                count: 10,
                p50,
                p90: p50 * 2.0,
                p99: p50 * 3.0,
                max: p50 * 4.0,
                ..Latency::default()
            },
            ..Summary::default()
        }
    }

    fn row<'t>(table: &'t str, label: &str) -> &'t str {
        table
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no row {label} in\n{table}"))
    }

    #[test]
    fn table_has_both_runs_and_ratios() {
        let a = summary("run-pbft", 1000.0, 10.0);
        let mut b = summary("run-hotstuff", 1230.0, 5.0);
        b.consensus = "hotstuff".into();
        let table = compare(&a, &b, "before", "after");
        assert!(table.contains("run-pbft") && table.contains("run-hotstuff"));
        let header = table.lines().next().unwrap();
        assert!(header.contains("before") && header.contains("after") && header.contains("ratio"));
        assert!(row(&table, "committed/s").ends_with("x1.23"), "{table}");
        assert!(row(&table, "latency p50").ends_with("x0.50"), "{table}");
        assert!(row(&table, "consensus").ends_with("hotstuff"));
        // zero in either run: no ratio.
        assert!(row(&table, "aborted/s").ends_with("0.0"), "{table}");
        assert!(table.ends_with("ratio = after / before\n"));
    }

    #[test]
    fn columns_are_aligned() {
        let a = summary("a", 1.0, 1.0);
        let b = summary("a much longer name than the other", 123456.7, 1.0);
        let table = compare(&a, &b, "a", "b");
        let lines: Vec<&str> = table.lines().collect();
        let is_ratio = |l: &str| {
            l.split_whitespace()
                .last()
                .and_then(|w| w.strip_prefix('x'))
                .is_some_and(|w| w.parse::<f64>().is_ok())
        };
        let (with, without): (Vec<&str>, Vec<&str>) =
            lines[1..lines.len() - 1].iter().partition(|l| is_ratio(l));
        assert!(with.len() > 3 && without.len() > 3, "{table}");
        // Right-aligned columns: every row with a ratio is as long as the header, every
        // row without one ends where the second run's column ends.
        let len = |l: &&str| l.chars().count();
        assert!(with.iter().all(|l| len(l) == len(&lines[0])), "{table}");
        assert!(without.iter().all(|l| len(l) == len(&without[0])), "{table}");
        assert!(row(&table, "committed/s").ends_with("123456.7  x123456.70"), "{table}");
    }

    #[test]
    fn mode_and_process_rows() {
        let mut a = summary("a", 10.0, 1.0);
        let mut b = summary("b", 10.0, 1.0);
        let table = compare(&a, &b, "a", "b");
        assert!(!table.contains("process CPU"), "no usage recorded: no row");
        a.mode = "open".into();
        a.offered_rate = Some(500.0);
        b.process = Some(ProcessUsage { cpu_s: 3.5, peak_rss_mib: 120.0 });
        let table = compare(&a, &b, "a", "b");
        assert!(row(&table, "mode").contains("open @ 500 tx/s"));
        let cpu = row(&table, "process CPU (s)");
        assert!(cpu.contains(" - ") && cpu.ends_with("3.50"), "{table}");
        assert!(row(&table, "peak RSS (MiB)").ends_with("120.0"));
    }

    #[test]
    fn load_reads_file_or_directory() {
        let dir = tempfile::tempdir().unwrap();
        let s = summary("stored", 42.0, 3.0);
        let file = dir.path().join("summary.json");
        std::fs::write(&file, serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(load(&file).unwrap(), s);
        assert_eq!(load(dir.path()).unwrap(), s);
    }

    #[test]
    fn load_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.json");
        let err = load(&missing).unwrap_err();
        assert!(matches!(err, CompareError::Read { .. }));
        assert!(err.to_string().contains("nope.json"), "{err}");

        let empty_dir = dir.path().join("run");
        std::fs::create_dir(&empty_dir).unwrap();
        let err = load(&empty_dir).unwrap_err();
        assert!(err.to_string().contains("run/summary.json"), "{err}");

        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{not json").unwrap();
        let err = load(&bad).unwrap_err();
        assert!(matches!(err, CompareError::Parse { .. }));
        assert!(err.to_string().contains("bad.json"), "{err}");
    }
}
