//! Running an experiment over real QUIC on 127.0.0.1: every replica in this process
//! ([`chainspace_node::local::LocalNetwork`]), or each in a process of its own
//! ([`crate::processes`]). Clients are QUIC client endpoints in this process; the load
//! controller runs in one task, hands each client endpoint all the requests one poll
//! starts at once, and awaits every outcome in a task of its own, so an open-loop schedule
//! never waits on a slow transaction.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chainspace_core::client::Finished;
use chainspace_core::replica::{Milestone, Step};
use chainspace_core::transaction::TxId;
use chainspace_core::types::ShardId;
use chainspace_node::NodeError;
use chainspace_node::client::{Client, ClientConfig, OutcomeSink};
use chainspace_node::local::{LocalConfig, LocalNetwork, StoreChoice, TransportChoice};
use chainspace_node::runtime::Observer;
use checker_http::HttpConfig;
use tokio::sync::mpsc;
use transport_quic::QuicConfig;

use crate::config::{
    Experiment, Fault, FaultKind, Processes, StoreKind, TransportKind, WorkloadKind, replica_name,
};
use crate::driver::{Controller, Payload};
use crate::manifest;
use crate::phases::PhaseLog;
use crate::progress::{Progress, Rate};
use crate::run::{RunError, RunOutput, describe_fault};
use crate::summary::{ProcessUsage, ReplicaUsage};

/// Workload clients per QUIC client endpoint: an endpoint multiplexes its clients'
/// transactions on one connection per replica, so their messages share packets (many
/// endpoints with few clients each cost a packet and a system call per message). 128
/// rather than 64 cut the datagrams of the consensus-only run from 0.95 to 0.79 per
/// command, and of the 2x4 run from 3.5 to 2.8 per transaction.
pub const CLIENTS_PER_ENDPOINT: usize = 128;
/// Client endpoints at most.
pub const MAX_ENDPOINTS: usize = 8;
/// Setup (the first pools) must be over by then.
const SETUP_LIMIT: Duration = Duration::from_secs(120);

/// Run `exp` (whose transport is QUIC), keeping replica data under `dir`.
/// Replica processes (`processes = "many"`) are `program replica <name>`.
pub fn run(
    exp: &Experiment,
    dir: &Path,
    progress: &Progress,
    program: &Path,
) -> Result<RunOutput, RunError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| RunError::Setup(format!("tokio: {e}")))?;
    // The run is a task on the runtime, not the future `block_on` polls: that future runs
    // on this (main) thread, so every wake-up from the workers (an outcome, a report) was
    // a futex wake of this thread and a context switch, 7-11% of the CPU of a
    // consensus-only run. As a task it runs on the workers, which are busy anyway.
    let (exp, dir, progress, program) =
        (exp.clone(), dir.to_path_buf(), progress.clone(), program.to_path_buf());
    let task = runtime.spawn(async move {
        match exp.cluster.transport {
            TransportKind::Quic { processes: Processes::Many } => {
                crate::processes::run(&exp, &dir, &progress, &program).await
            }
            _ => one_process(&exp, &dir, &progress).await,
        }
    });
    let out = runtime
        .block_on(task)
        .unwrap_or_else(|e| Err(RunError::Setup(format!("the run's task ended abnormally: {e}"))));
    runtime.shutdown_timeout(Duration::from_secs(5));
    out
}

/// Something that can crash and restart replicas: the local network, or the processes.
pub trait Cluster {
    /// Crash replica `id`.
    fn crash(
        &mut self,
        id: chainspace_core::types::ReplicaId,
    ) -> impl Future<Output = Result<(), RunError>>;
    /// Restart it, from its store or from nothing.
    fn restart(
        &mut self,
        id: chainspace_core::types::ReplicaId,
        from_store: bool,
    ) -> impl Future<Output = Result<(), RunError>>;
}

impl Cluster for LocalNetwork {
    async fn crash(&mut self, id: chainspace_core::types::ReplicaId) -> Result<(), RunError> {
        LocalNetwork::crash(self, id).await.map_err(|e| RunError::Setup(format!("crash: {e}")))
    }

    async fn restart(
        &mut self,
        id: chainspace_core::types::ReplicaId,
        from_store: bool,
    ) -> Result<(), RunError> {
        LocalNetwork::restart(self, id, from_store)
            .await
            .map_err(|e| RunError::Setup(format!("restart: {e}")))
    }
}

