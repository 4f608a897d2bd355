//! Run PBFT shards in the deterministic simulator and print what they ordered.
//!
//! ```text
//! cargo run --release -p consensus-pbft --example cluster -- \
//!     [--shards 2] [--replicas 4] [--commands 20000] [--batch 400] [--loss 0.0] \
//!     [--crash-leader-at-ms 0] [--seed 1]
//! ```
//!
//! Each shard is an independent PBFT group (cross-shard S-BAC sits above consensus and is
//! not part of this crate). Clients send every command to all replicas of its shard, as
//! BFT-SMaRt's clients do. The report gives virtual time (what the protocol would take on
//! a 1 ms LAN) and CPU time (what simulating every replica on one thread cost).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use chainspace_core::committee::Committee;
use chainspace_core::consensus::Consensus;
use chainspace_core::sim::{NetworkModel, Simulation};
use chainspace_core::types::Command;
use clap::Parser;
use consensus_pbft::{Pbft, PbftConfig};

/// Run PBFT shards in the deterministic simulator and print what they ordered.
#[derive(Parser)]
#[command(name = "cluster")]
struct Args {
    /// Number of shards, each an independent PBFT group.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    shards: u32,
    /// Replicas per shard.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    replicas: u32,
    /// Commands submitted to each shard (at 100,000 per second of virtual time).
    #[arg(long, default_value_t = 20_000)]
    commands: usize,
    /// Most commands per PBFT batch.
    #[arg(long, default_value_t = 400)]
    batch: usize,
    /// Fraction of messages the simulated network drops, in [0, 1).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    loss: f64,
    /// Crash each shard's first leader (replica 0) at this virtual time, in ms (0: never).
    #[arg(long, default_value_t = 0)]
    crash_leader_at_ms: u64,
    /// Seed of the simulation (shard s uses seed + s).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !(0.0..1.0).contains(&args.loss) {
        eprintln!("error: --loss must be in [0, 1)");
        return ExitCode::from(2);
    }
    let cfg = PbftConfig { max_batch: args.batch, max_in_flight: 8, ..PbftConfig::default() };
    if let Err(e) = cfg.validate() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let (committee, keys) = Committee::for_test(args.shards, args.replicas);
    let n = args.replicas as usize;
    println!(
        "{} shards x {} replicas (f = {}), PBFT, batch {}, {} commands per shard, loss {:.0}%",
        args.shards,
        args.replicas,
        committee.shards[0].f(),
        args.batch,
        args.commands,
        args.loss * 100.0
    );
    let mut ok = true;
    for (shard, (sc, ks)) in committee.shards.iter().zip(&keys).enumerate() {
        let (sc, ks) = (sc.clone(), ks.clone());
        let c = cfg.clone();
        let network = NetworkModel { drop_rate: args.loss, ..NetworkModel::default() };
        let seed = args.seed.wrapping_add(shard as u64);
        let mut sim = Simulation::new(n, seed, network, move |i| {
            Pbft::new(c.clone(), sc.clone(), i, ks[i as usize].clone()).expect("valid replica")
        });
        sim.trace.enabled = false;
        if args.crash_leader_at_ms > 0 {
            sim.crash_at(Duration::from_millis(args.crash_leader_at_ms), 0);
        }
        // Clients submit at 100,000 commands per second of virtual time.
        for k in 0..args.commands {
            let at = Duration::from_micros(10 * k as u64);
            let c = Command::new(format!("s{shard}-command-{k}").into_bytes());
            for r in 0..n as u32 {
                sim.propose_at(at, r, c.clone());
            }
        }
        let correct: Vec<u32> =
            (0..n as u32).filter(|&r| args.crash_leader_at_ms == 0 || r != 0).collect();
        let total = args.commands as u64;
        let cpu = Instant::now();
        let done = sim.run_until_cond(Duration::from_secs(600), |s| {
            correct
                .iter()
                .all(|&r| s.app(r).batches.values().map(|b| b.len() as u64).sum::<u64>() >= total)
        });
        let cpu = cpu.elapsed();
        let virt = sim.now();
        let r = correct[0];
        let stats = sim.consensus(r).stats();
        println!(
            "shard {shard}: {} ordered in {:.3} s virtual ({:.0}/s), {} batches, {} view changes, \
             {} messages; simulated in {:.3} s CPU ({:.0} commands/s of CPU)",
            if done { "all" } else { "NOT all" },
            virt.as_secs_f64(),
            total as f64 / virt.as_secs_f64(),
            sim.app(r).last(),
            stats.view_changes,
            sim.messages_sent,
            cpu.as_secs_f64(),
            total as f64 / cpu.as_secs_f64(),
        );
        ok &= done;
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
