//! The replica's event loop (see the module docs of [`crate::runtime`]).

use std::sync::{Arc, Mutex};

use chainspace_core::checker::{CheckRequest, CheckVerdict, CheckerRegistry};
use chainspace_core::consensus::Consensus;
use chainspace_core::crypto::Digest;
use chainspace_core::replica::{
    Addr, Replica, ReplicaAction, ReplicaMessage, ReplicaOut, ReplicaTimer,
};
use chainspace_core::transport::Transport;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;

use super::{NodeStats, Query};
use crate::timers::{TimerQueue, sleep_until};

/// Most received messages handled in one turn of the event loop. Each turn builds a
/// timer and a receive future afresh and publishes the counters; under load, messages
/// wait in the transport's queue, and taking a burst of them at once saves that work for
/// all but the first. Small enough that a due timer waits for a few messages only.
pub(crate) const DRAIN: usize = 32;

/// What a check task reports: the key, the verdict, and whether a checker failed.
type CheckDone = (Digest, CheckVerdict, bool);

/// Everything the loop owns.
pub(super) struct Driver<C: Consensus, T: ?Sized> {
    replica: Replica<C>,
    transport: Arc<T>,
    checkers: Arc<CheckerRegistry>,
    timers: TimerQueue<ReplicaTimer<C::Timer>>,
    /// Running checks; dropping the set aborts them.
    checks: JoinSet<CheckDone>,
    /// The driver's counters (the replica's and protocol's are read when published).
    counters: NodeStats,
    /// Where [`super::ReplicaHandle::stats`] reads the counters.
    shared: Arc<Mutex<NodeStats>>,
    /// Told of every S-BAC step applied, if anyone measures them.
    observer: Option<super::Observer>,
}

