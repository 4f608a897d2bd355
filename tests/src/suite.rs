//! Running a scenario over many seeds with one invariant, and the standard scenarios.

use std::time::Duration;

use chainspace_core::sim::Partition;
use chainspace_core::types::ShardId;

use crate::byzantine::Byzantine;
use crate::scenario::{Fault, Run, Scenario, run};
use crate::setup::Mix;

/// Seeds per scenario: 300 in CI; `SBAC_SEEDS` changes it.
pub fn seeds() -> std::ops::Range<u64> {
    let n = std::env::var("SBAC_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(300);
    0..n
}

/// Play `s` over every seed and hold each run to `check`; panics with the scenario, the
/// seed and what broke. Also asserts that the runs exercised what the invariant is
/// about (some transactions committed across shards, some aborted), so that a workload
/// that stopped producing conflicts fails the suite instead of passing it trivially.
pub fn hold(s: &Scenario, check: impl Fn(&Scenario, &Run) -> Result<(), String>) {
    let (mut cross_commits, mut aborts, mut runs) = (0u64, 0u64, 0u64);
    for seed in seeds() {
        let r = run(s, seed);
        if let Err(e) = check(s, &r) {
            panic!("[{} {} {}x{} seed {seed}] {e}", s.name, s.mix.name(), s.shards, s.replicas);
        }
        let (c, a) = outcomes(&r);
        cross_commits += c;
        aborts += a;
        runs += 1;
    }
    if runs >= 10 && s.conflict_share > 0.0 {
        assert!(
            cross_commits > 0,
            "[{}] no cross-shard transaction committed in {runs} runs",
            s.name
        );
        assert!(aborts > 0, "[{}] no transaction aborted in {runs} runs", s.name);
    }
}

/// Cross-shard commits and aborts the clients learnt of in a run.
pub fn outcomes(r: &Run) -> (u64, u64) {
    use chainspace_core::sbac::Outcome;
    let n = r.world.committee().num_shards();
    let (mut cross, mut aborts) = (0, 0);
    for c in 0..r.world.clients() {
        for f in r.world.client(c).finished() {
            match &f.outcome {
                Outcome::Commit => {
                    let multi =
                        r.ledger.txs.get(&f.tx).is_some_and(|tx| {
                            chainspace_core::shard::involved_shards(tx, n).len() > 1
                        });
                    cross += u64::from(multi);
                }
                _ => aborts += 1,
            }
        }
    }
    (cross, aborts)
}

/// The standard scenarios on `shards` x `replicas`: fault-free; f replicas of every shard
/// crashed; f replicas of every shard Byzantine in each way; a lossy network; a replica
/// partitioned then healed; a replica restarting from nothing; a replica recovering from
/// its store.
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
        ..base.clone()
    });
    // Crashed mid-run, while transactions lock and consume its objects, and back on its
    // own store: it must resume from what it had written, then catch up.
    out.push(Scenario {
        name: "a replica recovers from its store",
        faults: vec![Fault::CrashRecover(ms(30), ms(400), ShardId(0), 2)],
        ..base
    });
    out
}

/// The standard scenarios named in `names`, on `shards` x `replicas` with the protocols
/// of `mix` (each invariant's suite picks the scenarios that stress it; together they
/// cover them all).
pub fn pick(mix: Mix, shards: u32, replicas: u32, names: &[&str]) -> Vec<Scenario> {
    let all = standard(shards, replicas);
    let picked: Vec<Scenario> = all
        .into_iter()
        .filter(|s| names.contains(&s.name))
        .map(|s| Scenario { mix, ..s })
        .collect();
    assert_eq!(picked.len(), names.len(), "every named scenario exists");
    picked
}

/// Names of the standard scenarios.
pub mod names {
    /// No fault.
    pub const FAULT_FREE: &str = "fault-free";
    /// f replicas of every shard crashed from the start.
    pub const CRASHED: &str = "f crashed per shard";
    /// f replicas of every shard vote the opposite decision.
    pub const WRONG_VOTES: &str = "f Byzantine per shard: wrong votes";
    /// f replicas of every shard sign garbage.
    pub const GARBAGE: &str = "f Byzantine per shard: garbage signatures";
    /// f replicas of every shard equivocate.
    pub const EQUIVOCATE: &str = "f Byzantine per shard: equivocating votes";
    /// f replicas of every shard are silent.
    pub const SILENT: &str = "f Byzantine per shard: silent";
    /// 5% of messages lost.
    pub const LOSS: &str = "5% message loss";
    /// Shard 0's first primary partitioned, then healed.
    pub const PARTITION: &str = "a shard's primary partitioned, then healed";
    /// A replica restarts from nothing.
    pub const RESTART: &str = "a replica restarts from nothing";
    /// A replica crashes and restarts on its durable store.
    pub const RECOVER: &str = "a replica recovers from its store";
}

/// The test functions of one invariant's suite: `fn suite(mix: Mix, shards: u32)` run on
/// 2 and 4 shards of 4 replicas, with PBFT in every shard, HotStuff in every shard, and
/// the two in alternate shards (PBFT in even shards). One test each, so that they run in
/// parallel and a failure names its protocol and size.
#[macro_export]
macro_rules! protocol_matrix {
    ($suite:ident) => {
        #[test]
        fn pbft_two_shards_of_four() {
            $suite($crate::setup::Mix::All($crate::setup::Protocol::Pbft), 2);
        }

        #[test]
        fn pbft_four_shards_of_four() {
            $suite($crate::setup::Mix::All($crate::setup::Protocol::Pbft), 4);
        }

        #[test]
        fn hotstuff_two_shards_of_four() {
            $suite($crate::setup::Mix::All($crate::setup::Protocol::HotStuff), 2);
        }

        #[test]
        fn hotstuff_four_shards_of_four() {
            $suite($crate::setup::Mix::All($crate::setup::Protocol::HotStuff), 4);
        }

        /// PBFT in shard 0, HotStuff in shard 1.
        #[test]
        fn mixed_two_shards_of_four() {
            $suite($crate::setup::Mix::Alternate, 2);
        }

        /// PBFT in shards 0 and 2, HotStuff in shards 1 and 3.
        #[test]
        fn mixed_four_shards_of_four() {
            $suite($crate::setup::Mix::Alternate, 4);
        }
    };
}
