//! The conformance suite every [`Consensus`] implementation must pass.
//!
//! A [`Scenario`] describes a run: replicas, a client workload, a network model and a
//! fault schedule. [`run`] plays it in the simulator from a seed and [`check`] holds the
//! finished run to the properties of state machine replication (Castro and Liskov, OSDI
//! 1999, section 4.5; Yin et al., PODC 2019, section 4):
//!
//! * **agreement**: no two correct replicas deliver different batches at one sequence
//!   number (nor reach different states, for replicas that installed snapshots);
//! * **total order, no duplicates**: each replica delivers sequence numbers in order, and
//!   no command twice;
//! * **validity**: every command a correct client proposed is delivered;
//! * **liveness after faults heal**: every correct replica ends at the same sequence
//!   number, holding every proposed command.
//!
//! Protocol crates run [`standard_scenarios`] over hundreds of seeds in their test suites;
//! protocol-specific pieces (how a Byzantine leader equivocates) come from a [`Subject`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use super::network::{NetworkModel, Partition};
use super::runner::{Interceptor, Simulation};
use crate::consensus::Consensus;
use crate::types::{Command, ReplicaIndex};

/// A protocol under test.
pub trait Subject: Clone + 'static {
    /// The protocol.
    type C: Consensus;
    /// Build replica `index` of an `n`-replica shard, fresh.
    fn make(&self, n: usize, index: ReplicaIndex) -> Self::C;
    /// The replica that leads first (PBFT's primary of view 0, HotStuff's first leader).
    fn first_leader(&self, n: usize) -> ReplicaIndex;
    /// An interceptor that makes `index` an equivocating leader: it sends conflicting,
    /// well-formed proposals (signed, where the protocol signs them) to different
    /// replicas.
    fn equivocator(
        &self,
        n: usize,
        index: ReplicaIndex,
    ) -> Interceptor<<Self::C as Consensus>::Message>;
}

/// How a replica misbehaves in a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Receives everything, sends nothing.
    Silent,
    /// Sends conflicting proposals when it leads (the subject's equivocator).
    Equivocate,
}

/// One run of the suite.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Name, for failure messages.
    pub name: &'static str,
    /// Replicas in the shard.
    pub n: usize,
    /// Commands the clients propose, spread evenly over `propose_until`.
    pub commands: usize,
    /// The clients stop proposing at this time.
    pub propose_until: Duration,
    /// Whether each command goes to every replica (as BFT-SMaRt's clients do) rather than
    /// to one replica chosen by the command's number.
    pub to_all: bool,
    /// The network.
    pub network: NetworkModel,
    /// Crashes: (time, replica).
    pub crashes: Vec<(Duration, ReplicaIndex)>,
    /// Restarts: (time, replica, lost all state).
    pub restarts: Vec<(Duration, ReplicaIndex, bool)>,
    /// Partitions.
    pub partitions: Vec<Partition>,
    /// Byzantine replicas; they are not held to any property.
    pub byzantine: Vec<(ReplicaIndex, Misbehaviour)>,
    /// The run must be done (all correct replicas caught up) by this time.
    pub deadline: Duration,
}

impl Scenario {
    /// All replicas correct, a reliable LAN.
    pub fn all_correct(n: usize) -> Self {
        Scenario {
            name: "all correct",
            n,
            commands: 60,
            propose_until: Duration::from_millis(300),
            to_all: true,
            network: NetworkModel::default(),
            crashes: vec![],
            restarts: vec![],
            partitions: vec![],
            byzantine: vec![],
            deadline: Duration::from_secs(20),
        }
    }

    /// The replicas that must satisfy every property: not Byzantine, and not crashed for
    /// good.
    pub fn correct(&self) -> Vec<ReplicaIndex> {
        (0..self.n as ReplicaIndex)
            .filter(|r| !self.byzantine.iter().any(|(b, _)| b == r))
            .filter(|r| {
                let last_crash = self.crashes.iter().filter(|(_, c)| c == r).map(|(t, _)| *t).max();
                let last_restart =
                    self.restarts.iter().filter(|(_, c, _)| c == r).map(|(t, _, _)| *t).max();
                match (last_crash, last_restart) {
                    (Some(c), Some(s)) => s > c,
                    (Some(_), None) => false,
                    _ => true,
                }
            })
            .collect()
    }

