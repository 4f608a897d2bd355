//! [`AnyConsensus`]: a PBFT or a HotStuff replica behind one type.

use chainspace_core::consensus::{Action, Actions, Consensus, ConsensusStats, ProtocolMessage};
use chainspace_core::crypto::Digest;
use chainspace_core::snapshot::Snapshot;
use chainspace_core::types::{Command, ReplicaIndex};
use consensus_hotstuff::HotStuff;
use consensus_pbft::Pbft;
use serde::{Deserialize, Serialize};

use crate::protocol::Protocol;

/// A message of one of the protocols, tagged with which.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnyMessage {
    /// A PBFT message.
    Pbft(consensus_pbft::Message),
    /// A HotStuff message.
    HotStuff(consensus_hotstuff::Message),
}

impl ProtocolMessage for AnyMessage {
    fn kind(&self) -> &'static str {
        match self {
            AnyMessage::Pbft(m) => m.kind(),
            AnyMessage::HotStuff(m) => m.kind(),
        }
    }

    fn trace_fields(&self) -> String {
        match self {
            AnyMessage::Pbft(m) => m.trace_fields(),
            AnyMessage::HotStuff(m) => m.trace_fields(),
        }
    }
}

/// A timer of one of the protocols.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AnyTimer {
    /// A PBFT timer.
    Pbft(consensus_pbft::Timer),
    /// A HotStuff timer.
    HotStuff(consensus_hotstuff::Timer),
}

/// A replica of one of the protocols. Events are forwarded to it; messages and timers of
/// the other protocol are counted in `stats().invalid_messages` and dropped.
pub struct AnyConsensus {
    inner: Inner,
    /// Messages or timers of a protocol this replica does not run.
    foreign: u64,
}

enum Inner {
    Pbft(Box<Pbft>, Actions<consensus_pbft::Message, consensus_pbft::Timer>),
    HotStuff(Box<HotStuff>, Actions<consensus_hotstuff::Message, consensus_hotstuff::Timer>),
}

impl std::fmt::Debug for AnyConsensus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnyConsensus")
            .field("protocol", &self.protocol())
            .field("index", &self.index())
            .field("last_delivered", &self.last_delivered())
            .finish()
    }
}

impl From<Pbft> for AnyConsensus {
    fn from(p: Pbft) -> Self {
        AnyConsensus { inner: Inner::Pbft(Box::new(p), Actions::new()), foreign: 0 }
    }
}

impl From<HotStuff> for AnyConsensus {
    fn from(h: HotStuff) -> Self {
        AnyConsensus { inner: Inner::HotStuff(Box::new(h), Actions::new()), foreign: 0 }
    }
}

type Out = Actions<AnyMessage, AnyTimer>;

/// Move the protocol's actions into `out`, tagging messages and timers.
fn forward<M, T>(
    from: &mut Actions<M, T>,
    out: &mut Out,
    msg: impl Fn(M) -> AnyMessage,
    timer: impl Fn(T) -> AnyTimer,
) {
    for a in from.drain() {
        out.push(match a {
            Action::Send { to, msg: m } => Action::Send { to, msg: msg(m) },
            Action::Broadcast { msg: m } => Action::Broadcast { msg: msg(m) },
            Action::SetTimer { timer: t, after } => Action::SetTimer { timer: timer(t), after },
            Action::CancelTimer { timer: t } => Action::CancelTimer { timer: timer(t) },
            Action::Deliver { sequence, commands } => Action::Deliver { sequence, commands },
            Action::TakeSnapshot { sequence } => Action::TakeSnapshot { sequence },
            Action::InstallSnapshot { sequence, snapshot } => {
                Action::InstallSnapshot { sequence, snapshot }
            }
        });
    }
}

