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
use consensus_pbft::{Pbft, PbftConfig};

struct Args {
    shards: u32,
    replicas: u32,
    commands: usize,
    batch: usize,
    loss: f64,
    crash_leader_at_ms: u64,
    seed: u64,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        shards: 2,
        replicas: 4,
        commands: 20_000,
        batch: 400,
        loss: 0.0,
        crash_leader_at_ms: 0,
        seed: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--shards" => a.shards = value.parse().map_err(|e| bad(&e))?,
            "--replicas" => a.replicas = value.parse().map_err(|e| bad(&e))?,
            "--commands" => a.commands = value.parse().map_err(|e| bad(&e))?,
            "--batch" => a.batch = value.parse().map_err(|e| bad(&e))?,
            "--loss" => a.loss = value.parse().map_err(|e| bad(&e))?,
            "--crash-leader-at-ms" => a.crash_leader_at_ms = value.parse().map_err(|e| bad(&e))?,
            "--seed" => a.seed = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if a.shards == 0 || a.replicas == 0 {
        return Err("--shards and --replicas must be at least 1".into());
    }
    if !(0.0..1.0).contains(&a.loss) {
        return Err("--loss must be in [0, 1)".into());
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!(
                "usage: cluster [--shards 2] [--replicas 4] [--commands 20000] [--batch 400] \
                 [--loss 0.0] [--crash-leader-at-ms 0] [--seed 1]"
            );
            return if e.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) };
        }
    };
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
