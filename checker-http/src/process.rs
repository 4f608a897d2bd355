//! Starting and stopping one checker process.
//!
//! A service is started with port 0 and tells where it listens on stdout (the Python
//! service prints `<contract> checker listening on http://HOST:PORT`): the OS picks a
//! free port, so replicas sharing a host never race for one. Everything the process
//! writes goes to its log file. It runs in a process group of its own, and the whole
//! group is killed when its [`Running`] handle goes away, so a wrapper script cannot
//! leave its interpreter behind.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Url;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::oneshot;

use crate::error::{CheckerHttpError, clip};
use crate::http::{Calls, parse_url};

/// The environment variable naming the Python interpreter of managed Python checkers.
pub const PYTHON_ENV: &str = "CHAINSPACE_PYTHON";

/// The Python interpreter to run checkers with: `$CHAINSPACE_PYTHON`, else `python3`.
pub fn python_program() -> PathBuf {
    std::env::var_os(PYTHON_ENV)
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".into())
        .into()
}

/// The command that starts a checker service. It must print the service's URL
/// (`http://HOST:PORT`) on a line of its stdout once it listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedCommand {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Variables added to (or replacing those of) the inherited environment.
    pub env: Vec<(OsString, OsString)>,
    /// The working directory (default: the node's).
    pub cwd: Option<PathBuf>,
}

impl ManagedCommand {
    /// `program args...`, in the node's environment and directory.
    pub fn new(
        program: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<OsString>>,
    ) -> Self {
        ManagedCommand {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            env: vec![],
            cwd: None,
        }
    }

    /// `python3 <root>/contracts/python/<contract>.py checker --port 0 --host 127.0.0.1
    /// --exit-with-parent`,
    /// with the interpreter of [`python_program`] and `<root>/python/src` first on
    /// `PYTHONPATH`, so the `chainspace` package imports without being installed. `root`
    /// is the repository's root.
    pub fn python_contract(root: &Path, contract: &str) -> Self {
        let script = root.join("contracts").join("python").join(format!("{contract}.py"));
        let mut path = vec![root.join("python").join("src")];
        if let Some(existing) = std::env::var_os("PYTHONPATH") {
            path.extend(std::env::split_paths(&existing));
        }
        let mut command = ManagedCommand::new(python_program(), [OsString::from(script)]);
        // `--exit-with-parent`: a replica killed with SIGKILL cannot stop its checkers, so
        // they watch for it themselves.
        command.args.extend(
            ["checker", "--port", "0", "--host", "127.0.0.1", "--exit-with-parent"]
                .map(OsString::from),
        );
        // join_paths only fails on a separator inside a path; then keep the inherited one.
        if let Ok(joined) = std::env::join_paths(path) {
            command.env.push(("PYTHONPATH".into(), joined));
        }
        // Who the service's `--exit-with-parent` watches: this process (read by the service
        // at start-up, so a parent that dies early is not missed).
        command.env.push(("CHAINSPACE_PARENT_PID".into(), std::process::id().to_string().into()));
        // Line-buffered output, so the log shows a traceback as soon as it happens.
        command.env.push(("PYTHONUNBUFFERED".into(), "1".into()));
        command
    }

    /// The same command run by `program` (another interpreter).
    pub fn with_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self
    }

    /// The command line, for logs and errors.
    pub fn display(&self) -> String {
        let mut line = self.program.display().to_string();
        for arg in &self.args {
            line.push(' ');
            line.push_str(&arg.to_string_lossy());
        }
        clip(&line, 300)
    }
}

/// A started checker process and the URL it serves.
#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) process: Process,
    pub(crate) url: Url,
}

/// A child process in a group of its own, killed with its group when dropped.
#[derive(Debug)]
pub(crate) struct Process {
    child: Child,
    pid: u32,
    reaped: bool,
}

impl Process {
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the process has ended (and if so, it is reaped and its group killed).
    pub(crate) fn has_exited(&mut self) -> Option<String> {
        if self.reaped {
            return Some("exited".into());
        }
        match self.child.try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => {
                self.reaped();
                Some(status.to_string())
            }
            Err(e) => Some(format!("cannot be waited for: {e}")),
        }
    }

    /// Kill the process group and wait (a bounded time) for the process to be reaped.
    pub(crate) async fn stop(&mut self) {
        self.kill_group();
        if !self.reaped {
            let _ = self.child.start_kill();
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await
            {
                self.reaped();
            }
        }
    }

    /// The leader is gone: kill what is left of its group now, while its ID cannot have
    /// been reused, and never signal that ID again.
    fn reaped(&mut self) {
        self.kill_group();
        self.reaped = true;
    }

    fn kill_group(&self) {
        if self.reaped {
            return;
        }
        if let Ok(group) = libc::pid_t::try_from(self.pid) {
            // SAFETY: killpg only sends a signal; the group is the one this process
            // created for the child (`process_group(0)`), and its leader is not reaped.
            unsafe { libc::killpg(group, libc::SIGKILL) };
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // `kill_on_drop` kills the leader and tokio reaps it; this kills the rest.
        self.kill_group();
    }
}