/// Run `$body` on the protocol inside (bound to `$c`, with its action buffer `$a`), then
/// forward the actions it produced to `$out`.
macro_rules! with_inner {
    ($self:ident, $out:ident, |$c:ident, $a:ident| $body:expr) => {
        match &mut $self.inner {
            Inner::Pbft($c, $a) => {
                $body;
                forward($a, $out, AnyMessage::Pbft, AnyTimer::Pbft);
            }
            Inner::HotStuff($c, $a) => {
                $body;
                forward($a, $out, AnyMessage::HotStuff, AnyTimer::HotStuff);
            }
        }
    };
}

/// Evaluate `$body` with the protocol inside bound to `$c` (either protocol: the
/// accessors that return the same type from both).
macro_rules! inner {
    ($inner:expr, |$c:ident| $body:expr) => {
        match $inner {
            Inner::Pbft($c, _) => $body,
            Inner::HotStuff($c, _) => $body,
        }
    };
}

impl AnyConsensus {
    /// Which protocol runs inside.
    pub fn protocol(&self) -> Protocol {
        match self.inner {
            Inner::Pbft(..) => Protocol::Pbft,
            Inner::HotStuff(..) => Protocol::HotStuff,
        }
    }

    /// The PBFT replica inside, if it is one.
    pub fn as_pbft(&self) -> Option<&Pbft> {
        match &self.inner {
            Inner::Pbft(p, _) => Some(p),
            Inner::HotStuff(..) => None,
        }
    }

    /// The HotStuff replica inside, if it is one.
    pub fn as_hotstuff(&self) -> Option<&HotStuff> {
        match &self.inner {
            Inner::HotStuff(h, _) => Some(h),
            Inner::Pbft(..) => None,
        }
    }
}

impl Consensus for AnyConsensus {
    type Message = AnyMessage;
    type Timer = AnyTimer;

    fn index(&self) -> ReplicaIndex {
        inner!(&self.inner, |c| c.index())
    }

    fn on_start(&mut self, out: &mut Out) {
        with_inner!(self, out, |c, a| c.on_start(a));
    }

    fn propose(&mut self, command: Command, out: &mut Out) {
        with_inner!(self, out, |c, a| c.propose(command, a));
    }

    fn on_message(&mut self, from: ReplicaIndex, msg: AnyMessage, out: &mut Out) {
        match (&mut self.inner, msg) {
            (Inner::Pbft(c, a), AnyMessage::Pbft(m)) => {
                c.on_message(from, m, a);
                forward(a, out, AnyMessage::Pbft, AnyTimer::Pbft);
            }
            (Inner::HotStuff(c, a), AnyMessage::HotStuff(m)) => {
                c.on_message(from, m, a);
                forward(a, out, AnyMessage::HotStuff, AnyTimer::HotStuff);
            }
            _ => self.foreign += 1,
        }
    }

    fn on_timer(&mut self, timer: AnyTimer, out: &mut Out) {
        match (&mut self.inner, timer) {
            (Inner::Pbft(c, a), AnyTimer::Pbft(t)) => {
                c.on_timer(t, a);
                forward(a, out, AnyMessage::Pbft, AnyTimer::Pbft);
            }
            (Inner::HotStuff(c, a), AnyTimer::HotStuff(t)) => {
                c.on_timer(t, a);
                forward(a, out, AnyMessage::HotStuff, AnyTimer::HotStuff);
            }
            _ => self.foreign += 1,
        }
    }

    fn on_snapshot(&mut self, sequence: u64, snapshot: Snapshot, out: &mut Out) {
        with_inner!(self, out, |c, a| c.on_snapshot(sequence, snapshot, a));
    }

    fn last_delivered(&self) -> u64 {
        inner!(&self.inner, |c| c.last_delivered())
    }

    fn stats(&self) -> ConsensusStats {
        let mut s = inner!(&self.inner, |c| c.stats());
        s.invalid_messages += self.foreign;
        s
    }

    fn delivered_recently(&self, command: &Digest) -> bool {
        inner!(&self.inner, |c| c.delivered_recently(command))
    }

    fn durable_version(&self) -> u64 {
        inner!(&self.inner, |c| c.durable_version())
    }

