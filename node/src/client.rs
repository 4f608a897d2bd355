//! An async client of the platform: the sans-IO [`Submitter`] driven over a [`Transport`].
//!
//! The submitter already knows the client side of S-BAC (which shards to send to, how many
//! matching reports make an outcome, when to re-send); this module gives it a task, real
//! time and a transport (a [`QuicClient`](transport_quic::QuicClient) or a
//! [`MemoryNetwork`](chainspace_core::transport::MemoryNetwork) client endpoint), and turns
//! each submission into a future that resolves with the outcome. Re-sends are driven by
//! the submitter's own timers, so a lost message or a view change only delays the answer.
//!
//! Reads ([`Client::read_object`], [`Client::read_transaction`]) ask every replica of the
//! shard concerned and resolve once `f + 1` of them give the same answer (see [`reads`]),
//! re-asking on the same timers until the caller's bound.
//!
//! A caller that stops waiting (drops the future, or times it out) is not waited for: at
//! the transaction's next re-send the driver sees nobody listens and tells the submitter
//! to forget it ([`Submitter::forget`]), so abandoned submissions do not re-send for ever.
//!
//! The client decodes replies without knowing which consensus protocol the shards run: it
//! only ever sends `Submit` and reads `Outcome`, and their encoding does not depend on the
//! protocol's message type (see [`NoConsensus`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chainspace_core::client::{ClientAction, ClientTimer, Finished, Submitter};
use chainspace_core::committee::Committee;
use chainspace_core::object::{Object, ObjectId};
use chainspace_core::replica::{Addr, AnswerBody, ReplicaMessage, Subject};
use chainspace_core::sbac::engine::TxRecord;
use chainspace_core::shard::shard_of;
use chainspace_core::transaction::{TransactionRequest, TxId};
use chainspace_core::transport::Transport;
use chainspace_core::types::{ReplicaId, ShardId};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::NodeError;
use crate::timers::{TimerQueue, sleep_until};

mod reads;
use reads::Reads;

/// The consensus message type of a client, which never sends or reads one. A message whose
/// variant is `Consensus` does not decode (there is no value of this type), while the
/// variants a client uses encode exactly as for any protocol: postcard writes an enum as
/// its variant index followed by that variant's fields only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoConsensus {}

/// A message as a client sends and receives it.
pub type ClientMessage = ReplicaMessage<NoConsensus>;

/// How a client behaves.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// How long to wait for an outcome before re-sending (doubling each time, up to 16
    /// times this); reads re-ask at this pace too.
    pub retry_after: Duration,
    /// How long a read may wait for `f + 1` matching answers before it fails with
    /// [`NodeError::ReadTimeout`]: a read is cheap to repeat, so it gives up rather than
    /// hang on a shard that cannot answer.
    pub read_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            retry_after: Duration::from_millis(500),
            read_timeout: Duration::from_secs(5),
        }
    }
}

/// Counters of one client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Transactions submitted.
    pub submitted: u64,
    /// Outcomes learnt.
    pub finished: u64,
    /// Transactions given up because nobody waited for them any more.
    pub forgotten: u64,
    /// Reads started (one per shard asked).
    pub reads: u64,
    /// Reads resolved by `f + 1` matching answers.
    pub reads_resolved: u64,
    /// Messages sent (one per replica per send round).
    pub messages_out: u64,
    /// Sends the transport refused.
    pub send_errors: u64,
    /// Replies received and decoded.
    pub messages_in: u64,
    /// Replies that did not decode, or that were neither outcomes nor answers.
    pub bad_replies: u64,
}

struct Submit {
    request: TransactionRequest,
    instance: u64,
    reply: oneshot::Sender<Finished>,
}

struct Read {
    subject: Subject,
    shard: ShardId,
    need: usize,
    reply: oneshot::Sender<AnswerBody>,
}

/// What a [`Client`] asks its driver task.
enum Command {
    Submit(Submit),
    Read(Read),
}

/// The driver's timers: the submitter's own, and re-asking an open read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum DriverTimer {
    Submit(ClientTimer),
    Read(u64),
}

