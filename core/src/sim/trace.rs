//! The trace of a simulation: what happened, when, between whom.
//!
//! Tests assert on it and snapshot it (one line per event, stable text), so any change to
//! a protocol's behaviour shows up as a reviewed diff.

use std::fmt;
use std::time::Duration;

use crate::types::ReplicaIndex;

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceKind {
    /// A client submitted a command to a replica.
    Propose {
        /// The replica.
        replica: ReplicaIndex,
        /// A short form of the command.
        command: String,
    },
    /// A message reached its recipient.
    Receive {
        /// Sender.
        from: ReplicaIndex,
        /// Recipient.
        to: ReplicaIndex,
        /// Message kind.
        kind: &'static str,
        /// Key fields of the message.
        fields: String,
    },
    /// A message was lost (network loss, partition, or a crashed endpoint).
    Drop {
        /// Sender.
        from: ReplicaIndex,
        /// Recipient.
        to: ReplicaIndex,
        /// Message kind.
        kind: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A timer fired.
    Timer {
        /// The replica.
        replica: ReplicaIndex,
        /// The timer, as its `Debug` form.
        timer: String,
    },
    /// A replica delivered a batch.
    Deliver {
        /// The replica.
        replica: ReplicaIndex,
        /// Sequence number.
        sequence: u64,
        /// Number of commands.
        commands: usize,
    },
    /// A replica installed a snapshot from its peers.
    Install {
        /// The replica.
        replica: ReplicaIndex,
        /// The snapshot's sequence number.
        sequence: u64,
    },
    /// A replica crashed.
    Crash {
        /// The replica.
        replica: ReplicaIndex,
    },
    /// A free-form line (the whole-system simulator names its nodes by shard).
    Line(String),
    /// A replica restarted.
    Restart {
        /// The replica.
        replica: ReplicaIndex,
        /// Whether it lost all its state.
        wiped: bool,
    },
}

/// One trace entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// Virtual time.
    pub at: Duration,
    /// What happened.
    pub kind: TraceKind,
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.at.as_micros() as f64 / 1000.0;
        write!(f, "{ms:>9.3}ms ")?;
        match &self.kind {
            TraceKind::Propose { replica, command } => write!(f, "client -> r{replica} {command}"),
            TraceKind::Receive { from, to, kind, fields } => {
                write!(f, "r{from} -> r{to} {kind} {fields}")
            }
            TraceKind::Drop { from, to, kind, reason } => {
                write!(f, "r{from} -> r{to} {kind} DROPPED ({reason})")
            }
            TraceKind::Timer { replica, timer } => write!(f, "r{replica} timer {timer}"),
            TraceKind::Deliver { replica, sequence, commands } => {
                write!(f, "r{replica} DELIVER n={sequence} ({commands} commands)")
            }
            TraceKind::Install { replica, sequence } => {
                write!(f, "r{replica} INSTALL snapshot n={sequence}")
            }
            TraceKind::Crash { replica } => write!(f, "r{replica} CRASH"),
            TraceKind::Line(text) => f.write_str(text),
            TraceKind::Restart { replica, wiped } => {
                write!(f, "r{replica} RESTART{}", if *wiped { " (state lost)" } else { "" })
            }
        }
    }
}

/// The recorded trace of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// Whether events are recorded (off for long runs where only the outcome matters).
    pub enabled: bool,
    /// The events, in the order they happened.
    pub events: Vec<TraceEvent>,
}

impl Trace {
    /// Record an event if recording is on.
    pub fn record(&mut self, at: Duration, kind: impl FnOnce() -> TraceKind) {
        if self.enabled {
            self.events.push(TraceEvent { at, kind: kind() });
        }
    }

    /// One line per event: the form snapshots use.
    pub fn lines(&self) -> Vec<String> {
        self.events.iter().map(ToString::to_string).collect()
    }

    /// The lines of the events `keep` accepts.
    pub fn lines_where(&self, keep: impl Fn(&TraceEvent) -> bool) -> Vec<String> {
        self.events.iter().filter(|e| keep(e)).map(ToString::to_string).collect()
    }
}
