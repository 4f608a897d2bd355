//! The whole-system simulator: every replica of every shard (consensus, S-BAC, store,
//! checker) and the clients, on virtual time from one seed.
//!
//! Nodes are numbered for the network model: replica `i` of shard `s` is `s * n + i`,
//! client `c` comes after all replicas. Checks run the given synchronous checkers and
//! answer after a simulated delay (per contract, so a test can make one checker slow or
//! hang). Faults are those of the consensus simulator: loss, duplication, reordering,
//! partitions, crashes and restarts, and Byzantine interceptors on what a replica sends.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::cost::{CostModel, NodeUsage};
use super::network::{NetworkModel, Partition};
use super::queue::{EventQueue, Timers};
use super::trace::{Trace, TraceKind};
use crate::checker::{CheckRequest, CheckVerdict};
use crate::client::{ClientAction, ClientTimer, Submitter};
use crate::committee::Committee;
use crate::consensus::{Consensus, ProtocolMessage};
use crate::crypto::Digest;
use crate::order::IdentifiedOrder;
use crate::replica::{Addr, Milestone, Replica, ReplicaAction, ReplicaMessage, ReplicaTimer};
use crate::store::{MemoryStore, Store};
use crate::transaction::TransactionRequest;
use crate::types::{ReplicaId, ShardId};

/// A synchronous checker for the simulator.
pub type SimChecker = Arc<dyn Fn(&CheckRequest) -> CheckVerdict + Send + Sync>;

/// Rewrites what a Byzantine replica sends, per recipient.
pub type WorldInterceptor<M> = Box<dyn FnMut(Addr, ReplicaMessage<M>) -> Vec<ReplicaMessage<M>>>;

/// Builds replica `id` over `store` (called again when a replica restarts from nothing).
pub type ReplicaFactory<C> = Box<dyn FnMut(ReplicaId, Arc<dyn Store>) -> Replica<C>>;

/// What a restarted replica keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartFrom {
    /// Nothing: a new machine, or a wiped disk. It catches up from its peers alone.
    Nothing,
    /// Its store, as after a process crash with a durable store: memory is lost, the
    /// objects and S-BAC records written before the crash are not.
    Store,
    /// Everything: the replica was paused (a stopped VM), not restarted.
    Memory,
}