/// A running client. Cloning is cheap; every clone submits through the same task, which
/// stops when [`Client::shutdown`] is called or every clone is dropped.
#[derive(Clone)]
pub struct Client {
    commands: mpsc::UnboundedSender<Command>,
    committee: Committee,
    read_timeout: Duration,
    stats: Arc<Mutex<ClientStats>>,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Client {
    /// Start a client of `committee` over `transport`. Must be called inside a tokio
    /// runtime.
    pub fn spawn<T: Transport + ?Sized + 'static>(
        committee: Committee,
        transport: Arc<T>,
        config: ClientConfig,
    ) -> Client {
        let (commands, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Mutex::new(ClientStats::default()));
        let driver = Driver {
            submitter: Submitter::new(committee.clone(), config.retry_after),
            committee: committee.clone(),
            retry_after: config.retry_after,
            transport,
            timers: TimerQueue::new(),
            waiters: HashMap::new(),
            reads: Reads::default(),
            stats: stats.clone(),
        };
        let task = tokio::spawn(driver.run(rx));
        let task = Arc::new(Mutex::new(Some(task)));
        Client { commands, committee, read_timeout: config.read_timeout, stats, task }
    }

    /// The committee this client talks to.
    pub fn committee(&self) -> &Committee {
        &self.committee
    }

    /// Submit `request` (first attempt) and wait for its outcome: a commit from every
    /// involved shard, or an abort from one. The caller bounds the wait (e.g. with
    /// `tokio::time::timeout`); until then the client re-sends on its timers, and once the
    /// caller stops waiting the client stops re-sending.
    pub async fn submit(&self, request: TransactionRequest) -> Result<Finished, NodeError> {
        self.submit_attempt(request, 1).await
    }

