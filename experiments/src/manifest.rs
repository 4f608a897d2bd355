//! The manifest written next to every run's results, and the process-usage probes the
//! runner reports.
//!
//! A number in a results directory is only worth something if the run can be repeated:
//! the manifest records what was run (the config's text, not just its path, and the
//! seed), from which source (the git commit, and whether the tree had changes), how
//! (the command line) and where (the machine). Everything here is best effort: a missing
//! `git` or an unreadable `/proc` file leaves a field empty, it never fails the run.
//!
//! Times are UTC and formatted here (a civil-date conversion of a few lines) rather than
//! with a date crate, since nothing else in the workspace needs one.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// What was run, from which source, how and where; written as `manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// `git rev-parse HEAD` of the source tree, when it is a git checkout.
    pub commit: Option<String>,
    /// Whether `git status --porcelain` listed anything (changed or untracked files),
    /// when known: a dirty tree means `commit` alone does not reproduce the run.
    pub dirty: Option<bool>,
    /// The config file as given on the command line.
    pub config_path: String,
    /// The config file's text, so the run can be repeated after the file has changed.
    pub config: String,
    /// The run's seed.
    pub seed: u64,
    /// When the run started, RFC 3339 UTC (`2026-11-25T14:39:22Z`).
    pub started_utc: String,
    /// The command line, program first.
    pub command: Vec<String>,
    /// The machine it ran on.
    pub machine: Machine,
}

/// The machine a run ran on, as far as it can be told from inside it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// The host name.
    pub hostname: String,
    /// The operating system (`Linux`, with the distribution when `/etc/os-release`
    /// names it).
    pub os: String,
    /// The kernel release (`6.8.0-45-generic`).
    pub kernel: String,
    /// CPUs this process may use (affinity and cgroup quotas included).
    pub cpus: usize,
    /// The CPU model from `/proc/cpuinfo`.
    pub cpu_model: Option<String>,
    /// Total memory, GiB, from `/proc/meminfo`.
    pub memory_gib: Option<f64>,
}

/// The commit of the git checkout at `dir` and whether its tree is dirty. `None` for
/// either when git is missing, `dir` is not in a checkout, or the repository has no
/// commit yet. The status is read without taking git's optional index lock, so this
/// can run beside a concurrent `git commit`.
pub fn git_commit(dir: &Path) -> (Option<String>, Option<bool>) {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).current_dir(dir).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let commit = git(&["rev-parse", "HEAD"])
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit()));
    let dirty =
        git(&["--no-optional-locks", "status", "--porcelain"]).map(|s| !s.trim().is_empty());
    (commit, dirty)
}

/// A `libc` `c_char` array (as in `utsname`) up to its first NUL, as text.
fn c_chars(field: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = field.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `(sysname, nodename, release)` from `uname(2)`.
fn uname() -> Option<(String, String, String)> {
    // SAFETY: `utsname` is plain C data for which all zero bytes is a valid value, and
    // `uname` only writes into the struct we pass it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable `utsname`.
    if unsafe { libc::uname(&mut u) } != 0 {
        return None;
    }
    Some((c_chars(&u.sysname), c_chars(&u.nodename), c_chars(&u.release)))
}

/// A `/proc` (or other small text) file, trimmed; `None` when unreadable or empty.
fn read_trimmed(path: &str) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// The CPU model in a `/proc/cpuinfo` text: `model name` on x86, `Model`, `Hardware`
/// or `cpu model` elsewhere.
fn cpu_model_from(cpuinfo: &str) -> Option<String> {
    ["model name", "Model", "Hardware", "cpu model", "cpu"].iter().find_map(|key| {
        cpuinfo.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            (k.trim() == *key && !v.trim().is_empty()).then(|| v.trim().to_string())
        })
    })
}

/// A `key:   1234 kB` field of `/proc/meminfo` or `/proc/<pid>/status`, in KiB.
fn kib_field(text: &str, key: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        if k.trim() != key {
            return None;
        }
        v.split_whitespace().next()?.parse::<f64>().ok()
    })
}

/// `PRETTY_NAME` from an `/etc/os-release` text.
fn pretty_name(os_release: &str) -> Option<String> {
    os_release.lines().find_map(|line| {
        let v = line.strip_prefix("PRETTY_NAME=")?;
        let v = v.trim().trim_matches('"').trim();
        (!v.is_empty()).then(|| v.to_string())
    })
}

