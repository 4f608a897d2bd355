//! Replicas as child processes of `chainspace up`: started with their log file, watched for
//! early exits, and stopped the way an operator would stop them (SIGINT, a grace period,
//! then SIGKILL).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::Context;
use chainspace_core::types::ReplicaId;
use tokio::process::Command;

/// One replica process.
pub struct Replica {
    pub id: ReplicaId,
    pub log: PathBuf,
    child: tokio::process::Child,
    exited: Option<ExitStatus>,
}

impl Replica {
    /// Start `exe node --config CONFIG --shard S --replica R`, appending stdout and stderr to
    /// `log` (appending, so a restart keeps the history of the previous run).
    pub fn spawn(exe: &Path, config: &Path, id: ReplicaId, log: PathBuf) -> anyhow::Result<Self> {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("opening {}", log.display()))?;
        let err = out.try_clone().with_context(|| format!("opening {}", log.display()))?;
        let child = Command::new(exe)
            .arg("node")
            .arg("--config")
            .arg(config)
            .args(["--shard", &id.shard.0.to_string(), "--replica", &id.index.to_string()])
            .args(["--parent-pid", &std::process::id().to_string()])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Its own process group: a Ctrl-C at the terminal reaches `up` only, which then
            // stops the replicas in order instead of all processes racing.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting replica {id}"))?;
        Ok(Replica { id, log, child, exited: None })
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Whether it has exited since the last call (once per exit).
    pub fn newly_exited(&mut self) -> Option<ExitStatus> {
        if self.exited.is_some() {
            return None;
        }
        let status = self.child.try_wait().ok().flatten()?;
        self.exited = Some(status);
        Some(status)
    }

    fn interrupt(&self) {
        if let (None, Some(pid)) = (self.exited, self.child.id())
            && let Ok(pid) = libc::pid_t::try_from(pid)
        {
            // SAFETY: kill(2) has no memory effects; `pid` is our own child, not yet
            // reaped, so the id cannot have been reused by another process.
            unsafe {
                libc::kill(pid, libc::SIGINT);
            }
        }
    }
}

/// The last `n` lines of `log`, to show why a replica stopped.
pub fn tail(log: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// SIGINT every running replica, wait up to `grace` for all to exit, then SIGKILL the rest.
pub async fn stop_all(replicas: &mut [Replica], grace: Duration) {
    for r in replicas.iter() {
        r.interrupt();
    }
    let deadline = tokio::time::Instant::now() + grace;
    for r in replicas.iter_mut() {
        if r.exited.is_some() {
            continue;
        }
        match tokio::time::timeout_at(deadline, r.child.wait()).await {
            Ok(Ok(status)) => {
                r.exited = Some(status);
                tracing::info!(replica = %r.id, %status, "replica stopped");
            }
            Ok(Err(e)) => tracing::warn!(replica = %r.id, error = %e, "waiting for replica"),
            Err(_) => {
                tracing::warn!(replica = %r.id, "replica did not stop in time; killing it");
                let _ = r.child.kill().await;
            }
        }
    }
}
