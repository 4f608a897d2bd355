//! `chainspace up`: a whole network on this machine in one command, like the original's
//! `easystart` scripts but with one process to stop: keys and config in a directory, each
//! replica a child process (`chainspace node`) with its own log and data directory, and the
//! client API in this process. Ctrl-C stops everything in order.
//!
//! Given a `--dir` that already holds a network.toml, `up` starts that network again, and
//! its replicas resume from their data directories.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use chainspace_node::config::{self, CONFIG_FILE, Layout, NetworkConfig, StoreKind};
use consensus_any::Protocol;

use crate::checkers_arg::CheckersArg;
use crate::children::{self, Replica};
use crate::{client_api, signals};

/// How long replicas get to stop after SIGINT before they are killed.
const GRACE: Duration = Duration::from_secs(10);

/// Start a local network and the client API.
#[derive(clap::Args)]
pub struct Args {
    /// Number of shards.
    #[arg(long, default_value_t = 2)]
    pub shards: u32,
    /// Replicas per shard (at least 4).
    #[arg(long, default_value_t = 4)]
    pub replicas: u32,
    /// Consensus protocol of every shard: pbft or hotstuff.
    #[arg(long, default_value = "pbft")]
    pub consensus: Protocol,
    /// Directory for keys, config, logs and data [default: a new temporary directory].
    /// If it holds a network.toml, that network is started again.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Where the client API listens.
    #[arg(long, default_value = "127.0.0.1:5000")]
    pub api: SocketAddr,
    /// First UDP port of the replicas [default: the first free run from 7000].
    #[arg(long)]
    pub base_port: Option<u16>,
    /// Which checkers a new network uses: native, or python (contracts with a Python
    /// version are checked by it; each replica runs its own checker processes, logging
    /// to DIR/logs/checkers/s{S}r{R}/). An existing network keeps its config's.
    #[arg(long, value_enum, default_value_t)]
    pub checkers: CheckersArg,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let stop = signals::stop_signal()?;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => fresh_dir(),
    };
    let cfg = prepare(&args, &dir)?;
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    let listener = client_api::bind(args.api).await?;
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let exe = std::env::current_exe().context("finding this executable")?;

    let mut replicas = Vec::new();
    for (id, entry) in &cfg.replicas {
        let log = logs.join(format!("s{}r{}.log", id.shard.0, id.index));
        let r = Replica::spawn(&exe, cfg.path(), *id, log.clone())?;
        println!(
            "replica {id}  {}  pid {}  log {}  data {}",
            entry.address,
            r.pid().map_or("?".into(), |p| p.to_string()),
            log.display(),
            data_of(&cfg, *id),
        );
        replicas.push(r);
    }
    println!("config     {}", cfg.path().display());
    if cfg.checkers.python.is_some() {
        println!("checkers   {} (Python checker logs)", logs.join("checkers").display());
    }
    println!("client API http://{}/api/1.0/", args.api);
    println!("Ctrl-C stops the network; the directory is kept.");

    let (api_stop, api_stopped) = tokio::sync::oneshot::channel::<()>();
    let api = tokio::spawn({
        let cfg = cfg.clone();
        async move {
            client_api::serve(&cfg, listener, async move {
                let _ = api_stopped.await;
            })
            .await
        }
    });
    let outcome = supervise(&mut replicas, stop, api).await;
    let _ = api_stop.send(());
    children::stop_all(&mut replicas, GRACE).await;
    println!("stopped; keys, config, logs and data are in {}", dir.display());
    outcome
}

/// Wait for a stop signal, reporting replicas that exit early (the network carries on
/// without them, as long as each shard keeps 2f+1). Returns early, with the error, if the
/// client API fails.
async fn supervise(
    replicas: &mut [Replica],
    stop: impl Future<Output = &'static str>,
    mut api: tokio::task::JoinHandle<anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tokio::pin!(stop);
    loop {
        tokio::select! {
            signal = &mut stop => {
                tracing::info!(signal, "stopping the network");
                return Ok(());
            }
            done = &mut api => {
                return match done {
                    Ok(Ok(())) => Err(anyhow::anyhow!("the client API stopped")),
                    Ok(Err(e)) => Err(e),
                    Err(e) => Err(anyhow::anyhow!("the client API task failed: {e}")),
                };
            }
            _ = tick.tick() => {
                for r in replicas.iter_mut() {
                    if let Some(status) = r.newly_exited() {
                        tracing::error!(replica = %r.id, %status, log = %r.log.display(),
                            "replica exited early");
                        eprintln!("replica {} exited ({status}); last lines of {}:\n{}",
                            r.id, r.log.display(), children::tail(&r.log, 5));
                    }
                }
            }
        }
    }
}

/// Load the network in `dir`, or generate one there.
fn prepare(args: &Args, dir: &Path) -> anyhow::Result<NetworkConfig> {
    let path = dir.join(CONFIG_FILE);
    if path.exists() {
        let cfg = NetworkConfig::load(&path)?;
        println!("starting the existing network in {}", dir.display());
        return Ok(cfg);
    }
    let n = args.shards.saturating_mul(args.replicas);
    let host = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let base_port = match args.base_port {
        Some(p) => p,
        None => free_ports(host, n).context("no run of free UDP ports for the replicas")?,
    };
    let layout = Layout {
        shards: args.shards,
        replicas: args.replicas,
        protocol: args.consensus,
        host,
        base_port,
        api_listen: args.api,
        store: StoreKind::Redb,
        python_root: args.checkers.python_root()?,
    };
    let cfg = config::generate(dir, &layout)
        .with_context(|| format!("generating a network in {}", dir.display()))?;
    println!(
        "generated a {}x{} {} network in {}",
        args.shards,
        args.replicas,
        args.consensus,
        dir.display()
    );
    Ok(cfg)
}

fn data_of(cfg: &NetworkConfig, id: chainspace_core::types::ReplicaId) -> String {
    match cfg.store.kind {
        StoreKind::Redb => cfg.data_dir(id).display().to_string(),
        StoreKind::Memory => "(memory)".into(),
    }
}

/// A new directory name under the system's temp dir, unique to this run.
fn fresh_dir() -> PathBuf {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    std::env::temp_dir().join(format!("chainspace-{t}-{}", std::process::id()))
}

/// The first port from 7000 starting `n` consecutive free UDP ports on `host`. Another
/// process may take one before the replicas bind; the replica then fails, and says so.
fn free_ports(host: IpAddr, n: u32) -> Option<u16> {
    let n = u16::try_from(n).ok()?.max(1);
    let mut base: u16 = 7000;
    while base.checked_add(n)? < u16::MAX {
        if (base..base + n).all(|p| UdpSocket::bind((host, p)).is_ok()) {
            return Some(base);
        }
        base += n;
    }
    None
}
