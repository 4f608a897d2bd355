//! Running an experiment in the deterministic simulator: the whole cluster and every
//! client on one thread, on virtual time, with the CPU cost model of `[sim]` so that
//! replicas saturate as real ones do. Throughput and latency are in virtual time; the run
//! is a function of its seed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chainspace_core::committee::Committee;
use chainspace_core::replica::Replica;
use chainspace_core::sbac::Outcome;
use chainspace_core::sim::byzantine::interceptor;
use chainspace_core::sim::{NetworkModel, Partition, RestartFrom, SimChecker, World};
use chainspace_core::transaction::TxId;
use chainspace_core::types::ReplicaId;
use consensus_any::AnyConsensus;

use crate::config::{Experiment, FaultKind, SimParams, TransportKind, WorkloadKind, replica_name};
use crate::driver::{Controller, Payload, Send};
use crate::phases::PhaseLog;
use crate::progress::{Progress, Rate};
use crate::run::{RunError, RunOutput, describe_fault};
use crate::summary::{CostModelInfo, ReplicaUsage};

/// How far virtual time advances between looks at the controller.
const STEP: Duration = Duration::from_millis(1);
/// Setup (the first pools) must be over by then.
const SETUP_LIMIT: Duration = Duration::from_secs(120);

/// Run `exp` (whose transport is the simulator).
pub fn run(exp: &Experiment, progress: &Progress) -> Result<RunOutput, RunError> {
    let TransportKind::Sim(params) = &exp.cluster.transport else {
        return Err(RunError::Setup("the simulator runner got a QUIC experiment".into()));
    };
    let cpu = Instant::now();
    let (committee, keys) = Committee::for_test(exp.cluster.shards, exp.cluster.replicas);
    let mut w = world(exp, params, &committee, keys.clone())?;
    let mut c = Controller::new(&exp.workload, exp.cluster.shards, exp.seed);
    let mut outcomes = Outcomes::default();

    progress.phase("setup: creating objects");
    for s in c.setup() {
        submit(&mut w, s);
    }
    while !c.setup_done() {
        if w.now() >= SETUP_LIMIT {
            return Err(RunError::Setup(format!(
                "setup did not finish in {} s of virtual time",
                SETUP_LIMIT.as_secs()
            )));
        }
        let t = w.now() + STEP;
        w.run_until(t);
        outcomes.collect(&mut w, Duration::ZERO, &mut c);
        for s in c.poll_setup() {
            submit(&mut w, s);
        }
    }
    let t0 = w.now();
    for f in &exp.faults {
        schedule_fault(&mut w, t0, &f.kind, f.at);
    }
    let mut byzantine: Vec<_> = exp
        .faults
        .iter()
        .filter_map(|f| match &f.kind {
            FaultKind::Byzantine(id, b) => Some((f.at, *id, *b)),
            _ => None,
        })
        .collect();
    let mut delays: Vec<_> = exp
        .faults
        .iter()
        .filter_map(|f| match &f.kind {
            FaultKind::Delay(id, extra, until) => Some((f.at, *until, *id, *extra, false)),
            _ => None,
        })
        .collect();
    let mut rate = Rate::default();
    loop {
        let now = w.now() - t0;
        for s in c.poll(now) {
            submit(&mut w, s);
        }
        if c.done(now) {
            break;
        }
        byzantine.retain(|(at, id, b)| {
            if *at > now {
                return true;
            }
            let key = keys[id.shard.0 as usize][id.index as usize].clone();
            w.intercept(*id, interceptor(*b, key));
            false
        });
        for d in &mut delays {
            apply_delay(&mut w, params, now, d);
        }
        // To the next event or arrival, whichever is first (at most STEP ahead): an
        // outcome is seen, and a closed-loop client sends again, at the very instant it
        // arrives.
        let mut t = w.now() + STEP;
        if let Some(e) = w.next_event_time() {
            t = t.min(e.max(w.now()));
        }
        if let Some(arrival) = c.next_wakeup() {
            t = t.min(t0 + arrival.max(now));
        }
        w.run_until(t);
        outcomes.collect(&mut w, t0, &mut c);
        let committed = c.committed();
        if rate.tick(now, committed, Duration::from_millis(200)) {
            progress.update(now, committed, rate.per_s, c.in_flight());
        }
    }
    let elapsed = w.now();
    let replicas_usage = w.replica_ids().into_iter().map(|id| usage(&w, id, elapsed)).collect();
    let cpu = cpu.elapsed();
    Ok(RunOutput {
        records: c.records.take(),
        window: c.window(),
        refills: c.refills,
        refills_in_run: c.refills_in_run,
        refill_aborts: std::mem::take(&mut c.refill_aborts),
        replicas_usage,
        process: None,
        cost_model: Some(CostModelInfo {
            per_message_us: params.cost.per_message.as_secs_f64() * 1e6,
            per_check_us: params.cost.per_check.as_secs_f64() * 1e6,
            calibration: params.calibration.clone(),
        }),
        faults: exp.faults.iter().filter(|f| t0 + f.at <= elapsed).map(describe_fault).collect(),
        phases: w.milestones.take().map(|steps| {
            let mut log = PhaseLog::default();
            for (m, at) in steps {
                log.note(m, at.saturating_sub(t0));
            }
            log
        }),
        notes: vec![format!(
            "simulated: times are virtual; {:.1} s of virtual time took {:.1} s of CPU on one thread",
            elapsed.as_secs_f64(),
            cpu.as_secs_f64()
        )],
    })
}

