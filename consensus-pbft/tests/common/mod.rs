//! What the PBFT test suites share: the conformance subject and small helpers.
#![allow(dead_code)]

use std::time::Duration;

use chainspace_core::committee::Committee;
use chainspace_core::sim::Interceptor;
use chainspace_core::sim::conformance::Subject;
use chainspace_core::types::{Command, ReplicaIndex};
use consensus_pbft::message::PrePrepare;
use consensus_pbft::{Message, Pbft, PbftConfig};

/// A configuration scaled for simulations: small checkpoint interval and window, so that
/// garbage collection and state transfer happen within a short run.
pub fn sim_config() -> PbftConfig {
    PbftConfig {
        max_batch: 8,
        max_batch_bytes: 1 << 20,
        batch_timeout: Duration::from_millis(2),
        max_in_flight: 4,
        checkpoint_interval: 8,
        window: 16,
        tick: Duration::from_millis(25),
        request_timeout_ticks: 4,
        view_change_timeout: Duration::from_millis(200),
        dedup_window: 256,
        catch_up_batches: 32,
        status_interval_ticks: 10,
        request_digests: true,
    }
}

/// PBFT as a conformance subject.
#[derive(Clone)]
pub struct PbftSubject {
    pub cfg: PbftConfig,
}

impl Default for PbftSubject {
    fn default() -> Self {
        PbftSubject { cfg: sim_config() }
    }
}

pub fn replica(cfg: &PbftConfig, n: usize, index: ReplicaIndex) -> Pbft {
    let (committee, keys) = Committee::for_test(1, n as u32);
    Pbft::new(cfg.clone(), committee.shards[0].clone(), index, keys[0][index as usize].clone())
        .expect("valid test replica")
}

impl Subject for PbftSubject {
    type C = Pbft;

    fn make(&self, n: usize, index: ReplicaIndex) -> Pbft {
        replica(&self.cfg, n, index)
    }

    fn first_leader(&self, _n: usize) -> ReplicaIndex {
        0
    }

    /// Odd-numbered replicas get a different, validly signed batch for every sequence
    /// number the leader proposes.
    fn equivocator(&self, n: usize, index: ReplicaIndex) -> Interceptor<Message> {
        let (_, keys) = Committee::for_test(1, n as u32);
        let key = keys[0][index as usize].clone();
        Box::new(move |to, msg| match msg {
            Message::PrePrepare(pp) if to % 2 == 1 => {
                let mut batch = vec![Command::new(format!("forged-v{}-n{}", pp.view, pp.seq))];
                batch.extend(pp.batch.iter().take(pp.batch.len().saturating_sub(1)).cloned());
                vec![Message::PrePrepare(PrePrepare::new(pp.view, pp.seq, batch, &key))]
            }
            // A pre-prepare by digest has no request bytes to reuse: the forged batch is
            // the forged request alone, sent in full.
            Message::PrePrepareDigests(pp) if to % 2 == 1 => {
                let batch = vec![Command::new(format!("forged-v{}-n{}", pp.view, pp.seq))];
                vec![Message::PrePrepare(PrePrepare::new(pp.view, pp.seq, batch, &key))]
            }
            other => vec![other],
        })
    }
}

// ---------------------------------------------------------------------------------------
// Helpers for the unit tests that feed one event to a replica and compare the exact
// actions it produces (`unit_*.rs`).
// ---------------------------------------------------------------------------------------

use chainspace_core::committee::ShardCommittee;
use chainspace_core::consensus::{Action, Actions, Consensus};
use chainspace_core::crypto::Keypair;
use consensus_pbft::message::{Commit, Prepare, PreparedProof, primary};
use consensus_pbft::{Invalid, Timer};

/// One action of a PBFT replica.
pub type Act = Action<Message, Timer>;

/// The keys of the test committee of `n` (`Committee::for_test(1, n)`), by replica index:
/// tests sign messages as any replica with them.
pub fn test_keys(n: usize) -> Vec<Keypair> {
    Committee::for_test(1, n as u32).1.remove(0)
}

/// The shard committee the replicas of [`replica`] belong to.
pub fn test_committee(n: usize) -> ShardCommittee {
    Committee::for_test(1, n as u32).0.shards.remove(0)
}

/// A command from a short label.
pub fn cmd(label: &str) -> Command {
    Command::new(label.as_bytes().to_vec())
}

/// `k` distinct commands `{prefix}-0 .. {prefix}-{k-1}`.
pub fn cmds(prefix: &str, k: usize) -> Vec<Command> {
    (0..k).map(|i| cmd(&format!("{prefix}-{i}"))).collect()
}

/// Feed one event to `r` and return exactly the actions it produced, in order.
pub fn step(r: &mut Pbft, event: impl FnOnce(&mut Pbft, &mut Actions<Message, Timer>)) -> Vec<Act> {
    let mut out = Actions::new();
    event(r, &mut out);
    out.drain().collect()
}

/// `r` receives `msg` from `from`.
pub fn recv(r: &mut Pbft, from: ReplicaIndex, msg: Message) -> Vec<Act> {
    step(r, |r, out| r.on_message(from, msg, out))
}

/// A client submits `command` through `r`.
pub fn submit(r: &mut Pbft, command: Command) -> Vec<Act> {
    step(r, |r, out| r.propose(command, out))
}

/// `timer` fires at `r`.
pub fn fire(r: &mut Pbft, timer: Timer) -> Vec<Act> {
    step(r, |r, out| r.on_timer(timer, out))
}

/// `Action::Broadcast { msg }`.
pub fn bcast(msg: Message) -> Act {
    Action::Broadcast { msg }
}