async fn one_process(
    exp: &Experiment,
    dir: &Path,
    progress: &Progress,
) -> Result<RunOutput, RunError> {
    let checkers = checker_http::build(
        exp.cluster.checkers.choices(&dir.join("logs").join("checkers")),
        &HttpConfig::default(),
    )
    .map_err(|e| RunError::Setup(format!("cluster.checkers: {e}")))?;
    checkers.start_all().await.map_err(|e| RunError::Setup(format!("starting checkers: {e}")))?;
    let observed: Arc<Observed> = Arc::default();
    let config = LocalConfig {
        shards: exp.cluster.shards,
        replicas: exp.cluster.replicas,
        protocol: exp.cluster.protocol.clone(),
        store: match exp.cluster.store {
            StoreKind::Memory => StoreChoice::Memory,
            StoreKind::Redb => StoreChoice::Redb(dir.join("data")),
        },
        transport: TransportChoice::Quic(QuicConfig::default()),
        replica: exp.replica_config(),
        checkers: checkers.registry.clone(),
        observer: (exp.workload.kind == WorkloadKind::Sbac).then(|| {
            let observed = observed.clone();
            Observer(Arc::new(move |m: Milestone| {
                if m.instance == 1 {
                    let mut seen = observed.lock().unwrap_or_else(|e| e.into_inner());
                    seen.entry((m.tx, m.shard, m.step)).or_insert_with(Instant::now);
                }
            }))
        }),
    };
    let cpu0 = manifest::process_cpu_seconds();
    let mut net = LocalNetwork::start(config).map_err(|e| RunError::Setup(e.to_string()))?;
    let endpoints = exp.workload.clients.div_ceil(CLIENTS_PER_ENDPOINT).min(MAX_ENDPOINTS);
    let clients = (0..endpoints)
        .map(|_| net.client(ClientConfig::default()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RunError::Setup(format!("client: {e}")))?;
    let observing = exp.workload.kind == WorkloadKind::Sbac;
    let result = drive(exp, &clients, &mut net, progress, observing.then_some(&*observed)).await;
    for c in &clients {
        c.shutdown().await;
    }
    let stats = net.stats();
    net.shutdown().await;
    checkers.shutdown_all().await;
    if exp.cluster.store == StoreKind::Redb {
        let _ = std::fs::remove_dir_all(dir.join("data"));
    }
    let (mut out, wall) = result?;
    out.replicas_usage = stats
        .iter()
        .map(|(id, s)| ReplicaUsage {
            replica: replica_name(*id),
            cpu_s: None,
            cpu_utilisation: None,
            peak_rss_mib: None,
            messages_in: s.messages_in,
            messages_out: s.messages_out,
        })
        .collect();
    let cpu = manifest::process_cpu_seconds() - cpu0;
    out.process = Some(ProcessUsage { cpu_s: cpu, peak_rss_mib: manifest::peak_rss_mib() });
    let (views, installs) = stats.values().fold((0, 0), |(v, i), s| {
        (v + s.consensus.view_changes, i + s.consensus.snapshots_installed)
    });
    if views + installs > 0 {
        // Either one changes what the numbers mean: say so next to them.
        out.notes.push(format!(
            "consensus: {views} view changes and {installs} snapshots installed (state \
             transfer), summed over the replicas"
        ));
    }
    let fetched: u64 = stats.values().map(|s| s.consensus.proposals_fetched).sum();
    if fetched > 0 {
        out.notes.push(format!(
            "consensus: {fetched} proposals fetched whole by replicas that lacked some of \
             their commands when the proposal named them by digest, summed over the replicas"
        ));
    }
    let messages: u64 = stats.values().map(|s| s.messages_in).sum();
    if messages > 0 {
        out.notes.push(format!(
            "one process: {:.1} CPU-s over {:.1} s of wall time for {} replicas and the clients; \
             {:.1} µs of process CPU per message handled (the simulator's calibration)",
            cpu,
            wall.as_secs_f64(),
            stats.len(),
            cpu * 1e6 / messages as f64
        ));
    }
    Ok(out)
}

/// Where each request's outcome (or the client's error) goes once it is known.
type Done = mpsc::UnboundedSender<(TxId, Option<String>, Instant)>;

/// The clients' tasks hand each outcome straight to the run's loop, with the instant it
/// arrived. (Before, each request had a future of its own, awaited in a task that
/// forwarded it: a channel, a future and a wake-up per request, about 2% of a
/// consensus-only run's CPU.)
struct ToDone(Done);

impl OutcomeSink for ToDone {
    fn finished(&self, finished: Finished, at: Instant) {
        let abort = finished.outcome.reason().map(str::to_string);
        let _ = self.0.send((finished.tx, abort, at));
    }

    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// Hand `requests` (with their IDs) over with `hand` in one call; an error handing them
/// over is every request's outcome, sent to `done`.
fn hand_over<R>(
    requests: Vec<(TxId, R)>,
    hand: impl FnOnce(Vec<R>) -> Result<(), NodeError>,
    done: &Done,
) {
    if requests.is_empty() {
        return;
    }
    let (ids, requests): (Vec<_>, Vec<_>) = requests.into_iter().unzip();
    if let Err(e) = hand(requests) {
        for id in ids {
            let _ = done.send((id, Some(format!("client error: {e}")), Instant::now()));
        }
    }
}

/// Steps replicas of this process applied (for per-phase times): the earliest instant per
/// transaction, shard and step.
pub type Observed = Mutex<HashMap<(TxId, ShardId, Step), Instant>>;

/// Drive the workload of `exp` through `clients` against `cluster`; returns the output
/// (usage left for the caller) and the run's wall time. With `observed`, the steps the
/// replicas report there become the summary's per-phase times.
pub async fn drive<C: Cluster>(
    exp: &Experiment,
    clients: &[Client],
    cluster: &mut C,
    progress: &Progress,
    observed: Option<&Observed>,
) -> Result<(RunOutput, Duration), RunError> {
    let started = Instant::now();
    let mut c = Controller::new(&exp.workload, exp.cluster.shards, exp.seed);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let sink: Arc<dyn OutcomeSink> = Arc::new(ToDone(done_tx.clone()));
    // Everything one poll starts is handed to each client endpoint in one call, so that
    // its task takes it together and what goes to one replica shares a message (one task
    // per request, each handing its own, would wake the client task once per request).
    let submit = |sends: Vec<crate::driver::Send>| {
        let mut groups: BTreeMap<usize, (Vec<_>, Vec<_>)> = BTreeMap::new();
        for s in sends {
            let (txs, orders) = groups.entry(s.client % clients.len()).or_default();
            match s.payload {
                Payload::Transaction(request) => txs.push((s.id, request)),
                Payload::Command(request) => orders.push((s.id, request)),
            }
        }
        for (k, (txs, orders)) in groups {
            hand_over(txs, |r| clients[k].submit_many_to(r, &sink), &done_tx);
            hand_over(orders, |r| clients[k].order_many_to(r, &sink), &done_tx);
        }
    };

    progress.phase("setup: creating objects");
    let setup_start = Instant::now();
    submit(c.setup());
    while !c.setup_done() {
        let left = SETUP_LIMIT.saturating_sub(setup_start.elapsed());
        match tokio::time::timeout(left, done_rx.recv()).await {
            Ok(Some((id, abort, _))) => {
                c.on_outcome(Duration::ZERO, &id, abort);
                submit(c.poll_setup());
            }
            _ => {
                return Err(RunError::Setup(format!(
                    "setup did not finish in {} s",
                    SETUP_LIMIT.as_secs()
                )));
            }
        }
    }

    let t0 = Instant::now();
    let mut faults: VecDeque<Fault> = exp.faults.iter().cloned().collect();
    let mut rate = Rate::default();
    loop {
        let now = t0.elapsed();
        submit(c.poll(now));
        if c.done(now) {
            break;
        }
        while faults.front().is_some_and(|f| f.at <= now) {
            if let Some(f) = faults.pop_front() {
                tracing::info!("fault: {}", describe_fault(&f));
                match f.kind {
                    FaultKind::Crash(id) => cluster.crash(id).await?,
                    FaultKind::Restart(id, from_store) => cluster.restart(id, from_store).await?,
                    // Validation admits no other kind over QUIC.
                    _ => {}
                }
            }
        }
        let wake = c.next_wakeup().map_or(Duration::from_millis(5), |t| {
            t.saturating_sub(now).min(Duration::from_millis(5))
        });
        if let Ok(Some((id, abort, at))) = tokio::time::timeout(wake, done_rx.recv()).await {
            c.on_outcome(at.saturating_duration_since(t0), &id, abort);
            while let Ok((id, abort, at)) = done_rx.try_recv() {
                c.on_outcome(at.saturating_duration_since(t0), &id, abort);
            }
        }
        let committed = c.committed();
        if rate.tick(now, committed, Duration::from_millis(500)) {
            progress.update(now, committed, rate.per_s, c.in_flight());
        }
    }
    let wall = started.elapsed();
    let ran = t0.elapsed();
    Ok((
        RunOutput {
            records: c.records.take(),
            window: c.window(),
            refills: c.refills,
            refills_in_run: c.refills_in_run,
            refill_aborts: std::mem::take(&mut c.refill_aborts),
            replicas_usage: Vec::new(),
            process: None,
            cost_model: None,
            faults: exp.faults.iter().filter(|f| f.at <= ran).map(describe_fault).collect(),
            notes: Vec::new(),
            phases: observed.map(|seen| {
                let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                let mut log = PhaseLog::default();
                for ((tx, shard, step), at) in seen.iter() {
                    let m = Milestone { tx: *tx, instance: 1, shard: *shard, step: *step };
                    log.note(m, at.saturating_duration_since(t0));
                }
                log
            }),
        },
        wall,
    ))
}
