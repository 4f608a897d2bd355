//! The sans-IO consensus interface every protocol implements (PBFT, HotStuff, ...).
//!
//! A protocol is a plain state machine: it is fed events (a start, a proposed command, a
//! message, a timer) and pushes [`Action`]s into an [`Actions`] buffer. It owns no clock,
//! socket, thread or randomness, so the same code runs under the tokio driver and under
//! the deterministic [simulator](crate::sim), where every run replays from its seed.
//!
//! The ordered output is [`Action::Deliver`]: every correct replica of a shard delivers the
//! same commands at the same sequence numbers, each command once. Checkpoints and state
//! transfer need the application's state, which the protocol cannot see: it asks for a
//! snapshot with [`Action::TakeSnapshot`] (answered through [`Consensus::on_snapshot`]) and
//! hands a verified snapshot from its peers back with [`Action::InstallSnapshot`].

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::hash::Hash;
use std::time::Duration;

use crate::crypto::Digest;
use crate::snapshot::Snapshot;
use crate::types::{Command, ReplicaIndex};

/// What a protocol message must offer: wire encoding, and a short description for traces.
pub trait ProtocolMessage: Clone + Debug + Serialize + DeserializeOwned + Send + 'static {
    /// The message's name as in the paper (`PrePrepare`, `ViewChange`, `Proposal`, ...).
    fn kind(&self) -> &'static str;
    /// Its key fields in a short stable form for traces, e.g. `v=0 n=3 d=1a2b3c4d`.
    fn trace_fields(&self) -> String;
}

/// One effect a protocol asks its driver to perform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action<M, T> {
    /// Send `msg` to replica `to` of the same shard.
    Send {
        /// Recipient.
        to: ReplicaIndex,
        /// Message.
        msg: M,
    },
    /// Send `msg` to every other replica of the shard.
    Broadcast {
        /// Message.
        msg: M,
    },
    /// Fire `timer` after `after`; setting a timer that is already set restarts it.
    SetTimer {
        /// Which timer.
        timer: T,
        /// Delay from now.
        after: Duration,
    },
    /// Forget `timer` if it is set.
    CancelTimer {
        /// Which timer.
        timer: T,
    },
    /// The ordered output: apply `commands` as sequence number `sequence`. Sequence numbers
    /// start at 1 and increase by one; a batch may be empty (a null request).
    Deliver {
        /// The sequence number of this batch.
        sequence: u64,
        /// The commands, in order, with duplicates of earlier commands removed.
        commands: Vec<Command>,
    },
    /// Take a snapshot of the application state right after sequence `sequence` and give
    /// it back through [`Consensus::on_snapshot`]. Always follows the `Deliver` of that
    /// sequence in the same buffer, so the state is exactly the state at `sequence`.
    TakeSnapshot {
        /// The sequence number the snapshot must reflect.
        sequence: u64,
    },
    /// Replace the application state with `snapshot`, the state after `sequence`, agreed
    /// by enough replicas that at least one of them is correct. Deliveries continue at
    /// `sequence + 1`.
    InstallSnapshot {
        /// The sequence number the snapshot reflects.
        sequence: u64,
        /// The application's snapshot, as some replica's application made it for
        /// `TakeSnapshot` (its digest checked against the agreed one).
        snapshot: Snapshot,
    },
}

/// The output buffer a protocol pushes its actions into.
#[derive(Debug)]
pub struct Actions<M, T> {
    items: Vec<Action<M, T>>,
}

impl<M, T> Default for Actions<M, T> {
    fn default() -> Self {
        Actions { items: Vec::new() }
    }
}

impl<M, T> Actions<M, T> {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }
    /// Push any action.
    pub fn push(&mut self, action: Action<M, T>) {
        self.items.push(action);
    }
    /// Send `msg` to `to`.
    pub fn send(&mut self, to: ReplicaIndex, msg: M) {
        self.items.push(Action::Send { to, msg });
    }
    /// Send `msg` to every other replica.
    pub fn broadcast(&mut self, msg: M) {
        self.items.push(Action::Broadcast { msg });
    }
    /// (Re)start `timer`.
    pub fn set_timer(&mut self, timer: T, after: Duration) {
        self.items.push(Action::SetTimer { timer, after });
    }
    /// Cancel `timer`.
    pub fn cancel_timer(&mut self, timer: T) {
        self.items.push(Action::CancelTimer { timer });
    }
    /// Deliver a batch.
    pub fn deliver(&mut self, sequence: u64, commands: Vec<Command>) {
        self.items.push(Action::Deliver { sequence, commands });
    }
    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// Number of actions.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// The actions so far.
    pub fn as_slice(&self) -> &[Action<M, T>] {
        &self.items
    }
    /// Take all actions, leaving the buffer empty (and its allocation in place).
    pub fn drain(&mut self) -> std::vec::Drain<'_, Action<M, T>> {
        self.items.drain(..)
    }
}