    /// The command number `k` of the run with `seed`.
    pub fn command(seed: u64, k: usize) -> Command {
        Command::new(format!("seed{seed}-cmd{k}").into_bytes())
    }
}

/// The standard scenarios, for the first leader `leader` of an `n`-replica shard.
pub fn standard_scenarios(n: usize, leader: ReplicaIndex) -> Vec<Scenario> {
    let ms = Duration::from_millis;
    let other = (leader + 1) % n as ReplicaIndex;
    let far = (leader + n as ReplicaIndex - 1) % n as ReplicaIndex;
    let base = Scenario::all_correct(n);
    vec![
        base.clone(),
        Scenario {
            name: "leader crashes mid-batch",
            crashes: vec![(ms(120), leader)],
            // One replica hears the leader late, so the crash leaves the replicas at
            // different points of the last batches: the view change must sort it out.
            network: NetworkModel {
                links: [((leader, far), ms(15))].into_iter().collect(),
                ..NetworkModel::default()
            },
            ..base.clone()
        },
        Scenario {
            name: "one replica silent",
            byzantine: vec![(other, Misbehaviour::Silent)],
            ..base.clone()
        },
        Scenario {
            name: "equivocating leader",
            byzantine: vec![(leader, Misbehaviour::Equivocate)],
            ..base.clone()
        },
        Scenario {
            name: "leader partitioned, then healed",
            partitions: vec![Partition::isolate(leader, ms(100), ms(900))],
            ..base.clone()
        },
        Scenario {
            name: "10% message loss",
            network: NetworkModel { drop_rate: 0.1, ..NetworkModel::default() },
            ..base.clone()
        },
        Scenario {
            name: "replica restarts from nothing",
            crashes: vec![(ms(50), other)],
            restarts: vec![(ms(400), other, true)],
            propose_until: ms(800),
            commands: 120,
            ..base
        },
    ]
}

/// Play `scenario` from `seed`; the simulation is returned finished, for [`check`].
pub fn run<S: Subject>(subject: &S, scenario: &Scenario, seed: u64) -> Simulation<S::C> {
    let n = scenario.n;
    let maker = subject.clone();
    let mut sim = Simulation::new(n, seed, scenario.network.clone(), move |i| maker.make(n, i));
    sim.trace.enabled = false;
    for &(r, how) in &scenario.byzantine {
        let interceptor: Interceptor<_> = match how {
            Misbehaviour::Silent => Box::new(|_, _| Vec::new()),
            Misbehaviour::Equivocate => subject.equivocator(n, r),
        };
        sim.intercept(r, interceptor);
    }
    for &(t, r) in &scenario.crashes {
        sim.crash_at(t, r);
    }
    for &(t, r, wipe) in &scenario.restarts {
        sim.restart_at(t, r, wipe);
    }
    for p in &scenario.partitions {
        sim.partition(p.clone());
    }
    let step = scenario.propose_until / scenario.commands.max(1) as u32;
    for k in 0..scenario.commands {
        let at = step * k as u32;
        let command = Scenario::command(seed, k);
        if scenario.to_all {
            for r in 0..n as ReplicaIndex {
                sim.propose_at(at, r, command.clone());
            }
        } else {
            sim.propose_at(at, (k % n) as ReplicaIndex, command);
        }
    }
    let correct = scenario.correct();
    let proposed: Vec<Command> =
        (0..scenario.commands).map(|k| Scenario::command(seed, k)).collect();
    let settle_from = scenario.propose_until.max(
        scenario
            .partitions
            .iter()
            .map(|p| p.end)
            .chain(scenario.restarts.iter().map(|r| r.0))
            .max()
            .unwrap_or_default(),
    );
    sim.run_until(settle_from);
    let mut t = settle_from;
    while t < scenario.deadline {
        t += Duration::from_millis(100);
        sim.run_until(t);
        if caught_up(&sim, &correct, &proposed) {
            break;
        }
    }
    sim
}