/// Hand `s` to its simulated client, now.
fn submit(w: &mut World<AnyConsensus>, s: Send) {
    match s.payload {
        Payload::Transaction(request) => w.submit_at(w.now(), s.client, request, 1),
        Payload::Command(request) => w.order_at(w.now(), s.client, request),
    }
}

fn usage(w: &World<AnyConsensus>, id: ReplicaId, elapsed: Duration) -> ReplicaUsage {
    let u = w.usage(id);
    let busy = u.busy.as_secs_f64();
    ReplicaUsage {
        replica: replica_name(id),
        cpu_s: Some(busy),
        cpu_utilisation: Some(if elapsed.is_zero() { 0.0 } else { busy / elapsed.as_secs_f64() }),
        peak_rss_mib: None,
        messages_in: u.messages_in,
        messages_out: u.messages_out,
    }
}

/// The world of `exp`: its committee, protocol, checkers, network and cost model.
fn world(
    exp: &Experiment,
    params: &SimParams,
    committee: &Committee,
    keys: Vec<Vec<chainspace_core::crypto::Keypair>>,
) -> Result<World<AnyConsensus>, RunError> {
    let protocol = exp.cluster.protocol.clone();
    // Build one replica up front, so a bad parameter is an error rather than a panic in
    // the factory.
    protocol
        .build(committee.shards[0].clone(), 0, keys[0][0].clone())
        .map_err(|e| RunError::Setup(format!("cluster: {e}")))?;
    let c = committee.clone();
    let config = exp.replica_config();
    let factory = Box::new(move |id: ReplicaId, store| {
        let key = keys[id.shard.0 as usize][id.index as usize].clone();
        let shard = c.shards[id.shard.0 as usize].clone();
        let consensus = match protocol.build(shard, id.index, key.clone()) {
            Ok(consensus) => consensus,
            // Checked above for the same parameters and committee shape.
            Err(e) => unreachable!("replica {id} built once already: {e}"),
        };
        Replica::new(id, key, c.clone(), config.clone(), consensus, store)
    });
    let checkers: HashMap<String, SimChecker> = exp
        .cluster
        .checkers
        .contracts
        .keys()
        .filter_map(|id| {
            let native = chainspace_contracts::native(id)?;
            let f: SimChecker = Arc::new(move |r| native.check(r));
            Some((id.clone(), f))
        })
        .collect();
    let network = NetworkModel {
        latency: params.latency,
        jitter: params.jitter,
        drop_rate: params.loss,
        ..NetworkModel::default()
    };
    let retry = chainspace_node::client::ClientConfig::default().retry_after;
    let mut w = World::new(
        committee.clone(),
        exp.workload.clients,
        retry,
        exp.seed,
        network,
        checkers,
        factory,
    );
    w.cost = params.cost;
    if exp.workload.kind == WorkloadKind::Sbac {
        w.milestones = Some(Vec::new());
    }
    w.check_delay = Duration::ZERO;
    Ok(w)
}

fn schedule_fault(w: &mut World<AnyConsensus>, t0: Duration, kind: &FaultKind, at: Duration) {
    match kind {
        FaultKind::Crash(id) => w.crash_at(t0 + at, *id),
        FaultKind::Restart(id, from_store) => {
            let from = if *from_store { RestartFrom::Store } else { RestartFrom::Nothing };
            w.restart_at(t0 + at, *id, from)
        }
        FaultKind::Partition(ids, until) => {
            let group = ids.iter().map(|id| w.node_of(*id)).collect();
            w.partition(Partition { start: t0 + at, end: t0 + *until, groups: vec![group] });
        }
        // Applied by the run loop when their time comes.
        FaultKind::Delay(..) | FaultKind::Byzantine(..) => {}
    }
}

/// Start or end a delay fault `(at, until, replica, extra, applied)` at run time `now`.
fn apply_delay(
    w: &mut World<AnyConsensus>,
    params: &SimParams,
    now: Duration,
    d: &mut (Duration, Duration, ReplicaId, Duration, bool),
) {
    let (at, until, id, extra, applied) = d;
    let active = now >= *at && now < *until;
    if active == *applied {
        return;
    }
    *applied = active;
    let me = w.node_of(*id);
    let nodes = (w.replica_ids().len() + w.clients()) as u32;
    for other in (0..nodes).filter(|n| *n != me) {
        for link in [(me, other), (other, me)] {
            if active {
                w.network.links.insert(link, params.latency + *extra);
            } else {
                w.network.links.remove(&link);
            }
        }
    }
}

/// Outcomes as the simulated clients learn them.
#[derive(Default)]
struct Outcomes {
    seen: usize,
    known: HashMap<TxId, Outcome>,
}

impl Outcomes {
    /// Hand every outcome since the last call to the controller, timed from `t0`.
    fn collect(&mut self, w: &mut World<AnyConsensus>, t0: Duration, c: &mut Controller) {
        while self.seen < w.outcome_times.len() {
            let (client, tx, at) = w.outcome_times[self.seen];
            self.seen += 1;
            if !self.known.contains_key(&tx) {
                for f in w.client_mut(client).take_finished() {
                    self.known.insert(f.tx, f.outcome);
                }
            }
            let Some(outcome) = self.known.remove(&tx) else { continue };
            let abort = outcome.reason().map(str::to_string);
            c.on_outcome(at.saturating_sub(t0), &tx, abort);
        }
    }
}
