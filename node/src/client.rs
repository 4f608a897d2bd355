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

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use chainspace_core::client::Finished;
use chainspace_core::committee::Committee;
use chainspace_core::object::{Object, ObjectId};
use chainspace_core::order::{IdentifiedOrder, OrderRequest};
use chainspace_core::replica::{AnswerBody, ReplicaMessage, Subject};
use chainspace_core::sbac::engine::TxRecord;
use chainspace_core::shard::shard_of;
use chainspace_core::transaction::{TransactionRequest, TxId};
use chainspace_core::transport::Transport;
use chainspace_core::types::ShardId;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::NodeError;

mod driver;
mod reads;
use driver::{Command, Read, Submit, Waiter};

/// Where the outcomes of requests handed over with [`Client::submit_many_to`] or
/// [`Client::order_many_to`] go: one sink for many requests, told of each outcome by the
/// client's task as it arrives, with the instant it arrived. A load generator with
/// hundreds of requests in flight otherwise holds a [`Pending`] future per request, each
/// a channel of its own that must be polled (about 2% of a consensus-only run's CPU went
/// to those futures and the task that awaited them).
pub trait OutcomeSink: Send + Sync + 'static {
    /// `finished` arrived at `at`.
    fn finished(&self, finished: Finished, at: std::time::Instant);
    /// Whether nobody listens any more: the client then forgets the sink's requests at
    /// their next re-send, as it does a request whose [`Pending`] was dropped.
    fn is_closed(&self) -> bool;
}

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
        let task = driver::spawn(committee.clone(), transport, &config, stats.clone(), rx);
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
        self.request(|reply| Command::Submit(Submit { request, instance, reply }))?.await
    }

    /// Have `request` ordered by its shard (the consensus-only workload,
    /// [`chainspace_core::order`]; the replicas must serve it) and wait until `f + 1` of its
    /// replicas report it ordered. The caller bounds the wait, as for [`Client::submit`].
    pub async fn order(&self, request: OrderRequest) -> Result<Finished, NodeError> {
        self.request(|reply| Command::Order(request.into(), reply))?.await
    }

    /// Hand the client's task the command `make` builds around where its outcome goes.
    fn request(&self, make: impl FnOnce(Waiter) -> Command) -> Result<Pending, NodeError> {
        let (reply, rx) = oneshot::channel();
        self.commands.send(make(Waiter::Once(reply))).map_err(|_| stopped())?;
        Ok(Pending(rx))
    }

    /// Submit several transactions (first attempts) at once; one [`Pending`] outcome per
    /// request, in order. Unlike as many [`Client::submit`] calls from as many tasks (each
    /// of which wakes the client's task on its own), these are taken in one wake-up, so
    /// what they send to one replica is written together (shares packets; commands of
    /// [`Client::order_many`] share one message): a load generator that starts many
    /// requests at one instant should use this.
    pub fn submit_many(
        &self,
        requests: impl IntoIterator<Item = TransactionRequest>,
    ) -> Result<Vec<Pending>, NodeError> {
        self.many(requests, |request, reply| {
            Command::Submit(Submit { request, instance: 1, reply })
        })
    }

    /// [`Client::order`] for several commands at once, as [`Client::submit_many`] is for
    /// transactions. A caller that knew the commands' IDs already passes
    /// [`IdentifiedOrder`]s, so they are not computed again.
    pub fn order_many<R: Into<IdentifiedOrder>>(
        &self,
        requests: impl IntoIterator<Item = R>,
    ) -> Result<Vec<Pending>, NodeError> {
        self.many(requests, |request, reply| Command::Order(request.into(), reply))
    }

    /// [`Client::submit_many`] with every outcome handed to `sink` as it arrives, instead
    /// of a future per request: for a load generator that waits for many requests at
    /// once, which would otherwise poll a future (and a channel) per request.
    pub fn submit_many_to(
        &self,
        requests: impl IntoIterator<Item = TransactionRequest>,
        sink: &Arc<dyn OutcomeSink>,
    ) -> Result<(), NodeError> {
        self.many_to(requests, sink, |request, reply| {
            Command::Submit(Submit { request, instance: 1, reply })
        })
    }

    /// [`Client::order_many`] with every outcome handed to `sink`, as
    /// [`Client::submit_many_to`] is for transactions.
    pub fn order_many_to<R: Into<IdentifiedOrder>>(
        &self,
        requests: impl IntoIterator<Item = R>,
        sink: &Arc<dyn OutcomeSink>,
    ) -> Result<(), NodeError> {
        self.many_to(requests, sink, |request, reply| Command::Order(request.into(), reply))
    }

    fn many<R>(
        &self,
        requests: impl IntoIterator<Item = R>,
        command: impl Fn(R, Waiter) -> Command,
    ) -> Result<Vec<Pending>, NodeError> {
        let mut commands = Vec::new();
        let mut pending = Vec::new();
        for request in requests {
            let (reply, rx) = oneshot::channel();
            commands.push(command(request, Waiter::Once(reply)));
            pending.push(Pending(rx));
        }
        self.commands.send(Command::Many(commands)).map_err(|_| stopped())?;
        Ok(pending)
    }

    fn many_to<R>(
        &self,
        requests: impl IntoIterator<Item = R>,
        sink: &Arc<dyn OutcomeSink>,
        command: impl Fn(R, Waiter) -> Command,
    ) -> Result<(), NodeError> {
        let commands =
            requests.into_iter().map(|r| command(r, Waiter::Sink(sink.clone()))).collect();
        self.commands.send(Command::Many(commands)).map_err(|_| stopped())
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
        let all: Vec<ShardId> = (0..self.committee.num_shards()).map(ShardId).collect();
        self.read_transaction_on(tx, &all).await
    }

    /// Read the records of transaction `tx` held by `shards` (for a transaction at hand,
    /// its concerned shards), each answered by `f + 1` replicas.
    pub async fn read_transaction_on(
        &self,
        tx: TxId,
        shards: &[ShardId],
    ) -> Result<BTreeMap<ShardId, Option<TxRecord>>, NodeError> {
        // One task per shard, so that every shard is asked at once and the wait is the
        // slowest shard's, not the sum.
        let reads: Vec<_> = shards
            .iter()
            .copied()
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

/// The outcome of one request of [`Client::submit_many`] or [`Client::order_many`]: a
/// future, bounded by the caller as for [`Client::submit`] (dropping it stops the re-sends).
#[must_use = "dropping it gives the request up"]
pub struct Pending(oneshot::Receiver<Finished>);

impl Future for Pending {
    type Output = Result<Finished, NodeError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|r| r.map_err(|_| stopped()))
    }
}

fn stopped() -> NodeError {
    NodeError::Stopped { what: "client" }
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
        let order = OrderRequest { shard: ShardId(0), payload: vec![5; 512] };
        let ours = postcard::to_allocvec(&ClientMessage::Order(order.clone())).unwrap();
        assert_eq!(ours, postcard::to_allocvec(&Wire::Order(order)).unwrap());

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