impl<C, T> Driver<C, T>
where
    C: Consensus + Send + 'static,
    T: Transport + ?Sized + 'static,
{
    pub(super) fn new(
        replica: Replica<C>,
        transport: Arc<T>,
        checkers: Arc<CheckerRegistry>,
        shared: Arc<Mutex<NodeStats>>,
        observer: Option<super::Observer>,
    ) -> Self {
        Driver {
            replica,
            transport,
            checkers,
            timers: TimerQueue::new(),
            checks: JoinSet::new(),
            counters: NodeStats::default(),
            shared,
            observer,
        }
    }

    /// Run until stopped (or until the transport shuts down); return the final counters.
    pub(super) async fn run(
        mut self,
        mut stop: oneshot::Receiver<()>,
        mut queries: mpsc::UnboundedReceiver<Query<C>>,
    ) -> NodeStats {
        let id = self.replica.id();
        tracing::debug!(replica = %id, "replica starting");
        let mut out = Vec::new();
        self.replica.on_start(&mut out);
        self.carry_out(out).await;
        self.publish();
        let transport = self.transport.clone();
        loop {
            let deadline = self.timers.next_deadline();
            tokio::select! {
                biased;
                // A stop, or the handle dropped: either way, stop.
                _ = &mut stop => break,
                Some(query) = queries.recv() => query(&self.replica),
                Some(done) = self.checks.join_next(), if !self.checks.is_empty() => {
                    self.on_check_done(done).await;
                }
                () = sleep_until(deadline) => self.on_timers().await,
                received = transport.recv() => match received {
                    Ok((from, bytes)) => {
                        self.on_bytes(from, &bytes).await;
                        // The messages queued behind it, in this wake-up: at most
                        // `DRAIN - 1`, so stops, checks and timers still come soon.
                        for _ in 1..DRAIN {
                            let Some((from, bytes)) = transport.try_recv() else { break };
                            self.on_bytes(from, &bytes).await;
                        }
                    }
                    Err(e) => {
                        tracing::info!(replica = %id, error = %e, "transport closed; stopping");
                        break;
                    }
                },
            }
            self.publish();
        }
        self.checks.abort_all();
        self.transport.close();
        self.publish();
        tracing::debug!(replica = %id, "replica stopped");
        self.counters
    }

    /// Decode and hand over one received message.
    async fn on_bytes(&mut self, from: Addr, bytes: &[u8]) {
        match postcard::from_bytes::<ReplicaMessage<C::Message>>(bytes) {
            Ok(msg) => {
                self.counters.messages_in += 1;
                let mut out = Vec::new();
                self.replica.on_message(from, msg, &mut out);
                self.carry_out(out).await;
            }
            Err(e) => {
                self.counters.decode_errors += 1;
                let replica = self.replica.id();
                // A replica sending garbage is a fault worth a warning; anyone can connect
                // as a client, so client garbage is logged quietly (it could be a flood).
                match from {
                    Addr::Replica(peer) => {
                        tracing::warn!(%replica, %peer, len = bytes.len(), error = %e,
                            "undecodable message from a replica dropped");
                    }
                    Addr::Client(client) => {
                        tracing::debug!(%replica, client, len = bytes.len(), error = %e,
                            "undecodable message from a client dropped");
                    }
                }
            }
        }
    }

    /// Fire every timer that is due.
    async fn on_timers(&mut self) {
        for timer in self.timers.take_due(Instant::now()) {
            self.counters.timers_fired += 1;
            let mut out = Vec::new();
            self.replica.on_timer(timer, &mut out);
            self.carry_out(out).await;
        }
    }

    /// Report a finished check to the replica.
    async fn on_check_done(&mut self, done: Result<CheckDone, JoinError>) {
        match done {
            Ok((key, verdict, checker_failed)) => {
                if checker_failed {
                    self.counters.checker_errors += 1;
                }
                let mut out = Vec::new();
                self.replica.on_check_result(key, verdict, &mut out);
                self.carry_out(out).await;
            }
            // A checker that panicked: no verdict; the replica's check timeout rejects.
            Err(e) if e.is_panic() => {
                self.counters.checker_errors += 1;
                tracing::error!(replica = %self.replica.id(), "a checker panicked");
            }
            Err(_) => {}
        }
    }

    /// Carry out the replica's actions, in order.
    async fn carry_out(&mut self, out: ReplicaOut<C>) {
        for action in out {
            match action {
                ReplicaAction::Send { to, msg } => {
                    // Encode before awaiting: the message type need not be `Sync`.
                    if let Some(bytes) = self.encode(&msg) {
                        self.send(to, bytes).await;
                    }
                }
                ReplicaAction::Broadcast { to, msg } => {
                    // Encoded once; each recipient's copy is a copy of the bytes.
                    if let Some(bytes) = self.encode(&msg) {
                        for to in to {
                            self.send(to, bytes.clone()).await;
                        }
                    }
                }
                ReplicaAction::SetTimer { timer, after } => self.timers.set(timer, after),
                ReplicaAction::CancelTimer { timer } => self.timers.cancel(&timer),
                ReplicaAction::Check { key, requests } => {
                    self.counters.checks_started += 1;
                    let checkers = self.checkers.clone();
                    self.checks.spawn(async move {
                        let (verdict, failed) = run_checks(&checkers, &requests).await;
                        (key, verdict, failed)
                    });
                }
                ReplicaAction::Milestone(m) => {
                    if let Some(observe) = &self.observer {
                        (observe.0)(m);
                    }
                }
            }
        }
    }

    fn encode(&mut self, msg: &ReplicaMessage<C::Message>) -> Option<Vec<u8>> {
        match postcard::to_allocvec(msg) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                self.counters.send_errors += 1;
                tracing::error!(replica = %self.replica.id(), error = %e, "cannot encode");
                None
            }
        }
    }

    async fn send(&mut self, to: Addr, bytes: Vec<u8>) {
        match self.transport.send(to, bytes).await {
            Ok(()) => self.counters.messages_out += 1,
            Err(e) => {
                self.counters.send_errors += 1;
                tracing::debug!(replica = %self.replica.id(), ?to, error = %e, "send failed");
            }
        }
    }

    /// Copy the counters where the handle reads them.
    fn publish(&mut self) {
        self.counters.replica = self.replica.stats();
        self.counters.consensus = self.replica.consensus().stats();
        self.counters.last_delivered = self.replica.consensus().last_delivered();
        *self.shared.lock().unwrap_or_else(|e| e.into_inner()) = self.counters;
    }
}

/// Every call must be accepted; the first rejection is the verdict. A checker that cannot
/// answer rejects, with its error as the reason (the second value says it failed).
async fn run_checks(checkers: &CheckerRegistry, requests: &[CheckRequest]) -> (CheckVerdict, bool) {
    for request in requests {
        match checkers.check(request).await {
            Ok(verdict) if verdict.accepted => {}
            Ok(verdict) => return (verdict, false),
            Err(e) => return (CheckVerdict::reject(e.to_string()), true),
        }
    }
    (CheckVerdict::accept(), false)
}
