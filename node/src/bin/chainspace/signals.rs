//! Waiting for the operator to stop a command: SIGINT (Ctrl-C) or SIGTERM (what service
//! managers and `kill` send), both meaning "stop cleanly".

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

/// Register the handlers now (so a signal arriving before the wait is not lost, nor
/// kills the process) and return a future that resolves with the signal's name.
pub fn stop_signal() -> anyhow::Result<impl Future<Output = &'static str> + Send + 'static> {
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    })
}