/// The machine this process runs on.
pub fn machine() -> Machine {
    let (sysname, nodename, release) = uname().unwrap_or_default();
    let or_proc = |s: String, file: &str| {
        if s.is_empty() {
            read_trimmed(&format!("/proc/sys/kernel/{file}")).unwrap_or_default()
        } else {
            s
        }
    };
    let kernel_os = or_proc(sysname, "ostype");
    let os = match std::fs::read_to_string("/etc/os-release").ok().as_deref().and_then(pretty_name)
    {
        Some(distro) if !kernel_os.is_empty() => format!("{kernel_os} ({distro})"),
        Some(distro) => distro,
        None => kernel_os,
    };
    Machine {
        hostname: or_proc(nodename, "hostname"),
        os,
        kernel: or_proc(release, "osrelease"),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model: std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .as_deref()
            .and_then(cpu_model_from),
        memory_gib: std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| kib_field(&m, "MemTotal"))
            .map(|kib| kib / (1024.0 * 1024.0)),
    }
}

/// `(year, month, day)` of the day `days` after 1970-01-01 (negative: before), in the
/// proleptic Gregorian calendar. Howard Hinnant's `civil_from_days`: count in 400-year
/// eras from 0000-03-01, so the leap day is the last day of its year.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days from 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1st
    let mp = (5 * doy + 2) / 153; // month from March, 0..=11
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `(year, month, day, hour, minute, second)` of `t` in UTC, whole seconds (rounded
/// down, also before 1970).
fn civil(t: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => {
            let d = e.duration();
            -(d.as_secs() as i64) - i64::from(d.subsec_nanos() > 0)
        }
    };
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400) as u32;
    (y, mo, d, s / 3600, s / 60 % 60, s % 60)
}

/// `t` in UTC as `20261125-143922`: sorts by time, and is safe in a directory name.
pub fn utc_stamp(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}")
}

/// `t` in UTC as RFC 3339, whole seconds: `2026-11-25T14:39:22Z`.
pub fn utc_rfc3339(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// This process's `getrusage(RUSAGE_SELF)`.
fn rusage_self() -> Option<libc::rusage> {
    // SAFETY: `rusage` is plain C data for which all zero bytes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage`.
    (unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0).then_some(usage)
}

/// CPU seconds (user + system) this process has used so far, all threads; 0 if the
/// kernel will not say.
pub fn process_cpu_seconds() -> f64 {
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    rusage_self().map_or(0.0, |u| secs(u.ru_utime) + secs(u.ru_stime))
}

/// This process's peak resident memory so far, MiB: `VmHWM` from `/proc/self/status`,
/// else `ru_maxrss` (KiB on Linux); 0 if neither is available.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| kib_field(&s, "VmHWM"))
        .or_else(|| rusage_self().map(|u| u.ru_maxrss as f64))
        .map_or(0.0, |kib| kib / 1024.0)
}

