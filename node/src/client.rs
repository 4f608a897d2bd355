//! An async client of the platform: the sans-IO [`Submitter`] driven over a [`Transport`].
//!
//! The submitter already knows the client side of S-BAC (which shards to send to, how many
//! matching reports make an outcome, when to re-send); this module gives it a task, real
//! time and a transport (a [`QuicClient`](transport_quic::QuicClient) or a
//! [`MemoryNetwork`](chainspace_core::transport::MemoryNetwork) client endpoint), and turns
//! each submission into a future that resolves with the outcome. Re-sends are driven by
//! the submitter's own timers, so a lost message or a view change only delays the answer.
//!
//! The client decodes replies without knowing which consensus protocol the shards run: it
//! only ever sends `Submit` and reads `Outcome`, and their encoding does not depend on the
//! protocol's message type (see [`NoConsensus`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chainspace_core::client::{ClientAction, Finished, Submitter};
use chainspace_core::committee::Committee;
use chainspace_core::replica::{Addr, ReplicaMessage};
use chainspace_core::transaction::{TransactionRequest, TxId};
use chainspace_core::transport::Transport;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::NodeError;
use crate::timers::{TimerQueue, sleep_until};

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
    /// times this).
    pub retry_after: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig { retry_after: Duration::from_millis(500) }
    }
}

/// Counters of one client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Transactions submitted.
    pub submitted: u64,
    /// Outcomes learnt.
    pub finished: u64,
    /// Messages sent (one per replica per send round).
    pub messages_out: u64,
    /// Sends the transport refused.
    pub send_errors: u64,
    /// Replies received and decoded.
    pub messages_in: u64,
    /// Replies that did not decode, or that were not outcomes.
    pub bad_replies: u64,
}

struct Submit {
    request: TransactionRequest,
    instance: u64,
    reply: oneshot::Sender<Finished>,
}

/// A running client. Cloning is cheap; every clone submits through the same task, which
/// stops when [`Client::shutdown`] is called or every clone is dropped.
#[derive(Clone)]
pub struct Client {
    submits: mpsc::UnboundedSender<Submit>,
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
        let (submits, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Mutex::new(ClientStats::default()));
        let driver = Driver {
            submitter: Submitter::new(committee, config.retry_after),
            transport,
            timers: TimerQueue::new(),
            waiters: HashMap::new(),
            stats: stats.clone(),
        };
        let task = tokio::spawn(driver.run(rx));
        Client { submits, stats, task: Arc::new(Mutex::new(Some(task))) }
    }

    /// Submit `request` (first attempt) and wait for its outcome: a commit from every
    /// involved shard, or an abort from one. The caller bounds the wait (e.g. with
    /// `tokio::time::timeout`); until then the client re-sends on its timers.
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
        let stopped = NodeError::Stopped { what: "client" };
        self.submits.send(Submit { request, instance, reply }).map_err(|_| stopped)?;
        rx.await.map_err(|_| NodeError::Stopped { what: "client" })
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

struct Driver<T: ?Sized> {
    submitter: Submitter,
    transport: Arc<T>,
    timers: TimerQueue<chainspace_core::client::ClientTimer>,
    /// Who waits for each transaction's outcome.
    waiters: HashMap<TxId, Vec<oneshot::Sender<Finished>>>,
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
    async fn run(mut self, mut submits: mpsc::UnboundedReceiver<Submit>) {
        let transport = self.transport.clone();
        let _close = CloseOnDrop(transport.clone());
        loop {
            let deadline = self.timers.next_deadline();
            tokio::select! {
                biased;
                submit = submits.recv() => match submit {
                    Some(s) => self.on_submit(s).await,
                    None => break,
                },
                () = sleep_until(deadline) => {
                    for timer in self.timers.take_due(Instant::now()) {
                        let mut out = Vec::new();
                        self.submitter.on_timer(timer, &mut out);
                        self.carry_out(out).await;
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

    async fn on_bytes(&mut self, from: Addr, bytes: &[u8]) {
        let report = match (from, postcard::from_bytes::<ClientMessage>(bytes)) {
            (Addr::Replica(r), Ok(ReplicaMessage::Outcome(report))) => (r, report),
            (_, Ok(_)) | (_, Err(_)) => {
                self.bump(|st| st.bad_replies += 1);
                tracing::debug!(?from, len = bytes.len(), "reply that is not an outcome dropped");
                return;
            }
        };
        self.bump(|st| st.messages_in += 1);
        let mut out = Vec::new();
        self.submitter.on_report(report.0, report.1, &mut out);
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
                ClientAction::SetTimer { timer, after } => self.timers.set(timer, after),
                ClientAction::CancelTimer { timer } => self.timers.cancel(&timer),
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