enum Event<C: Consensus> {
    Message { from: Addr, to: Addr, msg: ReplicaMessage<C::Message> },
    Timer { key: TimerKey<C::Timer>, generation: u64 },
    CheckDone { node: usize, key: Digest, verdict: CheckVerdict, incarnation: u32 },
    Submit { client: usize, request: TransactionRequest, instance: u64 },
    Order { client: usize, request: IdentifiedOrder },
    Crash(usize),
    Restart(usize, RestartFrom),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum TimerKey<T> {
    Replica(usize, ReplicaTimer<T>),
    Client(usize, ClientTimer),
}

struct Node<C: Consensus> {
    replica: Replica<C>,
    up: bool,
    incarnation: u32,
    /// Under a [`CostModel`], when the replica's CPU is next free.
    busy_until: Duration,
    usage: NodeUsage,
}

/// The whole system in one deterministic simulation.
pub struct World<C: Consensus> {
    now: Duration,
    queue: EventQueue<Event<C>>,
    committee: Committee,
    per_shard: usize,
    nodes: Vec<Node<C>>,
    clients: Vec<Submitter>,
    factory: ReplicaFactory<C>,
    checkers: HashMap<String, SimChecker>,
    /// Simulated time a check takes, unless `check_delays` names the contract.
    pub check_delay: Duration,
    /// Per-contract check times; `Duration::MAX` never answers (a hung checker).
    pub check_delays: HashMap<String, Duration>,
    rng: ChaCha8Rng,
    /// The network model, over node numbers.
    pub network: NetworkModel,
    /// CPU time replicas spend per event (free by default).
    pub cost: CostModel,
    partitions: Vec<Partition>,
    timers: Timers<TimerKey<C::Timer>>,
    interceptors: HashMap<usize, WorldInterceptor<C::Message>>,
    /// What happened.
    pub trace: Trace,
    /// When each client learnt each outcome: (client, transaction, virtual time).
    pub outcome_times: Vec<(usize, crate::transaction::TxId, Duration)>,
    /// The S-BAC steps replicas applied, with the virtual time, if recorded (`None`, the
    /// default, records nothing: the suites need no per-phase times).
    pub milestones: Option<Vec<(Milestone, Duration)>>,
}

impl<C: Consensus> World<C> {
    /// A world of `committee`'s shards (all of `per_shard` replicas), `clients` clients
    /// re-sending after `client_retry`, replicas built by `factory`.
    pub fn new(
        committee: Committee,
        clients: usize,
        client_retry: Duration,
        seed: u64,
        network: NetworkModel,
        checkers: HashMap<String, SimChecker>,
        mut factory: ReplicaFactory<C>,
    ) -> Self {
        let per_shard = committee.shards[0].n();
        let mut nodes = Vec::new();
        for s in &committee.shards {
            for index in s.indices() {
                let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
                let replica = factory(ReplicaId { shard: s.shard, index }, store);
                nodes.push(Node {
                    replica,
                    up: true,
                    incarnation: 0,
                    busy_until: Duration::ZERO,
                    usage: NodeUsage::default(),
                });
            }
        }
        let clients =
            (0..clients).map(|_| Submitter::new(committee.clone(), client_retry)).collect();
        let mut w = World {
            now: Duration::ZERO,
            queue: EventQueue::new(),
            committee,
            per_shard,
            nodes,
            clients,
            factory,
            checkers,
            check_delay: Duration::from_micros(200),
            check_delays: HashMap::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            network,
            cost: CostModel::default(),
            partitions: Vec::new(),
            timers: Timers::new(),
            interceptors: HashMap::new(),
            trace: Trace { enabled: false, events: Vec::new() },
            outcome_times: Vec::new(),
            milestones: None,
        };
        for i in 0..w.nodes.len() {
            let mut out = Vec::new();
            w.nodes[i].replica.on_start(&mut out);
            w.replica_actions(i, out);
        }
        w
    }

    /// The network node number of a replica.
    pub fn node_of(&self, id: ReplicaId) -> u32 {
        (id.shard.0 as usize * self.per_shard + id.index as usize) as u32
    }

    /// The network node number of a client.
    pub fn client_node(&self, client: usize) -> u32 {
        (self.nodes.len() + client) as u32
    }

    fn node_number(&self, a: Addr) -> u32 {
        match a {
            Addr::Replica(r) => self.node_of(r),
            Addr::Client(c) => self.client_node(c as usize),
        }
    }

    fn index(&self, id: ReplicaId) -> Option<usize> {
        let i = id.shard.0 as usize * self.per_shard + id.index as usize;
        ((id.index as usize) < self.per_shard && i < self.nodes.len()).then_some(i)
    }

    /// The current virtual time.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// The committee.
    pub fn committee(&self) -> &Committee {
        &self.committee
    }

    /// A replica.
    pub fn replica(&self, id: ReplicaId) -> &Replica<C> {
        &self.nodes[self.index(id).expect("replica in the committee")].replica
    }

    /// Whether a replica is running.
    pub fn is_up(&self, id: ReplicaId) -> bool {
        self.index(id).is_some_and(|i| self.nodes[i].up)
    }

    /// What replica `id` did so far (modelled CPU time under [`World::cost`], messages).
    pub fn usage(&self, id: ReplicaId) -> NodeUsage {
        self.index(id).map(|i| self.nodes[i].usage).unwrap_or_default()
    }

    /// All replica ids.
    pub fn replica_ids(&self) -> Vec<ReplicaId> {
        self.committee
            .shards
            .iter()
            .flat_map(|s| s.indices().map(move |index| ReplicaId { shard: s.shard, index }))
            .collect()
    }

    /// The replicas of one shard.
    pub fn shard_ids(&self, shard: ShardId) -> Vec<ReplicaId> {
        self.replica_ids().into_iter().filter(|r| r.shard == shard).collect()
    }

