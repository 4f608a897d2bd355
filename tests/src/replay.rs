//! A network attacker for the replay-attack suite (Sonnino, Bano, Al-Bassam, Danezis,
//! "Replay attacks and defenses against cross-shard consensus in sharded distributed
//! ledgers", EuroS&P 2020): it sits on every replica's outgoing links, records everything
//! sent, may hold messages back (a delay, released later), and re-sends recorded or
//! altered messages as if from their original sender.
//!
//! The world lets an interceptor only rewrite what a replica sends to one recipient, so
//! an injected message leaves with the sender's next message to that recipient: the
//! attacker replays "at the next opportunity" on that link.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use chainspace_core::consensus::Consensus;
use chainspace_core::idmap::IdMap;
use chainspace_core::object::{Object, ObjectId, ObjectStatus};
use chainspace_core::replica::{Addr, ReplicaMessage, VoteMessage};
use chainspace_core::sbac::Outcome;
use chainspace_core::sbac::engine::TxRecord;
use chainspace_core::sim::World;
use chainspace_core::transaction::TxId;
use chainspace_core::types::{ReplicaId, ShardId};
use consensus_any::{AnyConsensus, AnyMessage};

use crate::invariants::{atomic, no_double_spend, no_locks_left, states_equal};
use crate::workload::Ledger;

/// A message as the network carries it.
pub type Msg = ReplicaMessage<AnyMessage>;

/// One message on one link.
#[derive(Clone, Debug)]
pub struct Sent {
    /// The sending replica.
    pub from: ReplicaId,
    /// The recipient.
    pub to: Addr,
    /// The message.
    pub msg: Msg,
}

impl Sent {
    /// The vote it carries, if it is a vote.
    pub fn vote(&self) -> Option<&VoteMessage> {
        match &self.msg {
            ReplicaMessage::Vote(v) => Some(v),
            _ => None,
        }
    }

    /// Whether it is a vote on `(tx, instance)`.
    pub fn is_vote_on(&self, tx: TxId, instance: u64) -> bool {
        self.vote().is_some_and(|v| v.vote.tx == tx && v.vote.instance == instance)
    }

    /// Whether it goes to a replica of `shard`.
    pub fn to_shard(&self, shard: ShardId) -> bool {
        matches!(self.to, Addr::Replica(r) if r.shard == shard)
    }
}

type Filter = Box<dyn Fn(&Sent) -> bool>;

/// The attacker's state, shared by the interceptors of every replica.
#[derive(Default)]
pub struct Attacker {
    log: Vec<Sent>,
    hold: Vec<Filter>,
    held: Vec<Sent>,
    due: Vec<Sent>,
    emitted: Vec<Sent>,
}

/// The attacker, as the tests hold it between runs.
pub type Shared = Rc<RefCell<Attacker>>;

impl Attacker {
    /// Put an attacker on every link of `w` (it replaces any other interceptor).
    pub fn attach(w: &mut World<AnyConsensus>) -> Shared {
        let att: Shared = Rc::new(RefCell::new(Attacker::default()));
        for me in w.replica_ids() {
            let a = att.clone();
            w.intercept(me, Box::new(move |to, msg| a.borrow_mut().intercept(me, to, msg)));
        }
        att
    }

