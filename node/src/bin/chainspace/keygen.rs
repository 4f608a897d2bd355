//! `chainspace keygen`: a new network's identities and config.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use chainspace_node::config::{self, Layout, StoreKind};
use consensus_any::Protocol;

use crate::checkers_arg::CheckersArg;

/// Generate keys and a network.toml.
#[derive(clap::Args)]
pub struct Args {
    /// Number of shards.
    #[arg(long, default_value_t = 2)]
    pub shards: u32,
    /// Replicas per shard (at least 4 = 3f+1 with f = 1).
    #[arg(long, default_value_t = 4)]
    pub replicas: u32,
    /// Consensus protocol of every shard: pbft or hotstuff.
    #[arg(long, default_value = "pbft")]
    pub consensus: Protocol,
    /// Directory to write network.toml and keys/ into (created if missing; must not
    /// already hold a network.toml).
    #[arg(long)]
    pub out: PathBuf,
    /// Replica s{S}r{R} listens on UDP port base-port + S * replicas + R.
    #[arg(long, default_value_t = 7000)]
    pub base_port: u16,
    /// The host replicas listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    /// Where the client API listens.
    #[arg(long, default_value = "127.0.0.1:5000")]
    pub api: SocketAddr,
    /// Keep objects in memory instead of redb (a restarted replica starts empty).
    #[arg(long)]
    pub memory: bool,
    /// Which checkers: native, or python (contracts with a Python version are checked by
    /// it, each replica running its own checker processes).
    #[arg(long, value_enum, default_value_t)]
    pub checkers: CheckersArg,
}

impl Args {
    pub fn layout(&self) -> anyhow::Result<Layout> {
        Ok(Layout {
            shards: self.shards,
            replicas: self.replicas,
            protocol: self.consensus,
            host: self.host,
            base_port: self.base_port,
            api_listen: self.api,
            store: if self.memory { StoreKind::Memory } else { StoreKind::Redb },
            python_root: self.checkers.python_root()?,
        })
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let cfg = config::generate(&args.out, &args.layout()?)
        .with_context(|| format!("generating a network in {}", args.out.display()))?;
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    println!("wrote {}", cfg.path().display());
    println!(
        "{} shard(s) x {} replicas, {}; keys in {}",
        args.shards,
        args.replicas,
        args.consensus,
        args.out.join("keys").display()
    );
    Ok(())
}
