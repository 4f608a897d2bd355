//! A checker service whose process a replica runs itself.
//!
//! Each replica gets its own checker processes, as each original Chainspace node ran
//! its own Python checkers: a replica then depends on no other machine to check, and a
//! crashed checker affects one replica, which one restart fixes. The process starts on
//! first use, is restarted if it dies (a call that finds it dead starts a new one and
//! tries once more), and is killed when the checker is shut down or dropped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use chainspace_core::Error;
use chainspace_core::checker::{CheckRequest, CheckVerdict, Checker};
use reqwest::{Client, Url};
use tokio::sync::Mutex;

use crate::error::CheckerHttpError;
use crate::http::{Calls, HttpConfig};
use crate::process::{ManagedCommand, Running, start};

/// How to run one managed checker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedConfig {
    /// The checker's name, usually its contract ID; it names the log file.
    pub name: String,
    /// The command starting the service.
    pub command: ManagedCommand,
    /// Where the process's stdout and stderr go: `<log_dir>/<name>.log`, appended to
    /// across restarts. Give each replica its own directory.
    pub log_dir: PathBuf,
    /// The longest a start may take, until the service answers `GET /`.
    pub startup_timeout: Duration,
    /// How calls are made once it runs.
    pub http: HttpConfig,
}

impl ManagedConfig {
    /// The Python checker of `contract` from the repository at `root`
    /// ([`ManagedCommand::python_contract`]), logging to `log_dir`.
    pub fn python(root: &Path, contract: &str, log_dir: impl Into<PathBuf>) -> Self {
        ManagedConfig {
            name: contract.into(),
            command: ManagedCommand::python_contract(root, contract),
            log_dir: log_dir.into(),
            startup_timeout: Duration::from_secs(15),
            http: HttpConfig::default(),
        }
    }

    /// The log file: the name with anything but `[A-Za-z0-9._-]` replaced, so that a
    /// contract ID can never point outside the log directory.
    pub fn log_path(&self) -> PathBuf {
        let safe: String = self
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' })
            .collect();
        let safe = if safe.trim_matches('.').is_empty() { format!("_{safe}") } else { safe };
        self.log_dir.join(format!("{safe}.log"))
    }
}

#[derive(Debug, Default)]
struct State {
    running: Option<Running>,
    /// Increases with each start, so that of many calls finding the same process dead,
    /// only the first restarts it.
    generation: u64,
    shut_down: bool,
}

/// A [`Checker`] running its service as a child process (see the module docs).
#[derive(Debug)]
pub struct ManagedChecker {
    config: ManagedConfig,
    calls: Calls,
    state: Mutex<State>,
}

impl ManagedChecker {
    /// A checker with its own HTTP client. Nothing starts until the first call or
    /// [`start`](Self::start).
    pub fn new(config: ManagedConfig) -> Result<Self, CheckerHttpError> {
        let client = config.http.client()?;
        Ok(Self::with_client(client, config))
    }

    /// A checker calling its service through `client`, shared with other checkers.
    pub fn with_client(client: Client, config: ManagedConfig) -> Self {
        let calls = Calls::new(client, config.http.clone());
        ManagedChecker { config, calls, state: Mutex::new(State::default()) }
    }

    /// Its configuration.
    pub fn config(&self) -> &ManagedConfig {
        &self.config
    }

    /// Start the process now unless it runs; its URL.
    pub async fn start(&self) -> Result<Url, CheckerHttpError> {
        Ok(self.ensure().await?.0)
    }

    /// The running process's ID, if one runs.
    pub async fn pid(&self) -> Option<u32> {
        self.state.lock().await.running.as_ref().map(|r| r.process.pid())
    }

    /// How many times a process was started.
    pub async fn starts(&self) -> u64 {
        self.state.lock().await.generation
    }

    /// Whether the process runs and answers `GET /` (without starting it).
    pub async fn health(&self) -> Result<(), CheckerHttpError> {
        let url = self.state.lock().await.running.as_ref().map(|r| r.url.clone());
        let url =
            url.ok_or_else(|| CheckerHttpError::NotRunning { name: self.config.name.clone() })?;
        self.calls.health(&url, self.config.http.timeout).await
    }

