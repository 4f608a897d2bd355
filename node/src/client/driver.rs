//! The client's task: one loop that owns the [`Submitter`], the open reads and the
//! transport, so that every clone of a [`Client`](super::Client) shares one set of
//! connections and no state needs a lock. It turns commands into messages, replies into
//! outcomes and answers, and timers into re-sends; a submission or read whose caller has
//! stopped waiting is dropped at its next re-send instead of being re-sent for ever.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chainspace_core::client::{ClientAction, ClientTimer, Finished, Submitter};
use chainspace_core::committee::Committee;
use chainspace_core::crypto::DigestBuildHasher;
use chainspace_core::order::{IdentifiedOrder, OrderRequest};
use chainspace_core::replica::{Addr, AnswerBody, MAX_ORDERS, Query, ReplicaMessage, Subject};
use chainspace_core::transaction::{TransactionRequest, TxId};
use chainspace_core::transport::Transport;
use chainspace_core::types::{ReplicaId, ShardId};
use smallvec::SmallVec;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::reads::Reads;
use super::{ClientConfig, ClientMessage, ClientStats, OutcomeSink};
use crate::timers::{TimerQueue, sleep_until};

/// Most commands taken from the queue before what they send goes out.
const COMMANDS_AT_ONCE: usize = 1024;

/// A submission, with where to send its outcome.
pub(super) struct Submit {
    pub(super) request: TransactionRequest,
    pub(super) instance: u64,
    pub(super) reply: Waiter,
}

/// Who waits for a request's outcome: one caller's future, or a sink that many requests'
/// outcomes share ([`OutcomeSink`]).
pub(super) enum Waiter {
    Once(oneshot::Sender<Finished>),
    Sink(Arc<dyn OutcomeSink>),
}

impl Waiter {
    /// Whether nobody listens any more.
    fn is_closed(&self) -> bool {
        match self {
            Waiter::Once(reply) => reply.is_closed(),
            Waiter::Sink(sink) => sink.is_closed(),
        }
    }

    /// Hand over the outcome, which arrived at `at`.
    fn send(self, finished: Finished, at: std::time::Instant) {
        match self {
            Waiter::Once(reply) => {
                let _ = reply.send(finished);
            }
            Waiter::Sink(sink) => sink.finished(finished, at),
        }
    }
}

/// A read of one shard: `need` is its `f + 1`, computed by the caller from the committee.
pub(super) struct Read {
    pub(super) subject: Subject,
    pub(super) shard: ShardId,
    pub(super) need: usize,
    pub(super) reply: oneshot::Sender<AnswerBody>,
}

/// What a [`Client`](super::Client) asks its driver task.
pub(super) enum Command {
    Submit(Submit),
    /// A command of the consensus-only workload, with where to say it was ordered.
    Order(IdentifiedOrder, Waiter),
    Read(Read),
    /// Several at once ([`Client::submit_many`](super::Client::submit_many)), taken
    /// together whatever else is queued.
    Many(Vec<Command>),
}

/// The driver's timers: the submitter's own, and re-asking an open read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum DriverTimer {
    Submit(ClientTimer),
    Read(u64),
}

/// Start the task of a client of `committee` over `transport`, taking `commands`.
pub(super) fn spawn<T: Transport + ?Sized + 'static>(
    committee: Committee,
    transport: Arc<T>,
    config: &ClientConfig,
    stats: Arc<Mutex<ClientStats>>,
    commands: mpsc::UnboundedReceiver<Command>,
) -> JoinHandle<()> {
    let driver = Driver {
        submitter: Submitter::new(committee.clone(), config.retry_after),
        committee,
        retry_after: config.retry_after,
        transport,
        timers: TimerQueue::new(),
        waiters: HashMap::default(),
        reads: Reads::default(),
        stats,
    };
    tokio::spawn(driver.run(commands))
}

/// The task's state; see the module docs.
struct Driver<T: ?Sized> {
    submitter: Submitter,
    committee: Committee,
    retry_after: Duration,
    transport: Arc<T>,
    timers: TimerQueue<DriverTimer>,
    /// Who waits for each transaction's outcome: almost always one caller, kept inline.
    waiters: HashMap<TxId, SmallVec<[Waiter; 1]>, DigestBuildHasher>,
    reads: Reads,
    stats: Arc<Mutex<ClientStats>>,
}

/// Closes the transport however the driver ends (stopped, aborted, or its handles gone).
struct CloseOnDrop<T: Transport + ?Sized>(Arc<T>);