    fn intercept(&mut self, from: ReplicaId, to: Addr, msg: Msg) -> Vec<Msg> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.due.len() {
            if self.due[i].from == from && self.due[i].to == to {
                let s = self.due.remove(i);
                out.push(s.msg.clone());
                self.emitted.push(s);
            } else {
                i += 1;
            }
        }
        let sent = Sent { from, to, msg };
        self.log.push(sent.clone());
        if self.hold.iter().any(|f| f(&sent)) {
            self.held.push(sent);
        } else {
            out.push(sent.msg);
        }
        out
    }

    /// Everything the replicas sent, in order (held messages included, injected ones not).
    pub fn log(&self) -> &[Sent] {
        &self.log
    }

    /// The votes on `(tx, instance)` that replicas of `shard` sent, one per
    /// `(sender, recipient)` link, as recorded.
    pub fn votes(&self, tx: TxId, instance: u64, shard: ShardId) -> Vec<Sent> {
        let mut seen = BTreeMap::new();
        for s in &self.log {
            if s.from.shard == shard && s.is_vote_on(tx, instance) {
                seen.entry((s.from, s.to)).or_insert_with(|| s.clone());
            }
        }
        seen.into_values().collect()
    }

    /// From now on, hold back (instead of sending) every message matching `f`.
    pub fn hold(&mut self, f: impl Fn(&Sent) -> bool + 'static) {
        self.hold.push(Box::new(f));
    }

    /// Stop holding messages back (those held stay held until [`Attacker::release`]).
    pub fn stop_holding(&mut self) {
        self.hold.clear();
    }

    /// The messages held back so far.
    pub fn held(&self) -> &[Sent] {
        &self.held
    }

    /// Let the held messages go, each with its sender's next message to its recipient.
    pub fn release(&mut self) {
        self.due.append(&mut self.held);
    }

    /// Send `msg` from `from` to `to` with `from`'s next message to `to`.
    pub fn inject(&mut self, from: ReplicaId, to: Addr, msg: Msg) {
        self.due.push(Sent { from, to, msg });
    }

    /// Injected (or released) messages still waiting for their link to carry something.
    pub fn due(&self) -> usize {
        self.due.len()
    }

    /// Injected (or released) messages already sent.
    pub fn emitted(&self) -> &[Sent] {
        &self.emitted
    }
}

/// The replicas of `shard` in a world of `replicas` per shard.
pub fn shard_replicas(shard: ShardId, replicas: u32) -> Vec<ReplicaId> {
    (0..replicas).map(|index| ReplicaId { shard, index }).collect()
}

/// The status of object `id` at every replica of its shard `shard`.
pub fn statuses<C: Consensus>(
    w: &World<C>,
    shard: ShardId,
    id: &ObjectId,
) -> Vec<Option<ObjectStatus>> {
    w.shard_ids(shard)
        .into_iter()
        .map(|r| w.replica(r).engine().store().get(id).ok().flatten().map(|o| o.status))
        .collect()
}

/// Whether every replica of `shard` holds object `id` with status `status`.
pub fn all_have<C: Consensus>(
    w: &World<C>,
    shard: ShardId,
    id: &ObjectId,
    status: ObjectStatus,
) -> bool {
    statuses(w, shard, id).iter().all(|s| *s == Some(status))
}

/// The record of `tx` at every replica of `shard`.
pub fn records<C: Consensus>(w: &World<C>, shard: ShardId, tx: &TxId) -> Vec<Option<TxRecord>> {
    w.shard_ids(shard).into_iter().map(|r| w.replica(r).engine().record(tx).cloned()).collect()
}

/// Every replica's objects and records, to show that nothing changed.
pub type WorldState = Vec<(ReplicaId, Vec<Object>, IdMap<TxId, TxRecord>)>;

/// The S-BAC state of every replica.
pub fn world_state<C: Consensus>(w: &World<C>) -> WorldState {
    w.replica_ids()
        .into_iter()
        .map(|r| {
            let e = w.replica(r).engine();
            (r, e.store().objects().expect("memory store"), e.records().clone())
        })
        .collect()
}

/// Run until client `client` has an outcome for `(tx, instance)`, or `limit`.
pub fn outcome_of<C: Consensus>(
    w: &mut World<C>,
    client: usize,
    tx: TxId,
    instance: u64,
    limit: Duration,
) -> Option<Outcome> {
    let find = |w: &World<C>| {
        w.client(client)
            .finished()
            .iter()
            .find(|f| f.tx == tx && f.instance == instance)
            .map(|f| f.outcome.clone())
    };
    let deadline = w.now() + limit;
    w.run_until_cond(deadline, Duration::from_millis(5), |w| find(w).is_some());
    find(w)
}

/// Hold the run to S-BAC's safety properties: every correct replica of a shard in the
/// same state, no object consumed by two committed transactions, every transaction
/// committed by all its shards or none, and (after quiescence) no lock left.
pub fn assert_safe<C: Consensus>(w: &World<C>, ledger: &Ledger) {
    let checks = [
        ("states equal", states_equal(w, &[])),
        ("no double spend", no_double_spend(w, &ledger.txs, &[])),
        ("atomic", atomic(w, &ledger.txs, &[])),
        ("no locks left", no_locks_left(w, &[])),
    ];
    for (name, r) in checks {
        if let Err(e) = r {
            panic!("{name}: {e}");
        }
    }
}