/// Counters every protocol keeps, for tests and experiment reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsensusStats {
    /// Messages dropped because they failed verification (bad sender, signature, digest,
    /// view, sequence): evidence of a faulty peer or of tampering.
    pub invalid_messages: u64,
    /// Messages ignored because they were stale or out of window (normal under faults).
    pub ignored_messages: u64,
    /// View (or round) changes this replica completed.
    pub view_changes: u64,
    /// Snapshots installed through state transfer.
    pub snapshots_installed: u64,
    /// Proposals whose commands this replica did not all hold, so it asked the leader for
    /// them (a proposal naming commands by digest, sent before their bytes arrived here).
    pub proposals_fetched: u64,
}

/// A consensus protocol replica, as a sans-IO state machine.
pub trait Consensus {
    /// The protocol's messages.
    type Message: ProtocolMessage;
    /// The protocol's timers.
    type Timer: Clone + Debug + Eq + Hash + Send + 'static;

    /// This replica's index in its shard.
    fn index(&self) -> ReplicaIndex;

    /// Called once when the replica starts (or restarts); sets the first timers.
    fn on_start(&mut self, out: &mut Actions<Self::Message, Self::Timer>);

    /// A client submits `command` through this replica. Submitting a command that is
    /// pending or recently delivered has no further effect.
    fn propose(&mut self, command: Command, out: &mut Actions<Self::Message, Self::Timer>);

    /// A message arrived from replica `from` of the same shard; the transport has
    /// authenticated `from`, the protocol verifies everything else.
    fn on_message(
        &mut self,
        from: ReplicaIndex,
        msg: Self::Message,
        out: &mut Actions<Self::Message, Self::Timer>,
    );

    /// A timer set with [`Action::SetTimer`] fired.
    fn on_timer(&mut self, timer: Self::Timer, out: &mut Actions<Self::Message, Self::Timer>);

    /// The application's answer to [`Action::TakeSnapshot`].
    fn on_snapshot(
        &mut self,
        sequence: u64,
        snapshot: Snapshot,
        out: &mut Actions<Self::Message, Self::Timer>,
    );

    /// The last sequence number this replica delivered (or installed from a snapshot).
    fn last_delivered(&self) -> u64;

    /// The protocol's counters.
    fn stats(&self) -> ConsensusStats;

    /// Whether the command with digest `command` was delivered within the protocol's
    /// deduplication window, so that proposing it again has no effect. The replica asks
    /// this when a client's command arrives after it was ordered (a client sends to every
    /// replica, and a slow one may get it late), to report it ordered at once, rather than
    /// keeping a record of its own of every command delivered. A protocol that keeps no
    /// such window leaves the default: the command is proposed again.
    fn delivered_recently(&self, command: &Digest) -> bool {
        let _ = command;
        false
    }

    /// Changes (to any other value) whenever the state returned by
    /// [`Consensus::durable_state`] changes. The driver persists that state before it
    /// sends any message produced by the same event: a replica that signed a vote must
    /// still know it after a crash, or it could sign a conflicting one (equivocate)
    /// without being faulty. Protocols with nothing to keep leave the default.
    fn durable_version(&self) -> u64 {
        0
    }

    /// The state that must survive a crash (see [`Consensus::durable_version`]), encoded.
    fn durable_state(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Take back the state of [`Consensus::durable_state`] after a restart, before
    /// [`Consensus::on_start`]. Bytes that do not decode are an error (the caller
    /// decides whether to start without them).
    fn restore(&mut self, state: &[u8]) -> Result<(), crate::Error> {
        let _ = state;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_keep_order_and_drain() {
        let mut a: Actions<u8, u8> = Actions::new();
        a.send(1, 9);
        a.broadcast(8);
        a.set_timer(1, Duration::from_millis(5));
        a.deliver(1, vec![Command::new(b"x".to_vec())]);
        assert_eq!(a.len(), 4);
        assert_eq!(a.as_slice()[0], Action::Send { to: 1, msg: 9 });
        let drained: Vec<_> = a.drain().collect();
        assert_eq!(drained.len(), 4);
        assert!(a.is_empty());
    }
}

/// How large a batch (PBFT) or block payload (HotStuff) may be: a protocol's `max_batch`
/// and `max_batch_bytes`. A replica rejects a batch past either, so a faulty leader
/// cannot make its peers hold, relay and re-send batches of any size. Shared by the
/// protocols so they bound batches alike; each turns [`BatchTooBig`] into its own
/// invalid-message variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchLimits {
    /// Most commands.
    pub max_batch: usize,
    /// Most bytes of commands, unless the batch holds a single command.
    pub max_batch_bytes: usize,
}

/// Why a batch is past its [`BatchLimits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchTooBig {
    /// More commands than `max_batch`.
    Commands {
        /// Commands in the batch.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// More bytes than `max_batch_bytes`, in a batch of more than one command.
    Bytes {
        /// Bytes of commands in the batch.
        bytes: usize,
        /// The maximum.
        max: usize,
    },
}

impl BatchLimits {
    /// Check `batch` against the limits.
    pub fn check(&self, batch: &[Command]) -> Result<(), BatchTooBig> {
        if batch.len() > self.max_batch {
            return Err(BatchTooBig::Commands { len: batch.len(), max: self.max_batch });
        }
        let bytes: usize = batch.iter().map(Command::len).sum();
        if batch.len() > 1 && bytes > self.max_batch_bytes {
            return Err(BatchTooBig::Bytes { bytes, max: self.max_batch_bytes });
        }
        Ok(())
    }
}
