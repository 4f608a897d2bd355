//! A closed-loop load on a local network over real QUIC, all in one process: every
//! replica on its own endpoint, clients submitting `dummy` transactions (one create per
//! transaction, or a consume of `--inputs` objects), and the throughput and latency they
//! saw. A baseline for the experiments runner, not a replacement for it.
//!
//! ```text
//! cargo run --release -p chainspace-node --example load -- \
//!     [--shards 2] [--replicas 4] [--consensus pbft|hotstuff] [--clients 64] [--seconds 10]
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chainspace_contracts::dummy;
use chainspace_core::sbac::Outcome;
use chainspace_core::transaction::TransactionRequest;
use chainspace_node::client::ClientConfig;
use chainspace_node::local::{LocalConfig, LocalNetwork};
use clap::Parser;
use clap::builder::RangedU64ValueParser;
use consensus_any::Protocol;

/// A closed-loop load on a local network over real QUIC, all in one process.
#[derive(Parser)]
#[command(name = "load")]
struct Args {
    /// Number of shards.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    shards: u32,
    /// Replicas per shard (at least 4 = 3f+1 with f = 1).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(4..))]
    replicas: u32,
    /// Consensus protocol of every shard: pbft or hotstuff.
    #[arg(long = "consensus", value_name = "PROTOCOL", default_value_t = Protocol::Pbft)]
    protocol: Protocol,
    /// Number of closed-loop clients, each with one transaction in flight.
    #[arg(long, default_value_t = 64, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    clients: usize,
    /// How long to run the load, in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    seconds: u64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() -> ExitCode {
    let a = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(a))
}

async fn run(a: Args) -> ExitCode {
    let config = LocalConfig::new(a.shards, a.replicas, a.protocol.default_config());
    let net = match LocalNetwork::start(config) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let client = match net.client(ClientConfig::default()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let tasks: Vec<_> = (0..a.clients)
        .map(|c| {
            let (client, stop) = (client.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut latencies, mut aborts) = (Vec::new(), 0u64);
                let mut k = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let transaction = dummy::create(&format!("load-{c}-{k}"), 1);
                    k += 1;
                    let request = TransactionRequest { transaction, store: Default::default() };
                    let t = Instant::now();
                    match client.submit(request).await {
                        Ok(f) if f.outcome == Outcome::Commit => latencies.push(t.elapsed()),
                        Ok(_) => aborts += 1,
                        Err(_) => break,
                    }
                }
                (latencies, aborts)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut aborts = 0;
    for t in tasks {
        if let Ok(Ok((l, ab))) = tokio::time::timeout(Duration::from_secs(30), t).await {
            latencies.extend(l);
            aborts += ab;
        }
    }
    let elapsed = start.elapsed();
    client.shutdown().await;
    net.shutdown().await;
    latencies.sort();
    println!(
        "{} shards x {} replicas ({}), QUIC in one process, {} closed-loop clients, {:.1} s",
        a.shards,
        a.replicas,
        a.protocol,
        a.clients,
        elapsed.as_secs_f64()
    );
    println!(
        "committed {} ({:.0}/s), aborted {aborts}; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    ExitCode::SUCCESS
}
