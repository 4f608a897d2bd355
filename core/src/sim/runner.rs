//! The simulation loop: a priority queue of events on virtual time.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::time::Duration;

use super::app::SimApp;
use super::network::{NetworkModel, Partition};
use super::queue::{EventQueue, Timers};
use super::trace::{Trace, TraceKind};
use crate::consensus::{Action, Actions, Consensus, ProtocolMessage};
use crate::snapshot::Snapshot;
use crate::types::{Command, ReplicaIndex};

/// Rewrites what a Byzantine replica sends: called once per recipient with the message a
/// correct replica would send; returns what is actually sent (nothing, the same, another
/// message, or several).
pub type Interceptor<M> = Box<dyn FnMut(ReplicaIndex, M) -> Vec<M>>;

enum Event<C: Consensus> {
    Message { from: ReplicaIndex, to: ReplicaIndex, msg: C::Message },
    Timer { replica: ReplicaIndex, timer: C::Timer, generation: u64 },
    Propose { replica: ReplicaIndex, command: Command },
    Crash { replica: ReplicaIndex },
    Restart { replica: ReplicaIndex, wipe: bool },
}

struct Node<C> {
    consensus: C,
    app: SimApp,
    up: bool,
}

/// A deterministic simulation of one shard's consensus.
pub struct Simulation<C: Consensus> {
    now: Duration,
    queue: EventQueue<Event<C>>,
    nodes: Vec<Node<C>>,
    factory: Box<dyn FnMut(ReplicaIndex) -> C>,
    rng: ChaCha8Rng,
    /// The network model; may be changed between steps.
    pub network: NetworkModel,
    partitions: Vec<Partition>,
    timers: Timers<(ReplicaIndex, C::Timer)>,
    interceptors: HashMap<ReplicaIndex, Interceptor<C::Message>>,
    /// What happened so far.
    pub trace: Trace,
    /// Messages sent (copies put on the network), for cost reports.
    pub messages_sent: u64,
    scratch: Actions<C::Message, C::Timer>,
}

impl<C: Consensus> Simulation<C> {
    /// `n` replicas made by `factory`, started at time zero. The trace is recorded.
    pub fn new(
        n: usize,
        seed: u64,
        network: NetworkModel,
        mut factory: impl FnMut(ReplicaIndex) -> C + 'static,
    ) -> Self {
        let nodes = (0..n as ReplicaIndex)
            .map(|i| Node { consensus: factory(i), app: SimApp::new(), up: true })
            .collect();
        let mut sim = Simulation {
            now: Duration::ZERO,
            queue: EventQueue::new(),
            nodes,
            factory: Box::new(factory),
            rng: ChaCha8Rng::seed_from_u64(seed),
            network,
            partitions: Vec::new(),
            timers: Timers::new(),
            interceptors: HashMap::new(),
            trace: Trace { enabled: true, events: Vec::new() },
            messages_sent: 0,
            scratch: Actions::new(),
        };
        for i in 0..n as ReplicaIndex {
            let mut out = std::mem::take(&mut sim.scratch);
            sim.nodes[i as usize].consensus.on_start(&mut out);
            sim.apply(i, &mut out);
            sim.scratch = out;
        }
        sim
    }

    /// Number of replicas.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no replicas.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The current virtual time.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// Replica `i`'s protocol state.
    pub fn consensus(&self, i: ReplicaIndex) -> &C {
        &self.nodes[i as usize].consensus
    }

    /// Replica `i`'s application.
    pub fn app(&self, i: ReplicaIndex) -> &SimApp {
        &self.nodes[i as usize].app
    }

    /// Whether replica `i` is running.
    pub fn is_up(&self, i: ReplicaIndex) -> bool {
        self.nodes[i as usize].up
    }

    /// A client submits `command` to replica `replica` at time `at`.
    pub fn propose_at(&mut self, at: Duration, replica: ReplicaIndex, command: Command) {
        self.schedule(at, Event::Propose { replica, command });
    }