    fn durable_state(&self) -> Vec<u8> {
        inner!(&self.inner, |c| c.durable_state())
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), chainspace_core::Error> {
        inner!(&mut self.inner, |c| c.restore(state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainspace_core::committee::Committee;

    fn replicas(p: Protocol) -> Vec<AnyConsensus> {
        let (committee, keys) = Committee::for_test(1, 4);
        (0..4)
            .map(|i| {
                let key = keys[0][i as usize].clone();
                p.default_config().build(committee.shards[0].clone(), i, key).unwrap()
            })
            .collect()
    }

    fn msg_tag(m: &AnyMessage) -> Protocol {
        match m {
            AnyMessage::Pbft(_) => Protocol::Pbft,
            AnyMessage::HotStuff(_) => Protocol::HotStuff,
        }
    }

    fn timer_tag(t: &AnyTimer) -> Protocol {
        match t {
            AnyTimer::Pbft(_) => Protocol::Pbft,
            AnyTimer::HotStuff(_) => Protocol::HotStuff,
        }
    }

    #[test]
    fn forwards_to_the_protocol_inside_and_tags_its_actions() {
        for p in Protocol::ALL {
            let mut rs = replicas(p);
            let mut out = Out::new();
            rs[0].on_start(&mut out);
            rs[0].propose(Command::new(b"x".to_vec()), &mut out);
            assert!(!out.is_empty(), "{p}: a started replica acts");
            for a in out.drain() {
                let tag = match &a {
                    Action::Send { msg, .. } | Action::Broadcast { msg } => Some(msg_tag(msg)),
                    Action::SetTimer { timer, .. } | Action::CancelTimer { timer } => {
                        Some(timer_tag(timer))
                    }
                    _ => None,
                };
                assert!(tag.is_none_or(|t| t == p), "{p}: {a:?}");
            }
        }
    }

    #[test]
    fn messages_and_timers_of_the_other_protocol_are_counted_and_dropped() {
        let mut pbft = replicas(Protocol::Pbft);
        let mut hs = replicas(Protocol::HotStuff);
        let (mut to_pbft, mut to_hs) = (Out::new(), Out::new());
        pbft[1].on_start(&mut to_hs);
        hs[1].on_start(&mut to_pbft);
        let mut out = Out::new();
        let mut sent = 0;
        for a in to_pbft.drain() {
            match a {
                Action::Send { msg, .. } | Action::Broadcast { msg } => {
                    pbft[0].on_message(1, msg, &mut out);
                    sent += 1;
                }
                Action::SetTimer { timer, .. } => {
                    pbft[0].on_timer(timer, &mut out);
                    sent += 1;
                }
                _ => {}
            }
        }
        assert!(sent > 0, "HotStuff produced something to misdeliver");
        assert!(out.is_empty(), "a PBFT replica ignores HotStuff input: {out:?}");
        assert_eq!(pbft[0].stats().invalid_messages, sent);
        assert_eq!(hs[0].stats().invalid_messages, 0);
    }

    #[test]
    fn messages_survive_the_wire_with_their_tag() {
        for p in Protocol::ALL {
            let mut rs = replicas(p);
            let mut out = Out::new();
            for r in &mut rs {
                r.on_start(&mut out);
                r.propose(Command::new(b"y".to_vec()), &mut out);
            }
            // Fire every timer once: a HotStuff leader may wait for its batch delay.
            let timers: Vec<AnyTimer> = out
                .as_slice()
                .iter()
                .filter_map(|a| match a {
                    Action::SetTimer { timer, .. } => Some(timer.clone()),
                    _ => None,
                })
                .collect();
            for t in timers {
                for r in &mut rs {
                    r.on_timer(t.clone(), &mut out);
                }
            }
            let mut seen = 0;
            for a in out.drain() {
                if let Action::Send { msg, .. } | Action::Broadcast { msg } = a {
                    let bytes = postcard::to_stdvec(&msg).unwrap();
                    let back: AnyMessage = postcard::from_bytes(&bytes).unwrap();
                    assert_eq!(back, msg);
                    seen += 1;
                }
            }
            assert!(seen > 0, "{p} sent something");
        }
    }
}