/// `utime + stime`, in clock ticks, from a `/proc/<pid>/stat` line. The command name
/// (field 2) is in parentheses and may itself hold spaces and parentheses, so fields
/// are counted from the last `)`: the state is field 3, utime 14 and stime 15.
fn stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second, for `/proc/<pid>/stat` times.
fn clock_ticks() -> f64 {
    // SAFETY: `sysconf` only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// CPU seconds (user + system) and peak resident memory (MiB) of process `pid`, from
/// `/proc/<pid>/stat` and `/proc/<pid>/status`. `None` once the process is gone, or
/// when it is a zombie (which no longer reports its memory): read it before reaping.
pub fn child_usage(pid: u32) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let cpu_s = stat_ticks(&stat)? as f64 / clock_ticks();
    let rss_mib = kib_field(&status, "VmHWM")? / 1024.0;
    Some((cpu_s, rss_mib))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn at(secs: i64) -> SystemTime {
        if secs >= 0 {
            UNIX_EPOCH + Duration::from_secs(secs as u64)
        } else {
            UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
        }
    }

    #[test]
    fn known_dates() {
        assert_eq!(utc_rfc3339(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(utc_rfc3339(at(951_782_400)), "2000-02-29T00:00:00Z");
        // `date -u -d @1795617562` says Wed Nov 25 14:39:22 UTC 2026.
        assert_eq!(utc_rfc3339(at(1_795_617_562)), "2026-11-25T14:39:22Z");
        assert_eq!(utc_stamp(at(1_795_617_562)), "20261125-143922");
        assert_eq!(utc_rfc3339(at(4_107_542_399)), "2100-02-28T23:59:59Z");
        assert_eq!(utc_rfc3339(at(4_107_542_400)), "2100-03-01T00:00:00Z");
        assert_eq!(utc_rfc3339(at(-1)), "1969-12-31T23:59:59Z");
        assert_eq!(utc_rfc3339(UNIX_EPOCH - Duration::from_millis(500)), "1969-12-31T23:59:59Z");
        assert_eq!(utc_stamp(at(-86_400 * 365)), "19690101-000000");
    }

    #[test]
    fn consecutive_days_follow_the_calendar() {
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let month_len = |y: i64, m: u32| match m {
            2 if leap(y) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        // From 1600-03-01 to beyond 2400: every day is the one after the day before.
        let mut prev = civil_from_days(-135_140);
        assert_eq!(prev, (1600, 1, 1));
        for days in -135_139..160_000 {
            let (y, m, d) = civil_from_days(days);
            let (py, pm, pd) = prev;
            let expected = if pd < month_len(py, pm) {
                (py, pm, pd + 1)
            } else if pm < 12 {
                (py, pm + 1, 1)
            } else {
                (py + 1, 1, 1)
            };
            assert_eq!((y, m, d), expected, "day {days}");
            prev = (y, m, d);
        }
    }

    #[test]
    fn manifest_round_trips_through_json() {
        let m = Manifest {
            commit: Some("abc123".into()),
            dirty: Some(false),
            config_path: "configs/smoke.toml".into(),
            config: "name = \"smoke\"\n".into(),
            seed: 7,
            started_utc: utc_rfc3339(at(0)),
            command: vec!["experiments".into(), "run".into()],
            machine: machine(),
        };
        let json = serde_json::to_string_pretty(&m).unwrap();
        assert_eq!(serde_json::from_str::<Manifest>(&json).unwrap(), m);
    }

    #[test]
    fn machine_is_described() {
        let m = machine();
        assert!(m.cpus >= 1);
        if cfg!(target_os = "linux") {
            assert!(m.os.starts_with("Linux"), "{m:?}");
            assert!(!m.kernel.is_empty() && !m.hostname.is_empty(), "{m:?}");
            assert!(m.memory_gib.is_some_and(|g| g > 0.0), "{m:?}");
        }
    }

    #[test]
    fn proc_text_parsing() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n";
        assert_eq!(cpu_model_from(cpuinfo).as_deref(), Some("Intel(R) Xeon(R) CPU @ 2.20GHz"));
        assert_eq!(
            cpu_model_from("processor : 0\nModel : Raspberry Pi 4\n").as_deref(),
            Some("Raspberry Pi 4")
        );
        assert_eq!(cpu_model_from("processor : 0\n"), None);
        let meminfo = "MemTotal:       16318320 kB\nMemFree:  1 kB\n";
        assert_eq!(kib_field(meminfo, "MemTotal"), Some(16_318_320.0));
        assert_eq!(kib_field(meminfo, "VmHWM"), None);
        assert_eq!(
            pretty_name("NAME=x\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n").as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        // A command name with spaces and parentheses does not shift the fields.
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 1 0";
        assert_eq!(stat_ticks(stat), Some(281));
        assert_eq!(stat_ticks("4242 (short) S 1 2"), None);
    }

    #[test]
    fn cpu_seconds_grow_with_work() {
        let before = process_cpu_seconds();
        assert!(before >= 0.0);
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(100) {
            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
        assert!(process_cpu_seconds() > before);
    }

    #[test]
    fn peak_rss_is_positive() {
        assert!(peak_rss_mib() > 0.0);
    }

    #[test]
    fn child_usage_of_live_and_gone_processes() {
        let (cpu, rss) = child_usage(std::process::id()).expect("own /proc entry");
        assert!(cpu >= 0.0 && rss > 0.0);
        assert!((rss - peak_rss_mib()).abs() < 64.0, "{rss} vs {}", peak_rss_mib());
        assert_eq!(child_usage(u32::MAX), None);

        let Ok(mut child) = Command::new("sleep").arg("10").spawn() else {
            return; // no `sleep` here: the own-process case above still ran.
        };
        let live = child_usage(child.id());
        let _ = child.kill();
        let _ = child.wait();
        let (cpu, rss) = live.expect("running child");
        assert!(cpu >= 0.0 && rss > 0.0);
        assert_eq!(child_usage(child.id()), None, "reaped child");
    }

    #[test]
    fn git_commit_of_a_checkout_and_of_a_plain_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(git_commit(dir.path()), (None, None));
        assert_eq!(git_commit(&dir.path().join("missing")), (None, None));

        let git = |args: &[&str]| {
            Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
                .args(["-c", "commit.gpgsign=false"])
                .args(args)
                .current_dir(dir.path())
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !git(&["init", "-q"]) {
            return; // no git here: the plain-directory case above still ran.
        }
        std::fs::write(dir.path().join("f"), "1").unwrap();
        assert!(git(&["add", "f"]) && git(&["commit", "-q", "-m", "one"]));
        let (commit, dirty) = git_commit(dir.path());
        let commit = commit.expect("a commit");
        assert!(commit.len() >= 40 && commit.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(dirty, Some(false));
        std::fs::write(dir.path().join("f"), "2").unwrap();
        assert_eq!(git_commit(dir.path()), (Some(commit), Some(true)));
    }
}
