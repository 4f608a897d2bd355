//! Run a whole Chainspace deployment — shards of PBFT or HotStuff replicas running S-BAC with the
//! native `dummy` contract, and clients — in the deterministic simulator, and report
//! throughput and latency.
//!
//! ```text
//! cargo run --release -p chainspace-tests --example sbac -- \
//!     [--shards 2] [--replicas 4] [--clients 8] [--transactions 2000] [--inputs 1] \
//!     [--loss 0.0] [--seed 1] [--consensus pbft|hotstuff|mixed]
//! ```
//!
//! Each client first creates objects (their IDs spread them over the shards), then
//! submits transactions that each consume `--inputs` of its objects (so with several
//! inputs most transactions span shards), one at a time (closed loop). Times are virtual:
//! what the protocols take on a simulated 1 ms LAN, with every replica's computation
//! free. The CPU line says what simulating it all on one thread cost.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chainspace_contracts::dummy;
use chainspace_core::object::Object;
use chainspace_core::sbac::Outcome;
use chainspace_core::shard::involved_shards;
use chainspace_core::sim::{NetworkModel, World};
use chainspace_core::transaction::TxId;
use chainspace_tests::setup::Deployment;
use chainspace_tests::setup::Mix;
use chainspace_tests::workload::{Ledger, outputs};
use clap::Parser;
use clap::builder::RangedU64ValueParser;
use consensus_any::{AnyConsensus, Protocol};

/// Run a whole Chainspace deployment in the deterministic simulator and report throughput
/// and latency.
#[derive(Parser)]
#[command(name = "sbac")]
struct Args {
    /// Number of shards.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    shards: u32,
    /// Replicas per shard.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    replicas: u32,
    /// Number of closed-loop clients, each with one transaction in flight.
    #[arg(long, default_value_t = 8, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    clients: usize,
    /// Total number of transactions, spread evenly over the clients.
    #[arg(long, default_value_t = 2000)]
    transactions: usize,
    /// Objects each transaction consumes (several make most transactions cross-shard).
    #[arg(long, default_value_t = 1, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    inputs: usize,
    /// Fraction of messages the simulated network drops, in [0, 1).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    loss: f64,
    /// Seed of the simulation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Consensus protocol of every shard: pbft or hotstuff; or mixed, for PBFT in even
    /// shards and HotStuff in odd ones.
    #[arg(long = "consensus", value_name = "PROTOCOL", default_value = "pbft", value_parser = parse_mix)]
    mix: Mix,
}

/// `--consensus`: "mixed", or the name of the protocol every shard runs.
fn parse_mix(s: &str) -> Result<Mix, String> {
    if s == "mixed" {
        return Ok(Mix::Alternate);
    }
    s.parse().map(Mix::All).map_err(|_| {
        let names: Vec<&str> = Protocol::ALL.iter().map(|p| p.name()).collect();
        format!("expected one of: {}, mixed", names.join(", "))
    })
}

/// The closed-loop load: which transaction each client sends next.
struct Load {
    next: Vec<usize>,
    per_client: usize,
    inputs: usize,
    pools: Vec<Vec<Object>>,
    submitted: HashMap<TxId, Duration>,
}

impl Load {
    fn submit(&mut self, w: &mut World<AnyConsensus>, ledger: &mut Ledger, c: usize) {
        let k = self.next[c];
        if k >= self.per_client {
            return;
        }
        self.next[c] += 1;
        let inputs = &self.pools[c][k * self.inputs..(k + 1) * self.inputs];
        let tx = dummy::consume(inputs, false);
        let reads: Vec<&Object> = inputs.iter().collect();
        self.submitted.insert(tx.digest(), w.now());
        ledger.submit_now(w, c, tx, &reads);
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() -> ExitCode {
    let a = Args::parse();
    if !(0.0..1.0).contains(&a.loss) {
        eprintln!("error: --loss must be in [0, 1)");
        return ExitCode::from(2);
    }
    let mut d = Deployment::new(a.shards, a.replicas);
    d.clients = a.clients;
    d.network = NetworkModel { drop_rate: a.loss, ..NetworkModel::default() };
    d.mix = a.mix;
    let cpu = Instant::now();
    let mut w = d.world(a.seed);
    let mut ledger = Ledger::default();
    let per_client = a.transactions.div_ceil(a.clients);
    let mut pools: Vec<Vec<Object>> = Vec::new();
    for c in 0..a.clients {
        let create = dummy::create(&format!("bench-{}-{c}", a.seed), per_client * a.inputs);
        pools.push(outputs(&create));
        ledger.submit(&mut w, Duration::ZERO, c, create, &[]);
    }
    let limit = Duration::from_secs(3600);
    let step = Duration::from_millis(1);
    w.run_until_cond(limit, step, |w| (0..w.clients()).all(|c| !w.client(c).finished().is_empty()));
    let creates = w.outcome_times.len();
    let start = w.now();
    // Closed loop: each client submits its next transaction when the previous is done.
    let mut load = Load {
        next: vec![0; a.clients],
        per_client,
        inputs: a.inputs,
        pools,
        submitted: HashMap::new(),
    };
    let mut seen = creates;
    for c in 0..a.clients {
        load.submit(&mut w, &mut ledger, c);
    }
    while w.now() < limit {
        let t = w.now() + step;
        w.run_until(t);
        while seen < w.outcome_times.len() {
            let c = w.outcome_times[seen].0;
            seen += 1;
            load.submit(&mut w, &mut ledger, c);
        }
        // Every client has its create's outcome and one per transaction.
        if (0..a.clients).all(|c| w.client(c).finished().len() > per_client) {
            break;
        }
    }
    let cpu = cpu.elapsed();
    let elapsed = w.now() - start;
    let mut latencies = Vec::new();
    let (mut commits, mut aborts, mut cross) = (0u64, 0u64, 0u64);
    let submitted = &load.submitted;
    for (c, tx, at) in &w.outcome_times[creates..] {
        let Some(sent) = submitted.get(tx) else { continue };
        latencies.push(*at - *sent);
        let f = w.client(*c).finished().iter().find(|f| f.tx == *tx).expect("finished");
        match &f.outcome {
            Outcome::Commit => commits += 1,
            other => {
                aborts += 1;
                if aborts <= 3 {
                    eprintln!("abort: {}", other.reason().unwrap_or_default());
                }
            }
        }
        let tx = &ledger.txs[tx];
        cross += u64::from(involved_shards(tx, a.shards).len() > 1);
    }
    latencies.sort();
    let done = latencies.len();
    println!(
        "{} shards x {} replicas ({}), {} clients, {} transactions of {} input(s), loss {:.0}%",
        a.shards,
        a.replicas,
        a.mix.name(),
        a.clients,
        done,
        a.inputs,
        a.loss * 100.0
    );
    println!(
        "committed {commits}, aborted {aborts}, cross-shard {cross}; {:.0} committed/s of virtual time",
        commits as f64 / elapsed.as_secs_f64()
    );
    println!(
        "latency (virtual) p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.9).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        percentile(&latencies, 1.0).as_secs_f64() * 1e3,
    );
    println!(
        "simulated in {:.2} s of CPU ({:.0} transactions per CPU second, all {} replicas on one thread)",
        cpu.as_secs_f64(),
        done as f64 / cpu.as_secs_f64(),
        a.shards * a.replicas
    );
    if done == a.clients * per_client { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
