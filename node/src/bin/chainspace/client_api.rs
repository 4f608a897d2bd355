//! `chainspace client-api`: the HTTP client API of the original Chainspace, in front of a
//! network described by a config, reached as a QUIC client.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chainspace_node::api::{self, ApiConfig, ApiState};
use chainspace_node::config::NetworkConfig;
use chainspace_node::{Client, ClientConfig};
use tokio::net::TcpListener;

use crate::signals;

/// Serve the client API.
#[derive(clap::Args)]
pub struct Args {
    /// The network config (network.toml).
    #[arg(long)]
    pub config: PathBuf,
    /// Where to listen [default: the config's client_api.listen, 127.0.0.1:5000].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let stop = signals::stop_signal()?;
    let cfg = NetworkConfig::load(&args.config)?;
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    let listen = args.listen.unwrap_or(cfg.client_api.listen);
    let listener = bind(listen).await?;
    serve(&cfg, listener, async move {
        let signal = stop.await;
        tracing::info!(signal, "client API stopping");
    })
    .await
}

/// Bind the API's TCP listener: done before anything else is started, so a port in use
/// is reported at once.
pub async fn bind(listen: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(listen)
        .await
        .with_context(|| format!("client API: cannot listen on {listen} (in use? try --listen)"))
}

/// Serve the API on `listener` for the network of `cfg` until `shutdown` resolves.
pub async fn serve(
    cfg: &NetworkConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let key = cfg.client_key()?;
    let transport = cfg.quic_client(&key).context("client API: QUIC")?;
    let client = Client::spawn(cfg.committee.clone(), Arc::new(transport), ClientConfig::default());
    let listen = listener.local_addr().context("client API: local address")?;
    let api_cfg =
        ApiConfig { listen, ..ApiConfig::default() }.with_contracts(&cfg.checker_registry());
    let state = ApiState::new(client.clone(), cfg.committee.clone(), api_cfg);
    let served = api::serve(listener, state, shutdown).await;
    client.shutdown().await;
    served.context("client API")
}