    /// Number of clients.
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// A client.
    pub fn client(&self, c: usize) -> &Submitter {
        &self.clients[c]
    }

    /// Mutable access to a client, to take its outcomes.
    pub fn client_mut(&mut self, c: usize) -> &mut Submitter {
        &mut self.clients[c]
    }

    /// Client `client` submits `request` as attempt `instance` at time `at`.
    pub fn submit_at(
        &mut self,
        at: Duration,
        client: usize,
        request: TransactionRequest,
        instance: u64,
    ) {
        self.queue.push(at, Event::Submit { client, request, instance });
    }

    /// Client `client` sends `request` to be ordered at time `at` (the consensus-only
    /// workload; the replicas must be configured with
    /// [`ReplicaConfig::ordering`](crate::replica::ReplicaConfig::ordering)).
    pub fn order_at(&mut self, at: Duration, client: usize, request: impl Into<IdentifiedOrder>) {
        self.queue.push(at, Event::Order { client, request: request.into() });
    }

    /// Replica `id` crashes at `at`.
    pub fn crash_at(&mut self, at: Duration, id: ReplicaId) {
        let i = self.index(id).expect("replica in the committee");
        self.queue.push(at, Event::Crash(i));
    }

    /// Replica `id` restarts at `at`, keeping what `from` says.
    pub fn restart_at(&mut self, at: Duration, id: ReplicaId, from: RestartFrom) {
        let i = self.index(id).expect("replica in the committee");
        self.queue.push(at, Event::Restart(i, from));
    }

    /// Add a partition (over node numbers, see [`World::node_of`]).
    pub fn partition(&mut self, p: Partition) {
        self.partitions.push(p);
    }

    /// Make replica `id` Byzantine: everything it sends goes through `f`.
    pub fn intercept(&mut self, id: ReplicaId, f: WorldInterceptor<C::Message>) {
        let i = self.index(id).expect("replica in the committee");
        self.interceptors.insert(i, f);
    }

    /// When the next event is due, if any.
    pub fn next_event_time(&self) -> Option<Duration> {
        self.queue.next_time()
    }

    /// Run every event up to time `until`.
    pub fn run_until(&mut self, until: Duration) {
        while self.queue.next_time().is_some_and(|at| at <= until) {
            self.step();
        }
        self.now = self.now.max(until);
    }

    /// Run until `done` holds (checked every `every` of virtual time) or `limit` passes.
    pub fn run_until_cond(
        &mut self,
        limit: Duration,
        every: Duration,
        mut done: impl FnMut(&Self) -> bool,
    ) -> bool {
        loop {
            if done(self) {
                return true;
            }
            if self.now >= limit {
                return false;
            }
            let next = (self.now + every).min(limit);
            self.run_until(next);
        }
    }

    fn step(&mut self) {
        let Some((at, event)) = self.queue.pop() else { return };
        self.now = at;
        match event {
            Event::Message { from, to, msg } => self.deliver(from, to, msg),
            Event::Timer { key, generation } => {
                if !self.timers.fire(&key, generation) {
                    return;
                }
                match key {
                    TimerKey::Replica(i, timer) => {
                        let mut out = Vec::new();
                        self.nodes[i].replica.on_timer(timer, &mut out);
                        self.replica_actions(i, out);
                    }
                    TimerKey::Client(c, timer) => {
                        let mut out = Vec::new();
                        self.clients[c].on_timer(timer, &mut out);
                        self.client_actions(c, out);
                    }
                }
            }
            Event::CheckDone { node, key, verdict, incarnation } => {
                let n = &mut self.nodes[node];
                if n.up && n.incarnation == incarnation {
                    let mut out = Vec::new();
                    n.replica.on_check_result(key, verdict, &mut out);
                    self.replica_actions(node, out);
                }
            }
            Event::Submit { client, request, instance } => {
                let mut out = Vec::new();
                self.clients[client].submit(request, instance, &mut out);
                self.client_actions(client, out);
            }
            Event::Order { client, request } => {
                let mut out = Vec::new();
                self.clients[client].order(request, &mut out);
                self.client_actions(client, out);
            }
            Event::Crash(i) => {
                let id = self.nodes[i].replica.id();
                self.trace.record(at, || TraceKind::Line(format!("{id} CRASH")));
                self.nodes[i].up = false;
                self.nodes[i].incarnation += 1;
                self.timers.retain(|k| !matches!(k, TimerKey::Replica(j, _) if *j == i));
            }
            Event::Restart(i, from) => {
                let id = self.nodes[i].replica.id();
                self.trace.record(at, || TraceKind::Line(format!("{id} RESTART from {from:?}")));
                match from {
                    RestartFrom::Nothing => {
                        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
                        self.nodes[i].replica = (self.factory)(id, store);
                    }
                    RestartFrom::Store => {
                        let store = self.nodes[i].replica.engine().store().clone();
                        self.nodes[i].replica = (self.factory)(id, store);
                    }
                    RestartFrom::Memory => {}
                }
                self.nodes[i].up = true;
                self.nodes[i].incarnation += 1;
                self.nodes[i].busy_until = at;
                self.timers.retain(|k| !matches!(k, TimerKey::Replica(j, _) if *j == i));
                let mut out = Vec::new();
                self.nodes[i].replica.on_start(&mut out);
                self.replica_actions(i, out);
            }
        }
    }