    /// Kill the process and wait for it; later calls fail with
    /// [`CheckerHttpError::ShutDown`].
    pub async fn shutdown(&self) {
        let mut state = self.state.lock().await;
        state.shut_down = true;
        if let Some(mut running) = state.running.take() {
            running.process.stop().await;
            tracing::info!(checker = %self.config.name, "checker process stopped");
        }
    }

    /// Check `request`, with the cause of a failure kept structured.
    pub async fn call(&self, request: &CheckRequest) -> Result<CheckVerdict, CheckerHttpError> {
        let (url, generation) = self.ensure().await?;
        match self.calls.check(&url, request).await {
            Err(e) if e.is_connect() => {
                tracing::warn!(checker = %self.config.name, error = %e, "checker unreachable; restarting it");
                let url = self.restart(generation).await?;
                self.calls.check(&url, request).await
            }
            other => other,
        }
    }

    /// The URL and generation of a running process, starting one if none runs.
    async fn ensure(&self) -> Result<(Url, u64), CheckerHttpError> {
        let mut state = self.state.lock().await;
        if state.shut_down {
            return Err(CheckerHttpError::ShutDown { name: self.config.name.clone() });
        }
        if let Some(running) = &mut state.running {
            match running.process.has_exited() {
                None => return Ok((running.url.clone(), state.generation)),
                Some(how) => {
                    tracing::warn!(checker = %self.config.name, status = %how, "checker process died; restarting it");
                }
            }
        }
        self.replace(&mut state).await
    }

    /// After a connection error on the process of `generation`: restart it, unless
    /// another call already did or it turns out to be healthy.
    async fn restart(&self, generation: u64) -> Result<Url, CheckerHttpError> {
        let mut state = self.state.lock().await;
        if state.shut_down {
            return Err(CheckerHttpError::ShutDown { name: self.config.name.clone() });
        }
        let current = state.generation;
        if let Some(running) = &mut state.running
            && (current != generation
                || (running.process.has_exited().is_none()
                    && self.calls.health(&running.url, Duration::from_secs(1)).await.is_ok()))
        {
            return Ok(running.url.clone());
        }
        Ok(self.replace(&mut state).await?.0)
    }

    /// Stop the current process, if any, and start a new one.
    async fn replace(&self, state: &mut State) -> Result<(Url, u64), CheckerHttpError> {
        if let Some(mut old) = state.running.take() {
            old.process.stop().await;
        }
        state.generation += 1;
        let running = start(
            &self.config.name,
            &self.config.command,
            &self.config.log_path(),
            self.config.startup_timeout,
            &self.calls,
        )
        .await?;
        let url = running.url.clone();
        state.running = Some(running);
        Ok((url, state.generation))
    }
}

#[async_trait]
impl Checker for ManagedChecker {
    async fn check(&self, request: &CheckRequest) -> Result<CheckVerdict, Error> {
        self.call(request).await.map_err(|e| e.into_core(&request.call.contract_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_files_stay_in_the_log_directory() {
        let mut config = ManagedConfig::python(Path::new("/repo"), "addition", "/logs");
        assert_eq!(config.log_path(), Path::new("/logs/addition.log"));
        for (name, file) in
            [("../../etc/x", ".._.._etc_x.log"), ("..", "_...log"), ("a b", "a_b.log")]
        {
            config.name = name.into();
            assert_eq!(config.log_path(), Path::new("/logs").join(file), "{name}");
        }
    }

    #[test]
    fn python_command_runs_the_contract_file_on_port_zero_with_the_package_on_the_path() {
        let config = ManagedConfig::python(Path::new("/repo"), "vote", "/logs");
        let line = config.command.display();
        assert!(
            line.ends_with(
                "/repo/contracts/python/vote.py checker --port 0 --host 127.0.0.1 --exit-with-parent"
            ),
            "{line}"
        );
        let path = config.command.env.iter().find(|(k, _)| k == "PYTHONPATH").expect("PYTHONPATH");
        assert!(path.1.to_string_lossy().starts_with("/repo/python/src"), "{:?}", path.1);
    }
}
