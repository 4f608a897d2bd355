//! The HotStuff core alone, in the deterministic simulator: commands ordered per second
//! of CPU, for a shard of 4 replicas, with batches of 1 and of 400.
//!
//! All four replicas run on one thread, so the figure is the whole shard's CPU cost per
//! command (signing and verifying included), not one replica's. Network time is virtual
//! and costs nothing. Run with `cargo bench -p consensus-hotstuff`.

use std::time::Duration;

use chainspace_core::committee::Committee;
use chainspace_core::sim::{NetworkModel, Simulation};
use chainspace_core::types::Command;
use consensus_hotstuff::{HotStuff, HotStuffConfig};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const N: usize = 4;

fn order(max_batch: usize, commands: usize) -> u64 {
    let cfg = HotStuffConfig { max_batch, ..HotStuffConfig::default() };
    let (committee, keys) = Committee::for_test(1, N as u32);
    let shard = committee.shards[0].clone();
    let mut sim = Simulation::new(N, 1, NetworkModel::fixed(Duration::from_millis(1)), move |i| {
        HotStuff::new(cfg.clone(), shard.clone(), i, keys[0][i as usize].clone()).expect("valid")
    });
    sim.trace.enabled = false;
    for k in 0..commands {
        let mut bytes = format!("command-{k}-").into_bytes();
        bytes.resize(64, b'.');
        let c = Command::new(bytes);
        for r in 0..N as u32 {
            sim.propose_now(r, c.clone());
        }
    }
    let total = commands as u64;
    let done = sim.run_until_cond(Duration::from_secs(3600), |s| {
        (0..N as u32)
            .all(|r| s.app(r).batches.values().map(|b| b.len() as u64).sum::<u64>() >= total)
    });
    assert!(done, "all commands ordered");
    total
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("hotstuff_n4_sim");
    g.sample_size(10);
    for (batch, commands) in [(1usize, 1_000usize), (400, 40_000)] {
        g.throughput(Throughput::Elements(commands as u64));
        g.bench_with_input(BenchmarkId::new("batch", batch), &batch, |b, &batch| {
            b.iter(|| order(batch, commands))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
