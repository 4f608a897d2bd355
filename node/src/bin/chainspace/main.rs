//! `chainspace`: run a Chainspace network.
//!
//! * `keygen` writes keys and a `network.toml` describing a network;
//! * `node` runs one replica of it;
//! * `client-api` serves the original Chainspace's HTTP client API against it;
//! * `up` does all of that on this machine in one command, for development and demos, with
//!   each replica a child process (as in a deployment, so a crash or a kill -9 of one is
//!   real) and a log file per replica.
//!
//! Logs go to stderr through `tracing`, one line per event, filtered by `RUST_LOG`
//! (`info` by default); what a command reports to its user (paths, addresses) goes to
//! stdout.

/// mimalloc instead of the system allocator: a replica's state is many small objects, on
/// which glibc's malloc spent a tenth of the CPU consolidating free chunks (measured with
/// the experiments runner, which uses it too).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod checkers_arg;
mod children;
mod client_api;
mod keygen;
mod node;
mod signals;
mod up;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Chainspace: a sharded smart-contract platform with pluggable BFT consensus.
#[derive(Parser)]
#[command(name = "chainspace", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate keys for every replica and a client, and a network.toml naming them.
    Keygen(keygen::Args),
    /// Run one replica of the network a config describes.
    Node(node::Args),
    /// Serve the HTTP client API (POST /api/1.0/transaction/process) for a network.
    ClientApi(client_api::Args),
    /// Start a whole local network and the client API in one command; Ctrl-C stops it.
    Up(up::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Keygen(args) => keygen::run(args),
        Command::Node(args) => block_on(node::run(args)),
        Command::ClientApi(args) => block_on(client_api::run(args)),
        Command::Up(args) => block_on(up::run(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn block_on(f: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(f)
}

/// One line per event on stderr; `RUST_LOG` chooses what (default `info`). Colours only
/// on a terminal, so log files stay plain text.
fn init_logging() {
    let filter = match EnvFilter::try_from_default_env() {
        Ok(f) => f,
        Err(e) => {
            if std::env::var_os("RUST_LOG").is_some() {
                eprintln!("warning: RUST_LOG not understood ({e}); logging at info");
            }
            EnvFilter::new("info")
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