fn caught_up<C: Consensus>(
    sim: &Simulation<C>,
    correct: &[ReplicaIndex],
    proposed: &[Command],
) -> bool {
    let last: Vec<u64> = correct.iter().map(|&r| sim.app(r).last()).collect();
    if last.windows(2).any(|w| w[0] != w[1]) {
        return false;
    }
    let log = reference_log(sim, correct);
    let seen: HashSet<&Command> = log.values().flatten().collect();
    proposed.iter().all(|c| seen.contains(c))
}

/// The union of what correct replicas delivered, by sequence number (the first replica
/// that delivered a sequence number speaks for it; [`check`] verifies they all agree).
fn reference_log<C: Consensus>(
    sim: &Simulation<C>,
    correct: &[ReplicaIndex],
) -> BTreeMap<u64, Vec<Command>> {
    let mut log = BTreeMap::new();
    for &r in correct {
        for (s, b) in &sim.app(r).batches {
            log.entry(*s).or_insert_with(|| b.clone());
        }
    }
    log
}

/// Hold a finished run to every property. `Err` says which property failed and where.
pub fn check<C: Consensus>(
    sim: &Simulation<C>,
    scenario: &Scenario,
    seed: u64,
) -> Result<(), String> {
    let correct = scenario.correct();
    let ctx = |what: String| format!("[{} seed {seed}] {what}", scenario.name);
    for &r in &correct {
        if let Some(e) = sim.app(r).errors.first() {
            return Err(ctx(format!("r{r} application error: {e}")));
        }
    }
    // Agreement, on batches and on chain digests (which also covers installed snapshots).
    let mut batches: HashMap<u64, (ReplicaIndex, &Vec<Command>)> = HashMap::new();
    let mut chains: HashMap<u64, (ReplicaIndex, _)> = HashMap::new();
    for &r in &correct {
        let app = sim.app(r);
        for (s, b) in &app.batches {
            if let Some((r0, b0)) = batches.insert(*s, (r, b))
                && b0 != b
            {
                return Err(ctx(format!("agreement: r{r0} and r{r} delivered different n={s}")));
            }
        }
        for (s, d) in &app.chain {
            if let Some((r0, d0)) = chains.insert(*s, (r, *d))
                && d0 != *d
            {
                return Err(ctx(format!("agreement: r{r0} and r{r} differ in state at n={s}")));
            }
        }
    }
    // Total order without duplicates, per replica and across the agreed log.
    let log = reference_log(sim, &correct);
    let mut seen: HashMap<&Command, u64> = HashMap::new();
    for (s, b) in &log {
        for c in b {
            if let Some(s0) = seen.insert(c, *s) {
                return Err(ctx(format!("duplicate: {c:?} delivered at n={s0} and n={s}")));
            }
        }
    }
    // Validity.
    for k in 0..scenario.commands {
        let c = Scenario::command(seed, k);
        if !seen.contains_key(&c) {
            return Err(ctx(format!("validity: {c:?} was never delivered")));
        }
    }
    // Liveness: everyone caught up to the same point.
    let lasts: Vec<(ReplicaIndex, u64)> = correct.iter().map(|&r| (r, sim.app(r).last())).collect();
    if lasts.windows(2).any(|w| w[0].1 != w[1].1) {
        return Err(ctx(format!("liveness: correct replicas stopped at {lasts:?}")));
    }
    Ok(())
}

/// Run `scenario` over `seeds` and check each; returns the first failure.
pub fn run_seeds<S: Subject>(
    subject: &S,
    scenario: &Scenario,
    seeds: impl IntoIterator<Item = u64>,
) -> Result<usize, String> {
    run_seeds_with(subject, scenario, seeds, |_, _| Ok(()))
}

/// Like [`run_seeds`], and also hands every finished run to `inspect`, for checks
/// specific to a protocol or scenario (a view change happened, a snapshot was installed).
pub fn run_seeds_with<S: Subject>(
    subject: &S,
    scenario: &Scenario,
    seeds: impl IntoIterator<Item = u64>,
    mut inspect: impl FnMut(&Simulation<S::C>, u64) -> Result<(), String>,
) -> Result<usize, String> {
    let mut count = 0;
    for seed in seeds {
        let sim = run(subject, scenario, seed);
        check(&sim, scenario, seed)?;
        inspect(&sim, seed).map_err(|e| format!("[{} seed {seed}] {e}", scenario.name))?;
        count += 1;
    }
    Ok(count)
}