impl<T: Transport + ?Sized> Drop for CloseOnDrop<T> {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl<T: Transport + ?Sized + 'static> Driver<T> {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let transport = self.transport.clone();
        let _close = CloseOnDrop(transport.clone());
        loop {
            let deadline = self.timers.next_deadline();
            tokio::select! {
                biased;
                command = commands.recv() => match command {
                    Some(first) => self.on_commands(first, &mut commands).await,
                    None => break,
                },
                () = sleep_until(deadline) => {
                    for timer in self.timers.take_due(Instant::now()) {
                        self.on_timer(timer).await;
                    }
                }
                received = transport.recv() => match received {
                    Ok((from, bytes)) => {
                        self.on_bytes(from, &bytes).await;
                        // The replies queued behind it, in this wake-up (a bounded burst).
                        for _ in 1..crate::runtime::DRAIN {
                            let Some((from, bytes)) = transport.try_recv() else { break };
                            self.on_bytes(from, &bytes).await;
                        }
                    }
                    Err(e) => {
                        tracing::info!(error = %e, "client transport closed; stopping");
                        break;
                    }
                },
            }
        }
    }

    /// `first` and the commands already waiting behind it (up to [`COMMANDS_AT_ONCE`]),
    /// so that what they send to one replica goes out in one message.
    async fn on_commands(
        &mut self,
        first: Command,
        commands: &mut mpsc::UnboundedReceiver<Command>,
    ) {
        let mut out = Vec::new();
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(command) = next.take() {
            taken += self.take(command, &mut out).await;
            if taken < COMMANDS_AT_ONCE {
                next = commands.try_recv().ok();
            }
        }
        self.carry_out(out).await;
    }

    /// Take `command` (what it sends goes to `out`); returns how many requests it held.
    async fn take(&mut self, command: Command, out: &mut Vec<ClientAction>) -> usize {
        match command {
            Command::Read(r) => self.on_read(r).await,
            Command::Many(list) => {
                let n = list.len();
                for command in list {
                    // Requests are taken in place; only a read awaits, and the client's
                    // handles never nest `Many` (boxed if one did: a recursive future).
                    match self.take_request(command, out) {
                        None => {}
                        Some(Command::Read(r)) => self.on_read(r).await,
                        Some(other) => {
                            Box::pin(self.take(other, out)).await;
                        }
                    }
                }
                return n;
            }
            request => {
                self.take_request(request, out);
            }
        }
        1
    }

    /// Take a submission or an order; anything else is handed back.
    fn take_request(&mut self, command: Command, out: &mut Vec<ClientAction>) -> Option<Command> {
        let (tx, reply) = match command {
            Command::Submit(s) => (self.submitter.submit(s.request, s.instance, out), s.reply),
            Command::Order(request, reply) => (self.submitter.order(request, out), reply),
            other => return Some(other),
        };
        self.waiters.entry(tx).or_default().push(reply);
        self.bump(|st| st.submitted += 1);
        None
    }

    async fn on_read(&mut self, r: Read) {
        let query = self.reads.open(r.subject, r.shard, r.need, r.reply);
        self.bump(|st| st.reads += 1);
        self.ask(r.shard, query).await;
    }

    /// Send `query` to every replica of `shard`, and re-ask later if it is still open.
    async fn ask(&mut self, shard: ShardId, query: Query) {
        self.timers.set(DriverTimer::Read(query.id), self.retry_after);
        let Some(members) = self.committee.shard(shard).map(|c| c.indices()) else { return };
        let msg: ClientMessage = ReplicaMessage::Query(query);
        let Ok(bytes) = postcard::to_allocvec(&msg) else { return };
        for index in members {
            let to = Addr::Replica(ReplicaId { shard, index });
            let sent = self.transport.send(to, bytes.clone()).await.is_ok();
            self.bump(|st| if sent { st.messages_out += 1 } else { st.send_errors += 1 });
        }
    }

    async fn on_timer(&mut self, timer: DriverTimer) {
        match timer {
            DriverTimer::Submit(ClientTimer::Retry(tx)) => {
                // Nobody waits any more (the caller timed out or went away): give it up.
                let waiters = self.waiters.entry(tx).or_default();
                waiters.retain(|w| !w.is_closed());
                let mut out = Vec::new();
                if waiters.is_empty() {
                    self.waiters.remove(&tx);
                    if self.submitter.forget(&tx, &mut out) {
                        self.bump(|st| st.forgotten += 1);
                    }
                } else {
                    self.submitter.on_timer(ClientTimer::Retry(tx), &mut out);
                }
                self.carry_out(out).await;
            }
            DriverTimer::Read(id) => {
                if let Some((shard, query)) = self.reads.retry(id) {
                    self.ask(shard, query).await;
                }
            }
        }
    }

    async fn on_bytes(&mut self, from: Addr, bytes: &[u8]) {
        let (from, message) = match (from, postcard::from_bytes::<ClientMessage>(bytes)) {
            (
                Addr::Replica(r),
                Ok(
                    m @ (ReplicaMessage::Outcome(_)
                    | ReplicaMessage::Outcomes(_)
                    | ReplicaMessage::Answer(_)),
                ),
            ) => (r, m),
            (_, Ok(_)) | (_, Err(_)) => {
                self.bump(|st| st.bad_replies += 1);
                tracing::debug!(?from, len = bytes.len(), "reply that is not an outcome dropped");
                return;
            }
        };
        self.bump(|st| st.messages_in += 1);
        let reports = match message {
            ReplicaMessage::Outcome(report) => vec![report],
            ReplicaMessage::Outcomes(reports) => reports,
            ReplicaMessage::Answer(answer) => {
                if self.reads.on_answer(from, answer) {
                    self.bump(|st| st.reads_resolved += 1);
                }
                return;
            }
            _ => return,
        };
        let mut out = Vec::new();
        for report in reports {
            self.submitter.on_report(from, report, &mut out);
        }
        self.carry_out(out).await;
        let finished = self.submitter.take_finished();
        if finished.is_empty() {
            return;
        }
        self.bump(|st| st.finished += finished.len() as u64);
        let at = std::time::Instant::now();
        for f in finished {
            let mut waiters = self.waiters.remove(&f.tx).unwrap_or_default();
            // Each waiter gets the outcome; the last takes the original.
            let last = waiters.pop();
            for waiter in waiters {
                waiter.send(f.clone(), at);
            }
            if let Some(waiter) = last {
                waiter.send(f, at);
            }
        }
    }

    async fn carry_out(&mut self, out: Vec<ClientAction>) {
        // Commands for the same replicas go together, in one message encoded once.
        let mut orders: BTreeMap<SmallVec<[ReplicaId; 4]>, Vec<OrderRequest>> = BTreeMap::new();
        for action in out {
            match action {
                ClientAction::Send { to, submission } => {
                    self.send(to, ReplicaMessage::Submit(submission)).await
                }
                ClientAction::SendOrder { to, request } => {
                    orders.entry(to).or_default().push(request)
                }
                ClientAction::SetTimer { timer, after } => {
                    self.timers.set(DriverTimer::Submit(timer), after)
                }
                ClientAction::CancelTimer { timer } => {
                    self.timers.cancel(&DriverTimer::Submit(timer))
                }
            }
        }
        for (to, mut requests) in orders {
            while !requests.is_empty() {
                let rest = requests.split_off(requests.len().min(MAX_ORDERS));
                let msg: ClientMessage = if requests.len() == 1 {
                    ReplicaMessage::Order(requests.pop().expect("one"))
                } else {
                    ReplicaMessage::Orders(requests)
                };
                match postcard::to_allocvec(&msg) {
                    // Each replica gets the same bytes; the last takes the original.
                    Ok(bytes) => {
                        if let Some((last, others)) = to.split_last() {
                            for r in others {
                                self.send_bytes(*r, bytes.clone()).await;
                            }
                            self.send_bytes(*last, bytes).await;
                        }
                    }
                    Err(_) => self.bump(|st| st.send_errors += to.len() as u64),
                }
                requests = rest;
            }
        }
    }

    async fn send(&mut self, to: ReplicaId, msg: ClientMessage) {
        match postcard::to_allocvec(&msg) {
            Ok(bytes) => self.send_bytes(to, bytes).await,
            Err(_) => self.bump(|st| st.send_errors += 1),
        }
    }

    async fn send_bytes(&mut self, to: ReplicaId, bytes: Vec<u8>) {
        let sent = self.transport.send(Addr::Replica(to), bytes).await.is_ok();
        self.bump(|st| if sent { st.messages_out += 1 } else { st.send_errors += 1 });
    }

    fn bump(&self, f: impl FnOnce(&mut ClientStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }
}
