//! The load controller: a sans-IO state machine that decides what each client sends and
//! when, and keeps the [`Record`]s, so the simulator and the QUIC runner drive exactly the
//! same workload (the simulator on virtual time, QUIC on wall time).
//!
//! A run is: setup (every client creates its first pool of objects; not timed), then
//! warm-up (sent, not measured), then the measured window, then a drain (nothing new is
//! sent; outcomes of measured transactions are awaited, for at most `drain`). Closed loop:
//! each client has one transaction outstanding at a time. Open loop: arrivals are a
//! Poisson process at the configured rate, handed to clients in turn; arrivals that
//! cannot be sent yet (too many in flight, or no objects until a refill lands) wait in a
//! backlog, and their latency still counts from their arrival.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chainspace_core::order::{IdentifiedOrder, OrderRequest};
use chainspace_core::transaction::{Transaction, TransactionRequest, TxId};
use chainspace_core::types::ShardId;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{Load, Workload, WorkloadKind};
use crate::record::{Record, Records};
use crate::workload::{Generator, Planned};

/// A transaction (or command) to submit now.
#[derive(Clone, Debug)]
pub struct Send {
    /// The client that sends it.
    pub client: usize,
    /// Its ID.
    pub id: TxId,
    /// What is sent.
    pub payload: Payload,
}

/// What a client sends.
#[derive(Clone, Debug)]
pub enum Payload {
    /// A transaction, through S-BAC.
    Transaction(TransactionRequest),
    /// A command for the consensus-only workload, with its ID (computed once, here).
    Command(IdentifiedOrder),
}

/// The commands of the consensus-only workload: each unique (client and counter in its
/// first bytes), of the configured size, spread over the shards in turn.
struct Commands {
    bytes: usize,
    shards: u32,
    sent: Vec<u64>,
}

impl Commands {
    fn next(&mut self, client: usize) -> OrderRequest {
        let n = self.sent[client];
        self.sent[client] += 1;
        let mut payload = vec![0u8; self.bytes];
        let head = [(client as u64).to_le_bytes(), n.to_le_bytes()].concat();
        let len = head.len().min(self.bytes);
        payload[..len].copy_from_slice(&head[..len]);
        for (i, b) in payload.iter_mut().enumerate().skip(len) {
            *b = (i as u64 ^ n) as u8;
        }
        let shard = ShardId(((client as u64 + n) % u64::from(self.shards)) as u32);
        OrderRequest { shard, payload }
    }
}

/// One unit of workload: a planned transaction or a command.
enum Work {
    Tx(Planned),
    Command(OrderRequest),
}

/// Setup creates outstanding at most. Hundreds of creates of hundreds of objects each,
/// all at once, make consensus batches of many megabytes; measured on a 2 x 4 PBFT
/// cluster over QUIC, 384 at once grew the process by 450 MB/s until it was killed (see
/// the note in BENCHMARKS.md).
pub const SETUP_IN_FLIGHT: usize = 16;

enum Kind {
    Refill(Transaction),
    /// Warm-up, or the drain: not measured. The planned transaction, if it was one (the
    /// generator is told how it ended).
    Unmeasured(Option<Planned>),
    Measured(Option<Planned>, usize),
}

struct Pending {
    client: usize,
    kind: Kind,
}

/// The controller of one run.
pub struct Controller {
    generator: Generator,
    /// The consensus-only workload's commands (no objects, no setup, no refills).
    commands: Option<Commands>,
    load: Load,
    clients: usize,
    prefill: usize,
    setup_queue: VecDeque<(usize, Transaction)>,
    warmup: Duration,
    window_end: Duration,
    count: Option<u64>,
    drain: Duration,
    max_in_flight: usize,
    rng: ChaCha8Rng,
    next_arrival: Duration,
    arrivals: u64,
    backlog: VecDeque<(Duration, usize)>,
    busy: Vec<bool>,
    pending: HashMap<TxId, Pending>,
    in_flight: usize,
    measured: u64,
    stopped_at: Option<Duration>,
    committed: u64,
    /// Every measured transaction, in the order sent.
    pub records: Records,
    /// Refills sent (setup included), and how many committed.
    pub refills: (u64, u64),
    /// Refills sent once the run proper began (warm-up and measured window): they
    /// compete with the measured transactions, so the summary says when there were any.
    pub refills_in_run: u64,
    /// Whether the run proper began ([`Controller::poll`] was called).
    running: bool,
    /// Why refills aborted, by reason.
    pub refill_aborts: std::collections::BTreeMap<String, u64>,
}