/// `Action::Send { to, msg }`.
/// The primary's broadcast of `pp`: by digest, as `sim_config()` has it.
pub fn proposal(pp: PrePrepare) -> Act {
    bcast(Message::PrePrepareDigests(pp.by_digest()))
}

pub fn send_to(to: ReplicaIndex, msg: Message) -> Act {
    Action::Send { to, msg }
}

/// `Action::Deliver { sequence, commands }`.
pub fn delivered(sequence: u64, commands: Vec<Command>) -> Act {
    Action::Deliver { sequence, commands }
}

/// The pre-prepare the primary of `view` signs for `(view, seq, batch)`.
pub fn pre_prepare(keys: &[Keypair], view: u64, seq: u64, batch: Vec<Command>) -> PrePrepare {
    PrePrepare::new(view, seq, batch, &keys[primary(view, keys.len()) as usize])
}

/// The prepare replica `who` signs for `pp`.
pub fn prepare_for(keys: &[Keypair], pp: &PrePrepare, who: ReplicaIndex) -> Prepare {
    Prepare::new(pp.view, pp.seq, pp.digest, who, &keys[who as usize])
}

/// The commit for `pp`.
pub fn commit_for(pp: &PrePrepare) -> Commit {
    Commit { view: pp.view, seq: pp.seq, digest: pp.digest }
}

/// A valid prepared certificate for `(view, seq, batch)` with prepares from `backups`.
pub fn prepared_proof(
    keys: &[Keypair],
    view: u64,
    seq: u64,
    batch: Vec<Command>,
    backups: &[ReplicaIndex],
) -> PreparedProof {
    let pp = pre_prepare(keys, view, seq, batch);
    let prepares = backups.iter().map(|b| prepare_for(keys, &pp, *b)).collect();
    PreparedProof { pre_prepare: pp, prepares }
}

/// Run the normal case for `(view, seq, batch)` at `r` with the smallest quorums: the
/// primary's pre-prepare (unless `r` is the primary, which must have proposed it itself),
/// the other backups' prepares, then the other replicas' commits. Returns every action
/// `r` produced on the way, in order.
pub fn decide(
    r: &mut Pbft,
    keys: &[Keypair],
    view: u64,
    seq: u64,
    batch: Vec<Command>,
) -> Vec<Act> {
    let n = keys.len();
    let quorum = test_committee(n).quorum();
    let me = r.index();
    let p = primary(view, n);
    let pp = pre_prepare(keys, view, seq, batch);
    let mut acts = Vec::new();
    let mut prepares_needed = quorum - 1;
    if me != p {
        acts.extend(recv(r, p, Message::PrePrepare(pp.clone())));
        prepares_needed -= 1;
    }
    let backups = (0..n as ReplicaIndex).filter(|b| *b != me && *b != p);
    for b in backups.take(prepares_needed) {
        acts.extend(recv(r, b, Message::Prepare(prepare_for(keys, &pp, b))));
    }
    let others = (0..n as ReplicaIndex).filter(|o| *o != me);
    for o in others.take(quorum - 1) {
        acts.extend(recv(r, o, Message::Commit(commit_for(&pp))));
    }
    acts
}

/// What a backup that takes part in [`decide`] sends and delivers: its prepare, its
/// commit, then the delivery of `seq` (assuming every earlier sequence number executed).
pub fn backup_decides(
    keys: &[Keypair],
    me: ReplicaIndex,
    view: u64,
    seq: u64,
    batch: Vec<Command>,
    delivered_commands: Vec<Command>,
) -> Vec<Act> {
    let pp = pre_prepare(keys, view, seq, batch);
    vec![
        bcast(Message::Prepare(prepare_for(keys, &pp, me))),
        bcast(Message::Commit(commit_for(&pp))),
        delivered(seq, delivered_commands),
    ]
}

/// Feed `msg` and check it is dropped as invalid for reason `why`: no action, the invalid
/// counter up by one, the ignored counter unchanged.
pub fn expect_invalid(r: &mut Pbft, from: ReplicaIndex, msg: Message, why: Invalid) {
    let before = r.stats();
    let acts = recv(r, from, msg);
    assert_eq!(acts, Vec::<Act>::new(), "an invalid message produces no action");
    let after = r.stats();
    assert_eq!(after.invalid_messages, before.invalid_messages + 1, "counted as invalid");
    assert_eq!(after.ignored_messages, before.ignored_messages, "not counted as ignored");
    assert_eq!(r.last_invalid(), Some(&why));
}

/// Feed `msg` and check it is ignored as stale or out of window: no action, the ignored
/// counter up by one, the invalid counter unchanged.
pub fn expect_ignored(r: &mut Pbft, from: ReplicaIndex, msg: Message) {
    let before = r.stats();
    let acts = recv(r, from, msg);
    assert_eq!(acts, Vec::<Act>::new(), "an ignored message produces no action");
    let after = r.stats();
    assert_eq!(after.ignored_messages, before.ignored_messages + 1, "counted as ignored");
    assert_eq!(after.invalid_messages, before.invalid_messages, "not counted as invalid");
}

/// Replica `who`'s view change to `new_view` from the initial state (stable checkpoint 0,
/// which needs no proof), reporting the prepared certificates `prepared`.
pub fn fresh_view_change(
    keys: &[Keypair],
    new_view: u64,
    prepared: Vec<PreparedProof>,
    who: ReplicaIndex,
) -> consensus_pbft::message::ViewChange {
    let stable = (0, chainspace_core::crypto::Digest::default(), Vec::new());
    consensus_pbft::message::ViewChange::new(new_view, stable, prepared, who, &keys[who as usize])
}