/// Start `command` as the checker `name`, logging to `log`, and wait until it serves
/// `GET /`, for at most `startup`.
pub(crate) async fn start(
    name: &str,
    command: &ManagedCommand,
    log: &Path,
    startup: Duration,
    calls: &Calls,
) -> Result<Running, CheckerHttpError> {
    let fail = |reason: String| CheckerHttpError::Spawn {
        name: name.into(),
        command: command.display(),
        reason,
    };
    let mut file = open_log(log)?;
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let _ = writeln!(file, "=== unix time {since}: starting {}", command.display());
    let stderr = file.try_clone().map_err(|e| log_error(log, &e))?;

    let mut cmd = Command::new(&command.program);
    cmd.args(&command.args)
        .envs(command.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &command.cwd {
        cmd.current_dir(dir);
    }
    let mut child = cmd.spawn().map_err(|e| fail(e.to_string()))?;
    let pid = child.id().ok_or_else(|| fail("exited at once".into()))?;
    let stdout = child.stdout.take().ok_or_else(|| fail("no stdout".into()))?;
    let (tx, rx) = oneshot::channel();
    tokio::spawn(copy_stdout(stdout, file, tx));
    // From here on, dropping `process` (an error below) kills it.
    let mut process = Process { child, pid, reaped: false };

    let deadline = tokio::time::Instant::now() + startup;
    let printed = match tokio::time::timeout_at(deadline, rx).await {
        Ok(Ok(url)) => url,
        Ok(Err(_)) => {
            // stdout closed without a URL: the process is ending; give it a moment so
            // the error can say how.
            let _ = tokio::time::timeout(Duration::from_millis(500), process.child.wait()).await;
            let how = process.has_exited().unwrap_or_else(|| "closed its stdout".into());
            return Err(fail(format!("{how} before printing its URL; {}", log_tail(log))));
        }
        Err(_) => {
            return Err(fail(format!("printed no URL within {startup:?}; {}", log_tail(log))));
        }
    };
    let url = parse_url(&printed).map_err(|e| fail(e.to_string()))?;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match calls.health(&url, left.min(Duration::from_secs(1))).await {
            Ok(()) => break,
            Err(e) if left.is_zero() => return Err(fail(format!("{e}; {}", log_tail(log)))),
            Err(_) => {}
        }
        if let Some(how) = process.has_exited() {
            return Err(fail(format!("{how} while starting; {}", log_tail(log))));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tracing::info!(checker = name, pid, %url, log = %log.display(), "checker process started");
    Ok(Running { process, url })
}

/// Copy the process's stdout to its log, sending the first URL printed to `url`.
async fn copy_stdout(stdout: ChildStdout, mut log: File, url: oneshot::Sender<String>) {
    let mut url = Some(url);
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        // Small appends to a local file: not worth a blocking-pool hop.
        let _ = writeln!(log, "{line}");
        if let Some(at) = line.find("http://") {
            let printed = line[at..].split_whitespace().next().unwrap_or_default();
            if let Some(tx) = url.take() {
                let _ = tx.send(printed.to_string());
            }
        }
    }
}

fn open_log(path: &Path) -> Result<File, CheckerHttpError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| log_error(dir, &e))?;
    }
    OpenOptions::new().create(true).append(true).open(path).map_err(|e| log_error(path, &e))
}

fn log_error(path: &Path, e: &std::io::Error) -> CheckerHttpError {
    CheckerHttpError::Log { path: path.to_path_buf(), reason: e.to_string() }
}

/// The end of the log, to put the service's own last words in a startup error.
fn log_tail(path: &Path) -> String {
    const TAIL: u64 = 600;
    let read = || -> std::io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(TAIL)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => format!("log {} ends with: {:?}", path.display(), text.trim()),
        Err(e) => format!("log {} unreadable: {e}", path.display()),
    }
}
