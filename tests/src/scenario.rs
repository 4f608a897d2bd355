//! S-BAC scenarios: a deployment, a workload of objects created then consumed by
//! transactions across shards (with a share of deliberate conflicts), and a fault
//! schedule; [`run`] plays one from a seed and returns the finished world for the
//! invariants.
//!
//! The workload uses the `dummy` contract, the paper's benchmark contract: each client
//! first creates objects (whose IDs spread them over the shards), then submits
//! transactions consuming one to three of them. With `conflict_share`, a transaction
//! reuses an object another transaction already consumes, so concurrent transactions
//! on different shards race for one object: exactly one may commit.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

use chainspace_contracts::dummy;
use chainspace_core::consensus::Consensus;
use chainspace_core::object::Object;
use chainspace_core::sim::{NetworkModel, Partition, RestartFrom, World};
use chainspace_core::types::{ReplicaId, ShardId};
use consensus_any::AnyConsensus;

use crate::byzantine::{Byzantine, interceptor};
use crate::setup::{Deployment, Mix};
use crate::workload::{Ledger, outputs};

/// A fault in a scenario.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Replica `(shard, index)` crashes at a time and never comes back.
    Crash(Duration, ShardId, u32),
    /// It crashes at the first time and restarts (from nothing) at the second.
    CrashRestart(Duration, Duration, ShardId, u32),
    /// It crashes at the first time and restarts on its durable store at the second.
    CrashRecover(Duration, Duration, ShardId, u32),
    /// It is Byzantine from the start.
    Byzantine(ShardId, u32, Byzantine),
    /// A partition over node numbers (see `World::node_of`).
    Partition(Partition),
}

/// One S-BAC scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Name, for failure messages.
    pub name: &'static str,
    /// Shards.
    pub shards: u32,
    /// Replicas per shard.
    pub replicas: u32,
    /// Clients.
    pub clients: usize,
    /// Objects each client creates.
    pub objects_per_client: usize,
    /// Consuming transactions in all.
    pub transactions: usize,
    /// Share of transactions that reuse an object another one consumes.
    pub conflict_share: f64,
    /// The network.
    pub network: NetworkModel,
    /// Faults.
    pub faults: Vec<Fault>,
    /// The run must be quiet (every outcome in) by this time.
    pub deadline: Duration,
    /// The consensus protocol of each shard.
    pub mix: Mix,
}

impl Scenario {
    /// A fault-free scenario on `shards` x `replicas`.
    pub fn new(name: &'static str, shards: u32, replicas: u32) -> Self {
        Scenario {
            name,
            shards,
            replicas,
            clients: 3,
            objects_per_client: 6,
            transactions: 12,
            conflict_share: 0.3,
            network: NetworkModel::default(),
            faults: vec![],
            deadline: Duration::from_secs(30),
            mix: Mix::All(consensus_any::Protocol::Pbft),
        }
    }

    /// The replicas not held to the invariants: Byzantine, or crashed for good.
    pub fn faulty(&self) -> Vec<ReplicaId> {
        self.faults
            .iter()
            .filter_map(|f| match f {
                Fault::Crash(_, s, i) | Fault::Byzantine(s, i, _) => {
                    Some(ReplicaId { shard: *s, index: *i })
                }
                _ => None,
            })
            .collect()
    }
}

/// A finished run.
pub struct Run {
    /// The world, after the run.
    pub world: World<AnyConsensus>,
    /// Every transaction submitted.
    pub ledger: Ledger,
    /// Whether every client had every outcome by the deadline.
    pub quiet: bool,
}

