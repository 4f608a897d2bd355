//! The tokio driver of one replica: it owns a sans-IO [`Replica`] and carries out its
//! actions over a real [`Transport`], real time and real checkers.
//!
//! The replica is a plain state machine (DESIGN.md, "Protocol cores are sans-IO state
//! machines"), so something must turn its actions into effects. The simulator does that on
//! virtual time; this module does it on tokio, with the same rules, so a protocol that
//! passes the simulation suites runs unchanged on a real network:
//!
//! * one task owns the replica, so it needs no lock: a `select!` loop serves the stop
//!   signal, finished checks, due timers and received messages, in that order of priority
//!   (internal events first, so a flood of network input cannot starve timeouts); a
//!   received message brings the ones queued behind it, a bounded burst per turn;
//! * messages are postcard-encoded [`ReplicaMessage`]s; bytes that do not decode are
//!   counted ([`NodeStats::decode_errors`]) and logged, never a panic, because anyone who
//!   can reach the endpoint can send anything;
//! * each [`ReplicaAction::Check`](chainspace_core::replica::ReplicaAction::Check) runs in
//!   a tokio task of its own, so a slow checker (an HTTP service) never blocks ordering and
//!   many checks run at once; a checker *error* becomes a rejecting verdict with the error
//!   as its reason, as in the simulator, and the replica's own check timeout covers a
//!   checker that never answers;
//! * timers are named: setting one that is set replaces it, cancelling removes it.
//!
//! [`ReplicaHandle`] stops the loop (which closes the transport), reads counters, and runs
//! read-only queries on the replica inside its task.

mod driver;

pub(crate) use driver::DRAIN;

use std::sync::{Arc, Mutex};

use chainspace_core::checker::CheckerRegistry;
use chainspace_core::consensus::{Consensus, ConsensusStats};
use chainspace_core::replica::{Milestone, Replica, ReplicaStats};
use chainspace_core::transport::Transport;
use chainspace_core::types::ReplicaId;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use chainspace_core::replica::ReplicaMessage;

use crate::NodeError;

/// Counters of one running replica: its own, its protocol's, and the driver's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// The replica's counters (invalid votes, refused submissions, check timeouts, ...).
    pub replica: ReplicaStats,
    /// The consensus protocol's counters (invalid messages, view changes, ...).
    pub consensus: ConsensusStats,
    /// The last sequence number the protocol delivered: progress, at a glance.
    pub last_delivered: u64,
    /// Messages received and decoded.
    pub messages_in: u64,
    /// Messages handed to the transport.
    pub messages_out: u64,
    /// Received messages that did not decode: evidence of a faulty or malicious sender.
    pub decode_errors: u64,
    /// Sends the transport refused (shut down, unknown peer, too large).
    pub send_errors: u64,
    /// Checks started.
    pub checks_started: u64,
    /// Checks whose checker failed to answer (counted as rejections).
    pub checker_errors: u64,
    /// Timers that fired.
    pub timers_fired: u64,
}

/// A read-only query run on the replica inside its task.
type Query<C> = Box<dyn FnOnce(&Replica<C>) + Send>;

/// The handle of a running replica. Dropping it stops the replica too (the stop signal's
/// sender goes away), but only [`ReplicaHandle::shutdown`] waits until it has stopped.
pub struct ReplicaHandle<C: Consensus> {
    id: ReplicaId,
    stop: Option<oneshot::Sender<()>>,
    queries: mpsc::UnboundedSender<Query<C>>,
    stats: Arc<Mutex<NodeStats>>,
    task: Option<JoinHandle<NodeStats>>,
}

/// Told of each S-BAC step a replica applies ([`Milestone`]), from the replica's task:
/// how the experiments runner times the phases of a transaction. It should be quick.
#[derive(Clone)]
pub struct Observer(pub Arc<dyn Fn(Milestone) + Send + Sync>);

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer")
    }
}

/// Start driving `replica` over `transport`, checking calls with `checkers`. Must be called
/// inside a tokio runtime. The replica's `on_start` runs in the new task.
pub fn spawn<C, T>(
    replica: Replica<C>,
    transport: Arc<T>,
    checkers: CheckerRegistry,
) -> ReplicaHandle<C>
where
    C: Consensus + Send + 'static,
    T: Transport + ?Sized + 'static,
{
    spawn_observed(replica, transport, checkers, None)
}

/// [`spawn`], telling `observer` of every S-BAC step the replica applies.
pub fn spawn_observed<C, T>(
    replica: Replica<C>,
    transport: Arc<T>,
    checkers: CheckerRegistry,
    observer: Option<Observer>,
) -> ReplicaHandle<C>
where
    C: Consensus + Send + 'static,
    T: Transport + ?Sized + 'static,
{
    let id = replica.id();
    let (stop, stop_rx) = oneshot::channel();
    let (queries, queries_rx) = mpsc::unbounded_channel();
    let stats = Arc::new(Mutex::new(NodeStats::default()));
    let driver =
        driver::Driver::new(replica, transport, Arc::new(checkers), stats.clone(), observer);
    let task = tokio::spawn(driver.run(stop_rx, queries_rx));
    ReplicaHandle { id, stop: Some(stop), queries, stats, task: Some(task) }
}

impl<C: Consensus + Send + 'static> ReplicaHandle<C> {
    /// The replica driven.
    pub fn id(&self) -> ReplicaId {
        self.id
    }

    /// The counters as of the last event handled.
    pub fn stats(&self) -> NodeStats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the driver is still running.
    pub fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Run `f` on the replica inside its task and return what it computes (the store, the
    /// S-BAC records, the protocol's state), between two events. `f` runs on the replica's
    /// task, so it should be quick, and a panic in it stops the replica.
    pub async fn inspect<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Replica<C>) -> R + Send + 'static,
    ) -> Result<R, NodeError> {
        let (tx, rx) = oneshot::channel();
        let query: Query<C> = Box::new(move |r| {
            let _ = tx.send(f(r));
        });
        self.queries.send(query).map_err(|_| NodeError::Stopped { what: "replica" })?;
        rx.await.map_err(|_| NodeError::Stopped { what: "replica" })
    }

    /// Stop the replica: the loop ends, running checks are aborted, timers dropped and the
    /// transport closed. Returns the final counters.
    pub async fn shutdown(mut self) -> NodeStats {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => match task.await {
                Ok(stats) => stats,
                Err(e) => {
                    tracing::error!(replica = %self.id, error = %e, "replica task failed");
                    self.stats()
                }
            },
            None => self.stats(),
        }
    }
}
