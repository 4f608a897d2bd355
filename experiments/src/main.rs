//! `experiments`: run experiment configs, compare their results.
//!
//! ```text
//! cargo run --release -p experiments -- configs/2x4-pbft.toml [more.toml ...]
//! cargo run --release -p experiments -- compare results/A/summary.json results/B
//! ```

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use experiments::{Options, compare, run_file};

/// mimalloc instead of the system allocator: with eight replicas' states in one process
/// (hundreds of thousands of objects each in long runs), glibc's malloc spent a tenth of
/// the CPU on consolidating and unlinking free chunks, and the process kept growing.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "experiments",
    about = "Run Chainspace experiments described by TOML configs (see configs/README.md)",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    /// Experiment configs to run, one after another.
    configs: Vec<PathBuf>,
    /// Put result directories here instead of the config's `output`.
    #[arg(long)]
    output: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print two runs side by side (summary.json files or result directories).
    Compare {
        /// The first run.
        a: PathBuf,
        /// The second run.
        b: PathBuf,
    },
    /// One replica of a `processes = "many"` run (started by the runner itself).
    #[command(hide = true)]
    Replica {
        /// `s<shard>r<index>`.
        name: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Some(Command::Compare { a, b }) => {
            let load = |p: &PathBuf| compare::load(p);
            match (load(&a), load(&b)) {
                (Ok(x), Ok(y)) => {
                    print!(
                        "{}",
                        compare::compare(
                            &x,
                            &y,
                            &a.display().to_string(),
                            &b.display().to_string()
                        )
                    );
                    ExitCode::SUCCESS
                }
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Some(Command::Replica { name }) => {
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: tokio: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(experiments::processes::replica_main(&name)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("replica {name}: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        None if cli.configs.is_empty() => {
            eprintln!(
                "usage: experiments <config.toml>... | experiments compare <a> <b>\n(see configs/README.md)"
            );
            ExitCode::from(2)
        }
        None => {
            let opts = Options {
                progress: !cli.quiet && std::io::stderr().is_terminal(),
                output: cli.output,
                print: true,
                replica_program: None,
            };
            for path in &cli.configs {
                if let Err(e) = run_file(path, &opts) {
                    eprintln!("error: {e}");
                    return match e {
                        experiments::RunError::Config(_) => ExitCode::from(2),
                        _ => ExitCode::FAILURE,
                    };
                }
            }
            ExitCode::SUCCESS
        }
    }
}