/// Play `s` from `seed`.
pub fn run(s: &Scenario, seed: u64) -> Run {
    let mut d = Deployment::new(s.shards, s.replicas);
    d.clients = s.clients;
    d.network = s.network.clone();
    d.mix = s.mix;
    let mut w = d.world(seed);
    let (_, keys) = chainspace_core::committee::Committee::for_test(s.shards, s.replicas);
    for f in &s.faults {
        match f {
            Fault::Crash(at, sh, i) => w.crash_at(*at, ReplicaId { shard: *sh, index: *i }),
            Fault::CrashRestart(a, b, sh, i) => {
                let id = ReplicaId { shard: *sh, index: *i };
                w.crash_at(*a, id);
                w.restart_at(*b, id, RestartFrom::Nothing);
            }
            Fault::CrashRecover(a, b, sh, i) => {
                let id = ReplicaId { shard: *sh, index: *i };
                w.crash_at(*a, id);
                w.restart_at(*b, id, RestartFrom::Store);
            }
            Fault::Byzantine(sh, i, how) => {
                let key = keys[sh.0 as usize][*i as usize].clone();
                w.intercept(ReplicaId { shard: *sh, index: *i }, interceptor(*how, key));
            }
            Fault::Partition(p) => w.partition(p.clone()),
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5bac);
    let mut ledger = Ledger::default();
    // Phase 1: every client creates its objects.
    let mut pool: Vec<Object> = Vec::new();
    for c in 0..s.clients {
        let create = dummy::create(&format!("seed{seed}-client{c}"), s.objects_per_client);
        pool.extend(outputs(&create));
        ledger.submit(&mut w, Duration::from_millis(c as u64), c, create, &[]);
    }
    let every = Duration::from_millis(20);
    let created =
        |w: &World<AnyConsensus>| (0..s.clients).all(|c| !w.client(c).finished().is_empty());
    w.run_until_cond(s.deadline, every, created);
    // Phase 2: consuming transactions, some racing for the same objects.
    let start = w.now();
    let mut unused: Vec<usize> = (0..pool.len()).collect();
    let mut used: Vec<usize> = Vec::new();
    for k in 0..s.transactions {
        let want = rng.random_range(1..=3usize);
        let mut picks: Vec<usize> = Vec::new();
        if !used.is_empty() && rng.random_bool(s.conflict_share) {
            picks.push(used[rng.random_range(0..used.len())]);
        }
        while picks.len() < want && !unused.is_empty() {
            picks.push(unused.swap_remove(rng.random_range(0..unused.len())));
        }
        if picks.is_empty() {
            break;
        }
        used.extend(&picks);
        let inputs: Vec<Object> = picks.iter().map(|&i| pool[i].clone()).collect();
        let tx = dummy::consume(&inputs, rng.random_bool(0.5));
        let reads: Vec<&Object> = inputs.iter().collect();
        let at = start + Duration::from_micros(rng.random_range(0..20_000));
        ledger.submit(&mut w, at, k % s.clients, tx, &reads);
    }
    let quiet = w.run_until_cond(s.deadline, every, |w| {
        (0..s.clients).all(|c| w.client(c).pending() == 0)
            && w.replica_ids().iter().all(|r| !w.is_up(*r) || w.replica(*r).backlog() == 0)
    });
    // Let the faults heal, and the last accepts reach every replica (outcomes need only
    // f + 1 of them) and every replica catch up, before the invariants look.
    let healed = s
        .faults
        .iter()
        .map(|f| match f {
            Fault::CrashRestart(_, back, ..) | Fault::CrashRecover(_, back, ..) => *back,
            Fault::Partition(p) => p.end,
            _ => Duration::ZERO,
        })
        .max()
        .unwrap_or_default();
    let settle = w.now().max(healed) + Duration::from_millis(500);
    w.run_until(settle);
    // Then until the correct replicas of every shard delivered the same prefix: a
    // protocol may still be finishing the blocks of the last transactions (HotStuff's
    // three-chain needs rounds after the last command, and lost messages cost
    // timeouts), and quiescence means that is done. Bounded: a shard that never
    // converges is left for the invariants to report.
    let faulty = s.faulty();
    let converged = |w: &World<AnyConsensus>| {
        w.committee().shards.iter().all(|sh| {
            let mut last = w
                .shard_ids(sh.shard)
                .into_iter()
                .filter(|r| w.is_up(*r) && !faulty.contains(r))
                .map(|r| {
                    let r = w.replica(r);
                    (r.consensus().last_delivered(), r.backlog())
                });
            let first = last.next();
            first.is_none_or(|(_, backlog)| backlog == 0) && last.all(|l| Some(l) == first)
        })
    };
    w.run_until_cond(settle + Duration::from_secs(10), every, converged);
    Run { world: w, ledger, quiet }
}