    fn deliver(&mut self, from: Addr, to: Addr, msg: ReplicaMessage<C::Message>) {
        let (a, b) = (self.node_number(from), self.node_number(to));
        if self.partitions.iter().any(|p| p.separates(a, b, self.now)) {
            return;
        }
        match to {
            Addr::Replica(r) => {
                let Some(i) = self.index(r) else { return };
                if !self.nodes[i].up {
                    return;
                }
                if self.nodes[i].busy_until > self.now {
                    // The replica is busy: the message waits its turn.
                    let at = self.nodes[i].busy_until;
                    self.queue.push(at, Event::Message { from, to, msg });
                    return;
                }
                let node = &mut self.nodes[i];
                node.usage.messages_in += 1;
                node.usage.busy += self.cost.per_message;
                node.busy_until = self.now + self.cost.per_message;
                self.trace.record(self.now, || {
                    TraceKind::Line(format!(
                        "{} -> {r} {} {}",
                        name(from),
                        msg.kind(),
                        msg.trace_fields()
                    ))
                });
                let mut out = Vec::new();
                self.nodes[i].replica.on_message(from, msg, &mut out);
                self.replica_actions(i, out);
            }
            Addr::Client(c) => {
                let reports = match (from, msg) {
                    (Addr::Replica(r), ReplicaMessage::Outcome(report)) => (r, vec![report]),
                    (Addr::Replica(r), ReplicaMessage::Outcomes(reports)) => (r, reports),
                    _ => return,
                };
                let (r, reports) = reports;
                let Some(client) = self.clients.get_mut(c as usize) else { return };
                let mut out = Vec::new();
                for report in reports {
                    self.trace.record(self.now, || {
                        TraceKind::Line(format!("{r} -> c{c} Outcome {}", report.outcome.name()))
                    });
                    let before = client.finished().len();
                    client.on_report(r, report, &mut out);
                    if let Some(f) = client.finished().get(before) {
                        self.outcome_times.push((c as usize, f.tx, self.now));
                    }
                }
                self.client_actions(c as usize, out);
            }
        }
    }

    /// Send `msg`, leaving at `depart` (now, or when the sender's work is done).
    fn send(&mut self, from: Addr, to: Addr, msg: ReplicaMessage<C::Message>, depart: Duration) {
        let (a, b) = (self.node_number(from), self.node_number(to));
        if self.partitions.iter().any(|p| p.separates(a, b, self.now)) {
            return;
        }
        if let Some(delays) = self.network.delays(a, b, &mut self.rng) {
            for d in delays {
                self.queue.push(depart + d, Event::Message { from, to, msg: msg.clone() });
            }
        }
    }

