//! Processes of the Python end-to-end test: the guards that stop them whatever happens,
//! free ports, the interpreter to use, and finding checker processes by their parent.

use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_chainspace");

/// The repository (the workspace root).
pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("node/ is in the workspace").into()
}

/// The interpreter: the CI venv (which has the package and `cryptography`), else
/// `$CHAINSPACE_PYTHON`, else `python3`.
pub fn python() -> PathBuf {
    let venv = repository().join("target/ci-venv/bin/python");
    if venv.is_file() {
        return venv;
    }
    match std::env::var_os("CHAINSPACE_PYTHON").filter(|p| !p.is_empty()) {
        Some(p) => p.into(),
        None => "python3".into(),
    }
}

/// A child process that is asked to stop (SIGTERM, so a replica stops its checker
/// processes) and then killed when dropped, so a failing assertion leaves nothing behind.
pub struct Proc {
    pub name: String,
    pub child: Child,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command, log: &Path) -> Proc {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Proc { name: name.into(), child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    pub fn stop(&mut self, grace: Duration) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        signal(self.pid(), libc::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
    }
}

pub fn signal(pid: u32, sig: libc::c_int) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: kill(2) only sends a signal; callers pass processes this test started or
    // checker processes found as children of them.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// A running checker process: its pid, its parent (a replica) and its contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckerProc {
    pub pid: u32,
    pub parent: u32,
    pub contract: String,
}

/// The live checker processes (`<contract>.py checker ...`) whose parent is one of
/// `parents`, read from /proc.
pub fn checkers_of(parents: &[u32]) -> Vec<CheckerProc> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return vec![] };
    let mut found: Vec<CheckerProc> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
            let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
            let (state, parent) = (fields.next()?, fields.next()?.parse::<u32>().ok()?);
            if state == "Z" || !parents.contains(&parent) {
                return None;
            }
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let at = args.iter().position(|a| a == "checker")?;
            let script = Path::new(args.get(at.checked_sub(1)?)?);
            let contract = script.file_stem()?.to_str()?.to_string();
            Some(CheckerProc { pid, parent, contract })
        })
        .collect();
    found.sort_by_key(|c| c.pid);
    found
}

/// `n` consecutive free UDP ports and a free TCP port. Each call starts in a range of its
/// own, so tests running at once never probe the same ports (a probe reserves nothing:
/// a network still starting has not bound its ports yet).
pub fn free_ports(n: u16) -> (u16, u16) {
    static CALLS: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let start = 30_000 + (std::process::id() % 200) as u16 * 64 + call * 4_000;
    let base = (0..200u16)
        .map(|i| start.wrapping_add(i * n))
        .find(|&base| {
            base > 1024
                && base.checked_add(n).is_some()
                && (base..base + n).all(|p| UdpSocket::bind((Ipv4Addr::LOCALHOST, p)).is_ok())
        })
        .expect("free UDP ports");
    let api = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free TCP port")
        .port();
    (base, api)
}

/// Run `BIN args`, which must succeed.
pub fn chainspace(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).stdin(Stdio::null()).output().expect("the binary runs");
    assert!(out.status.success(), "chainspace {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
