//! Running a scenario over many seeds with one invariant, and the standard scenarios.

use std::time::Duration;

use chainspace_core::sim::Partition;
use chainspace_core::types::ShardId;

use crate::byzantine::Byzantine;
use crate::scenario::{Fault, Run, Scenario, run};

/// Seeds per scenario: 300 in CI; `SBAC_SEEDS` changes it.
pub fn seeds() -> std::ops::Range<u64> {
    let n = std::env::var("SBAC_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(300);
    0..n
}

/// Play `s` over every seed and hold each run to `check`; panics with the scenario, the
/// seed and what broke.
pub fn hold(s: &Scenario, check: impl Fn(&Scenario, &Run) -> Result<(), String>) {
    for seed in seeds() {
        let r = run(s, seed);
        if let Err(e) = check(s, &r) {
            panic!("[{} {}x{} seed {seed}] {e}", s.name, s.shards, s.replicas);
        }
    }
}

/// The standard scenarios on `shards` x `replicas`: fault-free; f replicas of every shard
/// crashed; f replicas of every shard Byzantine in each way; a lossy network; a replica
/// partitioned then healed; a replica restarting from nothing.
pub fn standard(shards: u32, replicas: u32) -> Vec<Scenario> {
    let f = (replicas - 1) / 3;
    let ms = Duration::from_millis;
    let per_shard = |make: &dyn Fn(ShardId, u32) -> Fault| -> Vec<Fault> {
        (0..shards)
            .flat_map(|s| (0..f).map(move |i| (s, replicas - 1 - i)))
            .map(|(s, i)| make(ShardId(s), i))
            .collect()
    };
    let base = Scenario::new("fault-free", shards, replicas);
    let mut out = vec![base.clone()];
    out.push(Scenario {
        name: "f crashed per shard",
        faults: per_shard(&|s, i| Fault::Crash(ms(0), s, i)),
        ..base.clone()
    });
    for (name, how) in [
        ("f Byzantine per shard: wrong votes", Byzantine::WrongVote),
        ("f Byzantine per shard: garbage signatures", Byzantine::GarbageSignature),
        ("f Byzantine per shard: equivocating votes", Byzantine::Equivocate),
        ("f Byzantine per shard: silent", Byzantine::Silent),
    ] {
        out.push(Scenario {
            name,
            faults: per_shard(&|s, i| Fault::Byzantine(s, i, how)),
            ..base.clone()
        });
    }
    out.push(Scenario {
        name: "5% message loss",
        network: chainspace_core::sim::NetworkModel { drop_rate: 0.05, ..Default::default() },
        ..base.clone()
    });
    out.push(Scenario {
        name: "a shard's primary partitioned, then healed",
        faults: vec![Fault::Partition(Partition::isolate(0, ms(50), ms(600)))],
        ..base.clone()
    });
    out.push(Scenario {
        name: "a replica restarts from nothing",
        faults: vec![Fault::CrashRestart(ms(20), ms(700), ShardId(0), 1)],
        ..base
    });
    out
}