    /// Replica `i` (at `me`) sends `msg` to `to`, through its interceptor if it has one.
    fn replica_send(
        &mut self,
        i: usize,
        me: Addr,
        to: Addr,
        msg: ReplicaMessage<C::Message>,
        depart: Duration,
    ) {
        let msgs = match self.interceptors.get_mut(&i) {
            Some(f) => f(to, msg),
            None => vec![msg],
        };
        self.nodes[i].usage.messages_out += msgs.len() as u64;
        for m in msgs {
            self.send(me, to, m, depart);
        }
    }

    fn replica_actions(&mut self, i: usize, out: Vec<ReplicaAction<C::Message, C::Timer>>) {
        let me = Addr::Replica(self.nodes[i].replica.id());
        let depart = self.nodes[i].busy_until.max(self.now);
        for action in out {
            match action {
                ReplicaAction::Send { to, msg } => self.replica_send(i, me, to, msg, depart),
                ReplicaAction::Broadcast { to, msg } => {
                    for to in to {
                        self.replica_send(i, me, to, msg.clone(), depart);
                    }
                }
                ReplicaAction::SetTimer { timer, after } => {
                    let key = TimerKey::Replica(i, timer);
                    let generation = self.timers.set(key.clone());
                    self.queue.push(self.now + after, Event::Timer { key, generation });
                }
                ReplicaAction::CancelTimer { timer } => {
                    self.timers.cancel(&TimerKey::Replica(i, timer))
                }
                ReplicaAction::Check { key, requests } => {
                    let (verdict, delay) = self.run_checks(&requests);
                    // Checks run on the replica's CPU: they keep it busy, and the verdict
                    // is ready no sooner than the work is done.
                    let work = self.cost.per_check * requests.len() as u32;
                    let node = &mut self.nodes[i];
                    node.usage.checks += requests.len() as u64;
                    node.usage.busy += work;
                    node.busy_until = node.busy_until.max(self.now) + work;
                    if delay != Duration::MAX {
                        let incarnation = node.incarnation;
                        let at = (self.now + delay).max(node.busy_until);
                        self.queue
                            .push(at, Event::CheckDone { node: i, key, verdict, incarnation });
                    }
                }
                ReplicaAction::Milestone(m) => {
                    // Under a cost model the step is done when the replica's work is.
                    let at = self.nodes[i].busy_until.max(self.now);
                    if let Some(log) = &mut self.milestones {
                        log.push((m, at));
                    }
                }
            }
        }
    }

    /// Every call must be accepted; the slowest call's delay counts.
    fn run_checks(&self, requests: &[CheckRequest]) -> (CheckVerdict, Duration) {
        let mut delay = Duration::ZERO;
        for r in requests {
            let d = self.check_delays.get(&r.call.contract_id).copied().unwrap_or(self.check_delay);
            delay = delay.max(d);
        }
        for r in requests {
            let verdict = match self.checkers.get(&r.call.contract_id) {
                Some(check) => check(r),
                None => CheckVerdict::reject(format!("unknown contract {}", r.call.contract_id)),
            };
            if !verdict.accepted {
                return (verdict, delay);
            }
        }
        (CheckVerdict::accept(), delay)
    }

    fn client_actions(&mut self, c: usize, out: Vec<ClientAction>) {
        let me = Addr::Client(c as u64);
        for action in out {
            match action {
                ClientAction::Send { to, submission } => {
                    let now = self.now;
                    self.send(me, Addr::Replica(to), ReplicaMessage::Submit(submission), now)
                }
                ClientAction::SendOrder { to, request } => {
                    let now = self.now;
                    for r in to {
                        let msg = ReplicaMessage::Order(request.clone());
                        self.send(me, Addr::Replica(r), msg, now)
                    }
                }
                ClientAction::SetTimer { timer, after } => {
                    let key = TimerKey::Client(c, timer);
                    let generation = self.timers.set(key.clone());
                    self.queue.push(self.now + after, Event::Timer { key, generation });
                }
                ClientAction::CancelTimer { timer } => {
                    self.timers.cancel(&TimerKey::Client(c, timer))
                }
            }
        }
    }
}

fn name(a: Addr) -> String {
    match a {
        Addr::Replica(r) => r.to_string(),
        Addr::Client(c) => format!("c{c}"),
    }
}