    /// A client submits `command` to replica `replica` now, bypassing the event queue
    /// (for drivers that inject a large backlog at once: queueing each proposal would
    /// cost more than the protocol handling it).
    pub fn propose_now(&mut self, replica: ReplicaIndex, command: Command) {
        if !self.nodes[replica as usize].up {
            return;
        }
        self.trace
            .record(self.now, || TraceKind::Propose { replica, command: format!("{command:?}") });
        let mut out = std::mem::take(&mut self.scratch);
        self.nodes[replica as usize].consensus.propose(command, &mut out);
        self.apply(replica, &mut out);
        self.scratch = out;
    }

    /// Replica `replica` crashes at `at`: it stops, its timers and in-flight messages to
    /// it are lost.
    pub fn crash_at(&mut self, at: Duration, replica: ReplicaIndex) {
        self.schedule(at, Event::Crash { replica });
    }

    /// Replica `replica` restarts at `at`; with `wipe` it comes back with no state at all.
    pub fn restart_at(&mut self, at: Duration, replica: ReplicaIndex, wipe: bool) {
        self.schedule(at, Event::Restart { replica, wipe });
    }

    /// Add a partition.
    pub fn partition(&mut self, partition: Partition) {
        self.partitions.push(partition);
    }

    /// Make `replica` Byzantine: everything it sends goes through `interceptor`.
    pub fn intercept(&mut self, replica: ReplicaIndex, interceptor: Interceptor<C::Message>) {
        self.interceptors.insert(replica, interceptor);
    }

    /// Run every event up to and including time `until`.
    pub fn run_until(&mut self, until: Duration) {
        while self.queue.next_time().is_some_and(|at| at <= until) {
            self.step();
        }
        self.now = self.now.max(until);
    }

    /// Run until `done` holds (checked after each event) or time `limit` passes. Returns
    /// whether `done` held.
    pub fn run_until_cond(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        loop {
            if done(self) {
                return true;
            }
            match self.queue.next_time() {
                Some(at) if at <= limit => {
                    self.step();
                }
                _ => {
                    self.now = self.now.max(limit);
                    return done(self);
                }
            }
        }
    }

    /// Process the next event. Returns false if there was none.
    pub fn step(&mut self) -> bool {
        let Some((at, event)) = self.queue.pop() else { return false };
        self.now = at;
        let mut out = std::mem::take(&mut self.scratch);
        let who = match event {
            Event::Message { from, to, msg } => {
                if !self.nodes[to as usize].up {
                    self.drop_trace(from, to, &msg, "recipient down");
                    None
                } else if self.partitioned(from, to) {
                    self.drop_trace(from, to, &msg, "partition");
                    None
                } else {
                    self.trace.record(at, || TraceKind::Receive {
                        from,
                        to,
                        kind: msg.kind(),
                        fields: msg.trace_fields(),
                    });
                    self.nodes[to as usize].consensus.on_message(from, msg, &mut out);
                    Some(to)
                }
            }
            Event::Timer { replica, timer, generation } => {
                let key = (replica, timer);
                if self.timers.fire(&key, generation) {
                    let timer = key.1;
                    self.trace
                        .record(at, || TraceKind::Timer { replica, timer: format!("{timer:?}") });
                    self.nodes[replica as usize].consensus.on_timer(timer, &mut out);
                    Some(replica)
                } else {
                    None
                }
            }
            Event::Propose { replica, command } => {
                self.trace
                    .record(at, || TraceKind::Propose { replica, command: format!("{command:?}") });
                if self.nodes[replica as usize].up {
                    self.nodes[replica as usize].consensus.propose(command, &mut out);
                    Some(replica)
                } else {
                    None
                }
            }
            Event::Crash { replica } => {
                self.trace.record(at, || TraceKind::Crash { replica });
                self.nodes[replica as usize].up = false;
                self.timers.retain(|(r, _)| *r != replica);
                None
            }
            Event::Restart { replica, wipe } => {
                self.trace.record(at, || TraceKind::Restart { replica, wiped: wipe });
                let node = &mut self.nodes[replica as usize];
                if wipe {
                    node.consensus = (self.factory)(replica);
                    node.app = SimApp::new();
                }
                node.up = true;
                self.timers.retain(|(r, _)| *r != replica);
                node.consensus.on_start(&mut out);
                Some(replica)
            }
        };
        if let Some(i) = who {
            self.apply(i, &mut out);
        }
        self.scratch = out;
        true
    }

