//! `chainspace node`: one replica, as a deployment runs it.
//!
//! The replica listens on its config address over QUIC, dials its peers at theirs, keeps
//! its objects and S-BAC state in its data directory and, when started again over the same
//! directory (after a stop or a crash), resumes from it with `Replica::open` and catches up
//! with its shard for whatever it missed. SIGINT or SIGTERM stops it cleanly: the driver
//! stops, the QUIC endpoint closes, and the store (fsynced at every batch) is released.
//!
//! Checkers come from the config's `[checkers]`. Python ones are processes of this
//! replica's own (started on their first call, restarted if they die, logging to
//! `logs/checkers/s{S}r{R}/` beside the config), stopped when the replica stops, so
//! a replica never depends on another machine's checker nor leaves its own behind.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chainspace_node::config::NetworkConfig;
use chainspace_node::runtime;
use transport_quic::QuicTransport;

use crate::signals;

/// How often a running replica logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(30);

/// Run one replica.
#[derive(clap::Args)]
pub struct Args {
    /// The network config (network.toml).
    #[arg(long)]
    pub config: PathBuf,
    /// The replica's shard.
    #[arg(long)]
    pub shard: u32,
    /// The replica's index in its shard.
    #[arg(long)]
    pub replica: u32,
    /// Stop when this process is no longer the parent (used by `chainspace up`, so its
    /// replicas never outlive it, even if it is killed with SIGKILL).
    #[arg(long, hide = true)]
    pub parent_pid: Option<u32>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let stop = signals::stop_signal()?;
    let cfg = NetworkConfig::load(&args.config)?;
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    let (id, entry) = cfg.replica(args.shard, args.replica)?;
    let key = cfg.replica_key(id)?;
    let transport =
        QuicTransport::bind(&key, cfg.committee.clone(), entry.address, cfg.quic.clone())
            .with_context(|| format!("replica {id}: binding {}", entry.address))?;
    let transport = Arc::new(transport);
    transport.set_peers(cfg.addrs().into_iter().filter(|(peer, _)| *peer != id))?;
    let data_dir = cfg.data_dir(id);
    let store = cfg
        .open_store(id)
        .with_context(|| format!("replica {id}: opening its store in {}", data_dir.display()))?;
    let replica = cfg
        .build_replica(id, key, store)
        .with_context(|| format!("replica {id}: resuming from {}", data_dir.display()))?;
    let records = replica.engine().records().len();
    tracing::info!(replica = %id, addr = %entry.address, protocol = %cfg.protocol.protocol(),
        store = ?cfg.store.kind, data_dir = %data_dir.display(), resumed_records = records,
        "replica started");
    let checker_logs = cfg.checker_log_dir(id);
    let checkers = cfg.checkers(&checker_logs)?;
    if !checkers.managed.is_empty() {
        let managed: Vec<&str> = checkers.managed.keys().map(String::as_str).collect();
        tracing::info!(replica = %id, checkers = %managed.join(","), logs = %checker_logs.display(),
            "checker processes start on first use");
    }
    let handle = runtime::spawn(replica, transport.clone(), checkers.registry.clone());

    let why = tokio::select! {
        signal = stop => signal,
        why = watch(&handle, args.parent_pid) => why,
    };
    tracing::info!(replica = %id, reason = why, "stopping");
    let stats = handle.shutdown().await;
    // After the driver: no check can start a process again once they are stopped.
    checkers.shutdown_all().await;
    transport.shutdown(Duration::from_secs(2)).await;
    tracing::info!(replica = %id, last_delivered = stats.last_delivered,
        messages_in = stats.messages_in, messages_out = stats.messages_out,
        decode_errors = stats.decode_errors, "replica stopped");
    Ok(())
}

/// Resolves if the replica's driver stops by itself or the parent it was started by goes
/// away; logs progress meanwhile.
async fn watch<C>(handle: &runtime::ReplicaHandle<C>, parent: Option<u32>) -> &'static str
where
    C: chainspace_core::consensus::Consensus + Send + 'static,
{
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut last_report = tokio::time::Instant::now();
    let mut reported = u64::MAX;
    loop {
        tick.tick().await;
        if !handle.is_running() {
            return "the replica's driver stopped";
        }
        if parent.is_some_and(|p| std::os::unix::process::parent_id() != p) {
            return "the parent process is gone";
        }
        if last_report.elapsed() >= PROGRESS_EVERY {
            last_report = tokio::time::Instant::now();
            let s = handle.stats();
            if s.last_delivered != reported {
                reported = s.last_delivered;
                tracing::info!(replica = %handle.id(), last_delivered = s.last_delivered,
                    messages_in = s.messages_in, messages_out = s.messages_out, "progress");
            }
        }
    }
}