    /// Submit `request` as attempt `instance` (one more than the attempt that aborted).
    pub async fn submit_attempt(
        &self,
        request: TransactionRequest,
        instance: u64,
    ) -> Result<Finished, NodeError> {
        let (reply, rx) = oneshot::channel();
        let submit = Submit { request, instance, reply };
        self.commands.send(Command::Submit(submit)).map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())
    }

    /// Read object `id` from its shard: `None` if `f + 1` replicas agree they do not hold
    /// it. The object comes with its status (active, locked or inactive) and the shard that
    /// manages it.
    pub async fn read_object(&self, id: ObjectId) -> Result<Option<(Object, ShardId)>, NodeError> {
        let shard = shard_of(&id, self.committee.num_shards());
        match self.read(Subject::Object(id), shard).await? {
            AnswerBody::Object(_, object) => Ok(object.map(|o| (o, shard))),
            _ => Err(stopped()),
        }
    }

    /// Read every shard's record of transaction `tx`, asking all shards at once (a digest
    /// does not say which shards a transaction involves). A shard without a record maps
    /// to `None`: it is not involved, or has not heard of `tx` yet.
    pub async fn read_transaction(
        &self,
        tx: TxId,
    ) -> Result<BTreeMap<ShardId, Option<TxRecord>>, NodeError> {
        // One task per shard, so that every shard is asked at once and the wait is the
        // slowest shard's, not the sum.
        let reads: Vec<_> = (0..self.committee.num_shards())
            .map(ShardId)
            .map(|shard| {
                let client = self.clone();
                tokio::spawn(
                    async move { (shard, client.read(Subject::Transaction(tx), shard).await) },
                )
            })
            .collect();
        let mut records = BTreeMap::new();
        for read in reads {
            let (shard, answer) = read.await.map_err(|_| stopped())?;
            match answer? {
                AnswerBody::Transaction(_, record) => records.insert(shard, record),
                _ => return Err(stopped()),
            };
        }
        Ok(records)
    }

    /// Ask every replica of `shard` about `subject` until `f + 1` agree, at most the
    /// configured read timeout.
    async fn read(&self, subject: Subject, shard: ShardId) -> Result<AnswerBody, NodeError> {
        let committee = self.committee.shard(shard).ok_or_else(stopped)?;
        let need = committee.weak_quorum();
        let (reply, rx) = oneshot::channel();
        let read = Read { subject, shard, need, reply };
        self.commands.send(Command::Read(read)).map_err(|_| stopped())?;
        match tokio::time::timeout(self.read_timeout, rx).await {
            Ok(Ok(body)) => Ok(body),
            Ok(Err(_)) => Err(stopped()),
            Err(_) => Err(NodeError::ReadTimeout { shard, need, after: self.read_timeout }),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> ClientStats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stop the client (for every clone) and close its transport. Pending submissions
    /// resolve with [`NodeError::Stopped`].
    pub async fn shutdown(&self) {
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }
}

fn stopped() -> NodeError {
    NodeError::Stopped { what: "client" }
}

struct Driver<T: ?Sized> {
    submitter: Submitter,
    committee: Committee,
    retry_after: Duration,
    transport: Arc<T>,
    timers: TimerQueue<DriverTimer>,
    /// Who waits for each transaction's outcome.
    waiters: HashMap<TxId, Vec<oneshot::Sender<Finished>>>,
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
                    Some(Command::Submit(s)) => self.on_submit(s).await,
                    Some(Command::Read(r)) => self.on_read(r).await,
                    None => break,
                },
                () = sleep_until(deadline) => {
                    for timer in self.timers.take_due(Instant::now()) {
                        self.on_timer(timer).await;
                    }
                }
                received = transport.recv() => match received {
                    Ok((from, bytes)) => self.on_bytes(from, &bytes).await,
                    Err(e) => {
                        tracing::info!(error = %e, "client transport closed; stopping");
                        break;
                    }
                },
            }
        }
    }

    async fn on_submit(&mut self, s: Submit) {
        let mut out = Vec::new();
        let tx = self.submitter.submit(s.request, s.instance, &mut out);
        self.waiters.entry(tx).or_default().push(s.reply);
        self.bump(|st| st.submitted += 1);
        self.carry_out(out).await;
    }

    async fn on_read(&mut self, r: Read) {
        let query = self.reads.open(r.subject, r.shard, r.need, r.reply);
        self.bump(|st| st.reads += 1);
        self.ask(r.shard, query).await;
    }

    /// Send `query` to every replica of `shard`, and re-ask later if it is still open.
    async fn ask(&mut self, shard: ShardId, query: chainspace_core::replica::Query) {
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
                Ok(m @ (ReplicaMessage::Outcome(_) | ReplicaMessage::Answer(_))),
            ) => (r, m),
            (_, Ok(_)) | (_, Err(_)) => {
                self.bump(|st| st.bad_replies += 1);
                tracing::debug!(?from, len = bytes.len(), "reply that is not an outcome dropped");
                return;
            }
        };
        self.bump(|st| st.messages_in += 1);
        let report = match message {
            ReplicaMessage::Outcome(report) => report,
            ReplicaMessage::Answer(answer) => {
                if self.reads.on_answer(from, answer) {
                    self.bump(|st| st.reads_resolved += 1);
                }
                return;
            }
            _ => return,
        };
        let mut out = Vec::new();
        self.submitter.on_report(from, report, &mut out);
        self.carry_out(out).await;
        for finished in self.submitter.take_finished() {
            self.bump(|st| st.finished += 1);
            for waiter in self.waiters.remove(&finished.tx).unwrap_or_default() {
                let _ = waiter.send(finished.clone());
            }
        }
    }

    async fn carry_out(&mut self, out: Vec<ClientAction>) {
        for action in out {
            match action {
                ClientAction::Send { to, submission } => {
                    let msg: ClientMessage = ReplicaMessage::Submit(submission);
                    let sent = match postcard::to_allocvec(&msg) {
                        Ok(bytes) => self.transport.send(Addr::Replica(to), bytes).await.is_ok(),
                        Err(_) => false,
                    };
                    self.bump(|st| if sent { st.messages_out += 1 } else { st.send_errors += 1 });
                }
                ClientAction::SetTimer { timer, after } => {
                    self.timers.set(DriverTimer::Submit(timer), after)
                }
                ClientAction::CancelTimer { timer } => {
                    self.timers.cancel(&DriverTimer::Submit(timer))
                }
            }
        }
    }

    fn bump(&self, f: impl FnOnce(&mut ClientStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainspace_core::sbac::{Outcome, OutcomeReport, Submission};
    use chainspace_core::types::ShardId;
    use consensus_any::AnyMessage;

    /// What replicas send and read, for some protocol.
    type Wire = ReplicaMessage<AnyMessage>;

    #[test]
    fn client_messages_encode_as_any_protocols_do() {
        let request = TransactionRequest {
            transaction: chainspace_contracts::addition::init(),
            store: Default::default(),
        };
        let submission = Submission { request, instance: 1 };
        let ours = postcard::to_allocvec(&ClientMessage::Submit(submission.clone())).unwrap();
        let theirs = postcard::to_allocvec(&Wire::Submit(submission)).unwrap();
        assert_eq!(ours, theirs);

        let tx = chainspace_contracts::addition::init().digest();
        let report = OutcomeReport { tx, instance: 1, shard: ShardId(1), outcome: Outcome::Commit };
        let bytes = postcard::to_allocvec(&Wire::Outcome(report.clone())).unwrap();
        assert_eq!(
            postcard::from_bytes::<ClientMessage>(&bytes).unwrap(),
            ClientMessage::Outcome(report)
        );
        // A consensus message cannot be read as a client message: it is an error, not a panic.
        assert!(postcard::from_bytes::<ClientMessage>(&[0, 0, 0]).is_err());
    }
}