    fn partitioned(&self, a: ReplicaIndex, b: ReplicaIndex) -> bool {
        self.partitions.iter().any(|p| p.separates(a, b, self.now))
    }

    fn drop_trace(
        &mut self,
        from: ReplicaIndex,
        to: ReplicaIndex,
        msg: &C::Message,
        why: &'static str,
    ) {
        self.trace.record(self.now, || TraceKind::Drop { from, to, kind: msg.kind(), reason: why });
    }

    fn schedule(&mut self, at: Duration, event: Event<C>) {
        self.queue.push(at, event);
    }

    /// Carry out the actions replica `i` produced (and any they lead to).
    fn apply(&mut self, i: ReplicaIndex, out: &mut Actions<C::Message, C::Timer>) {
        let mut pending: Vec<Action<C::Message, C::Timer>> = out.drain().collect();
        while !pending.is_empty() {
            for action in std::mem::take(&mut pending) {
                match action {
                    Action::Send { to, msg } => self.send(i, to, msg),
                    Action::Broadcast { msg } => {
                        for to in 0..self.nodes.len() as ReplicaIndex {
                            if to != i {
                                self.send(i, to, msg.clone());
                            }
                        }
                    }
                    Action::SetTimer { timer, after } => {
                        let generation = self.timers.set((i, timer.clone()));
                        self.schedule(
                            self.now + after,
                            Event::Timer { replica: i, timer, generation },
                        );
                    }
                    Action::CancelTimer { timer } => {
                        self.timers.cancel(&(i, timer));
                    }
                    Action::Deliver { sequence, commands } => {
                        let n = commands.len();
                        self.trace.record(self.now, || TraceKind::Deliver {
                            replica: i,
                            sequence,
                            commands: n,
                        });
                        self.nodes[i as usize].app.deliver(sequence, commands);
                    }
                    Action::TakeSnapshot { sequence } => {
                        let node = &mut self.nodes[i as usize];
                        let snapshot = Snapshot::single(node.app.snapshot());
                        node.consensus.on_snapshot(sequence, snapshot, out);
                        pending.extend(out.drain());
                    }
                    Action::InstallSnapshot { sequence, snapshot } => {
                        self.trace.record(self.now, || TraceKind::Install { replica: i, sequence });
                        // A snapshot that does not install is recorded in the app's errors,
                        // which the conformance checks report.
                        let _ = self.nodes[i as usize].app.install(sequence, snapshot.chunk(0));
                    }
                }
            }
        }
    }

    fn send(&mut self, from: ReplicaIndex, to: ReplicaIndex, msg: C::Message) {
        if to as usize >= self.nodes.len() {
            return;
        }
        let msgs = match self.interceptors.get_mut(&from) {
            Some(f) => f(to, msg),
            None => vec![msg],
        };
        for msg in msgs {
            if self.partitioned(from, to) {
                self.drop_trace(from, to, &msg, "partition");
                continue;
            }
            match self.network.delays(from, to, &mut self.rng) {
                None => self.drop_trace(from, to, &msg, "loss"),
                Some(delays) => {
                    for d in delays {
                        self.messages_sent += 1;
                        self.schedule(self.now + d, Event::Message { from, to, msg: msg.clone() });
                    }
                }
            }
        }
    }
}