impl Controller {
    /// The controller of workload `w` on `shards` shards.
    pub fn new(w: &Workload, shards: u32, seed: u64) -> Self {
        let drain = w.duration.clamp(Duration::from_secs(5), Duration::from_secs(30));
        Controller {
            generator: Generator::new(w, shards, seed),
            commands: match w.kind {
                WorkloadKind::Sbac => None,
                WorkloadKind::Consensus { command_bytes } => {
                    Some(Commands { bytes: command_bytes, shards, sent: vec![0; w.clients] })
                }
            },
            load: w.load,
            clients: w.clients,
            prefill: w.prefill,
            setup_queue: VecDeque::new(),
            warmup: w.warmup,
            window_end: w.warmup + w.duration,
            count: w.transactions,
            drain,
            max_in_flight: w.max_in_flight,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0xa771_7a15),
            next_arrival: Duration::ZERO,
            arrivals: 0,
            backlog: VecDeque::new(),
            busy: vec![false; w.clients],
            pending: HashMap::new(),
            in_flight: 0,
            measured: 0,
            stopped_at: None,
            committed: 0,
            records: Records::default(),
            refills: (0, 0),
            refills_in_run: 0,
            running: false,
            refill_aborts: Default::default(),
        }
    }

    /// The setup: every client's first objects (`workload.prefill`, at least a pool),
    /// at most [`SETUP_IN_FLIGHT`] creates at a time; [`Controller::poll_setup`] sends
    /// the rest as these finish.
    pub fn setup(&mut self) -> Vec<Send> {
        if self.commands.is_some() {
            return Vec::new();
        }
        for c in 0..self.clients {
            for tx in self.generator.prefill(c, self.prefill) {
                self.setup_queue.push_back((c, tx));
            }
        }
        self.poll_setup()
    }

    /// During setup: more of the setup's creates as earlier ones finish, and refills for
    /// clients whose creates aborted.
    pub fn poll_setup(&mut self) -> Vec<Send> {
        let mut out = Vec::new();
        while self.pending.len() < SETUP_IN_FLIGHT {
            let Some((c, tx)) = self.setup_queue.pop_front() else { break };
            self.send_create(c, tx, &mut out);
        }
        if self.setup_queue.is_empty() {
            for c in 0..self.clients {
                self.refill(c, &mut out);
            }
        }
        out
    }

    /// Measured transactions committed so far.
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// Whether setup is over: every create sent and finished.
    pub fn setup_done(&self) -> bool {
        self.pending.is_empty() && self.setup_queue.is_empty()
    }

    fn refill(&mut self, c: usize, out: &mut Vec<Send>) {
        if self.commands.is_some() {
            return;
        }
        if let Some(tx) = self.generator.refill(c) {
            self.send_create(c, tx, out);
        }
    }

    /// Send client `c`'s create `tx` (setup or refill), outside the measurements.
    fn send_create(&mut self, c: usize, tx: Transaction, out: &mut Vec<Send>) {
        self.refills.0 += 1;
        if self.running {
            self.refills_in_run += 1;
        }
        let id = tx.digest();
        let request = TransactionRequest { transaction: tx.clone(), store: Default::default() };
        self.pending.insert(id, Pending { client: c, kind: Kind::Refill(tx) });
        out.push(Send { client: c, id, payload: Payload::Transaction(request) });
    }

    fn stopped(&mut self, now: Duration) -> bool {
        if self.stopped_at.is_none() && now >= self.window_end {
            self.stopped_at = Some(self.window_end);
            self.close_backlog();
        }
        self.stopped_at.is_some()
    }

    /// The window closed: arrivals of it still waiting are recorded, unsent and
    /// unfinished, so that a saturated system shows in the results instead of dropping
    /// its slowest transactions from them.
    fn close_backlog(&mut self) {
        for (scheduled, c) in std::mem::take(&mut self.backlog) {
            if scheduled >= self.warmup && self.count.is_none_or(|n| self.measured < n) {
                self.measured += 1;
                self.records.push(Record {
                    client: c,
                    id: None,
                    scheduled,
                    sent: None,
                    done: None,
                    abort: None,
                    cross_shard: false,
                    conflict: false,
                });
            }
        }
    }

    /// Send `p` from `c`, scheduled at `scheduled`.
    fn send(&mut self, c: usize, p: Work, scheduled: Duration, now: Duration, out: &mut Vec<Send>) {
        let (id, payload, cross_shard, conflict, planned) = match p {
            Work::Tx(p) => {
                let request = TransactionRequest {
                    transaction: p.tx.clone(),
                    store: p.reads.iter().map(|o| (o.id, o.value.clone())).collect(),
                };
                let (cross_shard, conflict) = (p.cross_shard, p.conflict);
                (p.tx.digest(), Payload::Transaction(request), cross_shard, conflict, Some(p))
            }
            // The command itself is not kept: nothing is done with it after its outcome.
            Work::Command(o) => {
                let o = IdentifiedOrder::new(o);
                (o.id(), Payload::Command(o), false, false, None)
            }
        };
        let kind = if scheduled >= self.warmup && self.stopped_at.is_none() {
            self.measured += 1;
            if self.count.is_some_and(|n| self.measured >= n) {
                self.stopped_at = Some(now.max(self.warmup));
                self.backlog.clear();
            }
            self.records.push(Record {
                client: c,
                id: Some(id),
                scheduled,
                sent: Some(now),
                done: None,
                abort: None,
                cross_shard,
                conflict,
            });
            Kind::Measured(planned, self.records.len() - 1)
        } else {
            Kind::Unmeasured(planned)
        };
        self.in_flight += 1;
        self.pending.insert(id, Pending { client: c, kind });
        out.push(Send { client: c, id, payload });
    }

    /// What to send at `now` (time since the run started, after setup).
    pub fn poll(&mut self, now: Duration) -> Vec<Send> {
        self.running = true;
        let mut out = Vec::new();
        for c in 0..self.clients {
            self.refill(c, &mut out);
        }
        if self.stopped_at.is_some() {
            return out;
        }
        let load = self.load;
        match load {
            Load::Closed if self.stopped(now) => {}
            Load::Closed => {
                for c in 0..self.clients {
                    if self.busy[c] || self.stopped_at.is_some() {
                        continue;
                    }
                    if let Some(p) = self.next_work(c) {
                        self.busy[c] = true;
                        self.send(c, p, now, now, &mut out);
                    }
                }
            }
            Load::Open { rate } => {
                while self.next_arrival <= now && self.next_arrival < self.window_end {
                    let c = (self.arrivals % self.clients as u64) as usize;
                    self.arrivals += 1;
                    self.backlog.push_back((self.next_arrival, c));
                    // Exponential inter-arrival times: a Poisson process.
                    let u: f64 = self.rng.random_range(f64::EPSILON..1.0);
                    self.next_arrival += Duration::from_secs_f64(-u.ln() / rate);
                }
                while self.in_flight < self.max_in_flight {
                    let Some(&(scheduled, c)) = self.backlog.front() else { break };
                    // The arrival's client, or any other with objects to spend.
                    let clients = self.clients;
                    let found = (0..clients)
                        .map(|k| (c + k) % clients)
                        .find_map(|c| self.next_work(c).map(|p| (c, p)));
                    let Some((c, p)) = found else { break };
                    self.backlog.pop_front();
                    self.send(c, p, scheduled, now, &mut out);
                    if self.stopped_at.is_some() {
                        break;
                    }
                }
                // Only now: arrivals of the window that could still be sent above were.
                self.stopped(now);
            }
        }
        out
    }

    /// Client `c`'s next transaction or command, if it has what it needs to send one.
    fn next_work(&mut self, c: usize) -> Option<Work> {
        match &mut self.commands {
            Some(commands) => Some(Work::Command(commands.next(c))),
            None => self.generator.next(c).map(Work::Tx),
        }
    }

    /// When the controller next has something to do unprompted (an open-loop arrival).
    pub fn next_wakeup(&self) -> Option<Duration> {
        match self.load {
            Load::Open { .. } if self.stopped_at.is_none() => Some(self.next_arrival),
            _ => None,
        }
    }

    /// The outcome of `id` arrived at `now`: `None` if committed, else the abort reason.
    /// Unknown IDs (a duplicate report) are ignored.
    pub fn on_outcome(&mut self, now: Duration, id: &TxId, abort: Option<String>) {
        let Some(p) = self.pending.remove(id) else { return };
        let committed = abort.is_none();
        match p.kind {
            Kind::Refill(tx) => {
                self.refills.1 += u64::from(committed);
                if let Some(reason) = &abort {
                    *self.refill_aborts.entry(crate::record::reason_class(reason)).or_insert(0) +=
                        1;
                }
                self.generator.created(p.client, &tx, committed);
            }
            Kind::Unmeasured(planned) => {
                if let Some(planned) = &planned {
                    self.generator.finished(p.client, planned, committed);
                }
                self.in_flight -= 1;
                self.busy[p.client] = false;
            }
            Kind::Measured(planned, i) => {
                if let Some(planned) = &planned {
                    self.generator.finished(p.client, planned, committed);
                }
                self.in_flight -= 1;
                self.busy[p.client] = false;
                self.committed += u64::from(committed);
                let r = &mut self.records[i];
                r.done = Some(now);
                r.abort = abort;
            }
        }
    }

    /// Whether the run is over at `now`: the window closed and every measured transaction
    /// has its outcome, or the drain ran out.
    pub fn done(&mut self, now: Duration) -> bool {
        if !self.stopped(now) {
            return false;
        }
        let end = self.stopped_at.unwrap_or(self.window_end);
        let waiting = self.pending.values().any(|p| matches!(p.kind, Kind::Measured(..)));
        !waiting || now >= end + self.drain
    }

    /// The measured window: `(start, end)` from the start of the run.
    pub fn window(&self) -> (Duration, Duration) {
        (self.warmup, self.stopped_at.unwrap_or(self.window_end).max(self.warmup))
    }

    /// Workload transactions in flight (refills not counted).
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Open-loop arrivals waiting to be sent.
    pub fn backlog(&self) -> usize {
        self.backlog.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(load: Load, clients: usize) -> Workload {
        Workload {
            kind: WorkloadKind::Sbac,
            contract: "dummy".into(),
            inputs: 1,
            outputs: 0,
            cross_shard: 0.0,
            conflict: 0.0,
            clients,
            load,
            duration: Duration::from_secs(2),
            warmup: Duration::from_secs(1),
            transactions: None,
            pool: 1000,
            prefill: 0,
            max_in_flight: 1_000_000,
        }
    }

    fn ready(w: &Workload) -> Controller {
        let mut c = Controller::new(w, 2, 9);
        let mut sends = c.setup();
        while let Some(s) = sends.pop() {
            c.on_outcome(Duration::ZERO, &s.id, None);
            sends.extend(c.poll_setup());
        }
        assert!(c.setup_done());
        c
    }

    #[test]
    fn setup_sends_a_bounded_number_of_creates_at_a_time() {
        let mut w = workload(Load::Closed, 40);
        w.pool = 10;
        w.prefill = 30;
        let mut c = Controller::new(&w, 2, 9);
        let first = c.setup();
        assert_eq!(first.len(), SETUP_IN_FLIGHT);
        assert!(c.poll_setup().is_empty(), "none finished yet");
        let mut total = first.len();
        let mut sends = first;
        while let Some(s) = sends.pop() {
            c.on_outcome(Duration::ZERO, &s.id, None);
            let more = c.poll_setup();
            assert!(more.len() <= 1);
            total += more.len();
            sends.extend(more);
        }
        assert_eq!(total, 40 * 3, "30 objects per client in creates of 10");
        assert!(c.setup_done());
    }

    #[test]
    fn refills_after_setup_are_counted_apart() {
        let mut w = workload(Load::Closed, 1);
        w.pool = 2;
        w.prefill = 2;
        let mut c = ready(&w);
        let setup = c.refills.0;
        assert!(setup >= 1);
        assert_eq!(c.refills_in_run, 0, "setup's creates are not the run's");
        let mut t = Duration::ZERO;
        for _ in 0..20 {
            for s in c.poll(t) {
                c.on_outcome(t, &s.id, None);
            }
            t += Duration::from_millis(10);
        }
        assert!(c.refills_in_run >= 1, "a pool of 2 runs out within 20 transactions");
        assert_eq!(c.refills.0, setup + c.refills_in_run);
    }

    #[test]
    fn closed_loop_keeps_one_outstanding_per_client() {
        let w = workload(Load::Closed, 3);
        let mut c = ready(&w);
        let first = c.poll(Duration::ZERO);
        assert_eq!(first.len(), 3);
        assert!(c.poll(Duration::from_millis(1)).is_empty(), "all busy");
        c.on_outcome(Duration::from_millis(5), &first[1].id, None);
        let next = c.poll(Duration::from_millis(5));
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].client, first[1].client);
        assert!(c.records.is_empty(), "warm-up is not measured");
        // In the window: measured, and the inputs' values travel with the request.
        for s in c.poll(Duration::from_millis(1500)) {
            let _ = s;
        }
        c.on_outcome(Duration::from_millis(1500), &first[0].id, None);
        let measured = c.poll(Duration::from_millis(1500));
        assert_eq!(measured.len(), 1);
        let Payload::Transaction(request) = &measured[0].payload else { panic!("a transaction") };
        assert_eq!(request.store.len(), 1);
        assert_eq!(c.records.len(), 1);
        c.on_outcome(Duration::from_millis(1510), &measured[0].id, Some("no".into()));
        assert_eq!(c.records[0].abort.as_deref(), Some("no"));
        assert_eq!(c.records[0].latency(), Some(Duration::from_millis(10)));
    }

    #[test]
    fn open_loop_arrivals_follow_the_rate_and_latency_counts_from_arrival() {
        let w = workload(Load::Open { rate: 1000.0 }, 4);
        let mut c = ready(&w);
        let mut sent = 0;
        let mut t = Duration::ZERO;
        while t < Duration::from_secs(3) {
            for s in c.poll(t) {
                sent += 1;
                c.on_outcome(t, &s.id, None);
            }
            t += Duration::from_millis(10);
        }
        // 3 s at 1000/s, Poisson: within a few percent.
        assert!((2800..3200).contains(&sent), "{sent}");
        let (start, end) = c.window();
        assert_eq!((start, end), (Duration::from_secs(1), Duration::from_secs(3)));
        assert!((1850..2150).contains(&c.records.len()), "{}", c.records.len());
        // Polled every 10 ms: arrivals wait for the poll, and that wait is latency.
        let max = c.records.iter().filter_map(Record::latency).max().unwrap_or_default();
        assert!(max > Duration::from_millis(5) && max <= Duration::from_millis(10), "{max:?}");
        assert!(c.done(t));
    }

    #[test]
    fn a_count_ends_the_window_and_the_drain_waits_for_outcomes() {
        let mut w = workload(Load::Closed, 2);
        w.transactions = Some(3);
        w.warmup = Duration::ZERO;
        let mut c = ready(&w);
        let mut pending = Vec::new();
        let mut t = Duration::ZERO;
        while c.records.len() < 3 {
            pending.extend(c.poll(t));
            if let Some(s) = pending.pop() {
                c.on_outcome(t, &s.id, None);
            }
            t += Duration::from_millis(1);
        }
        assert!(c.poll(t).is_empty(), "nothing after the count");
        let open = c.records.iter().filter(|r| r.done.is_none()).count();
        assert_eq!(!c.done(t), open > 0);
        assert!(c.done(t + Duration::from_secs(60)), "the drain is bounded");
    }

    #[test]
    fn open_loop_arrivals_left_waiting_at_the_end_count_as_unfinished() {
        let mut w = workload(Load::Open { rate: 1000.0 }, 2);
        w.max_in_flight = 5;
        w.warmup = Duration::ZERO;
        let mut c = ready(&w);
        let mut t = Duration::ZERO;
        let mut sent = 0;
        // Nothing ever finishes: five go out, the rest wait.
        while t <= Duration::from_secs(2) {
            sent += c.poll(t).len();
            t += Duration::from_millis(10);
        }
        assert_eq!(sent, 5);
        assert_eq!(c.backlog(), 0, "the window closed");
        assert!((1800..2200).contains(&c.records.len()), "{}", c.records.len());
        assert_eq!(c.records.iter().filter(|r| r.sent.is_none()).count(), c.records.len() - 5);
        assert!(c.records.iter().all(|r| r.done.is_none()));
    }
}
