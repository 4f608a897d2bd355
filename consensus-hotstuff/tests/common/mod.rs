//! What the HotStuff test suites share: the conformance subject and small helpers.
#![allow(dead_code)]

use std::time::Duration;

use chainspace_core::committee::{Committee, ShardCommittee};
use chainspace_core::consensus::{Action, Actions, Consensus};
use chainspace_core::crypto::Keypair;
use chainspace_core::sim::Interceptor;
use chainspace_core::sim::conformance::Subject;
use chainspace_core::types::{Command, ReplicaIndex};
use consensus_hotstuff::message::{Block, Proposal};
use consensus_hotstuff::{HotStuff, HotStuffConfig, Message, Timer};

/// A configuration scaled for simulations: small batches and checkpoint interval, so
/// that garbage collection and state transfer happen within a short run.
pub fn sim_config() -> HotStuffConfig {
    HotStuffConfig {
        max_batch: 8,
        max_batch_bytes: 1 << 20,
        max_batch_delay: Duration::from_millis(2),
        round_timeout: Duration::from_millis(100),
        max_backoff_exponent: 4,
        checkpoint_interval: 8,
        dedup_window: 256,
        fetch_blocks: 32,
        fetch_retry: Duration::from_millis(50),
        status_interval_ticks: 2,
        proposal_digests: true,
    }
}

/// HotStuff as a conformance subject.
#[derive(Clone)]
pub struct HotStuffSubject {
    pub cfg: HotStuffConfig,
}

impl Default for HotStuffSubject {
    fn default() -> Self {
        HotStuffSubject { cfg: sim_config() }
    }
}

pub fn replica(cfg: &HotStuffConfig, n: usize, index: ReplicaIndex) -> HotStuff {
    let (committee, keys) = Committee::for_test(1, n as u32);
    HotStuff::new(cfg.clone(), committee.shards[0].clone(), index, keys[0][index as usize].clone())
        .expect("valid test replica")
}

/// A conflicting block for `block`: same round, height and certificate, another payload.
pub fn forge(block: &Block) -> Block {
    let mut payload = vec![Command::new(format!("forged-r{}", block.round))];
    payload.extend(block.payload.iter().take(block.payload.len().saturating_sub(1)).cloned());
    Block { payload, ..block.clone() }
}

impl Subject for HotStuffSubject {
    type C = HotStuff;

    fn make(&self, n: usize, index: ReplicaIndex) -> HotStuff {
        replica(&self.cfg, n, index)
    }

    fn first_leader(&self, _n: usize) -> ReplicaIndex {
        0
    }

    /// Odd-numbered replicas get a different block for every round the leader proposes
    /// in.
    fn equivocator(&self, _n: usize, _index: ReplicaIndex) -> Interceptor<Message> {
        Box::new(move |to, msg| match msg {
            Message::Proposal(p) if to % 2 == 1 => {
                vec![Message::Proposal(Proposal::new(forge(&p.block), p.tc))]
            }
            // A proposal by digest has no command bytes to reuse: the forged block holds
            // the forged command alone, sent in full.
            Message::ProposalDigests(p) if to % 2 == 1 => {
                let forged = Command::new(format!("forged-r{}", p.round));
                let block = Block {
                    round: p.round,
                    height: p.height,
                    justify: p.justify,
                    author: p.author,
                    payload: vec![forged],
                };
                vec![Message::Proposal(Proposal::new(block, p.tc))]
            }
            other => vec![other],
        })
    }
}

/// One action of a HotStuff replica.
pub type Act = Action<Message, Timer>;

/// The keys of the test committee of `n`, by replica index.
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

/// Feed one event to `r` and return exactly the actions it produced, in order.
pub fn step(
    r: &mut HotStuff,
    event: impl FnOnce(&mut HotStuff, &mut Actions<Message, Timer>),
) -> Vec<Act> {
    let mut out = Actions::new();
    event(r, &mut out);
    out.drain().collect()
}

/// `r` receives `msg` from `from`.
pub fn recv(r: &mut HotStuff, from: ReplicaIndex, msg: Message) -> Vec<Act> {
    step(r, |r, out| r.on_message(from, msg, out))
}

/// The votes among `acts`.
pub fn votes(acts: &[Act]) -> Vec<consensus_hotstuff::message::Vote> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Broadcast { msg: Message::Vote(v) } => Some(v.clone()),
            _ => None,
        })
        .collect()
}

use consensus_hotstuff::message::{QuorumCert, TimeoutCert, Vote, leader};

/// A certificate for `block` in a shard of `keys.len()`, signed by `voters`.
pub fn qc(keys: &[Keypair], block: &Block, voters: &[ReplicaIndex]) -> QuorumCert {
    let d = block.digest();
    let votes = voters
        .iter()
        .map(|v| (*v, Vote::new(d, block.round, block.height, *v, &keys[*v as usize]).signature))
        .collect();
    QuorumCert { block: d, round: block.round, height: block.height, votes }
}

/// A block of `round` on `justify` with one command `label`, by the round's leader.
pub fn block(n: usize, round: u64, justify: QuorumCert, label: &str) -> Block {
    Block {
        round,
        height: justify.height + 1,
        justify,
        author: leader(round, n),
        payload: vec![cmd(label)],
    }
}

/// The proposal of `b` (sent by its author).
pub fn proposal(b: Block, tc: Option<TimeoutCert>) -> Message {
    Message::Proposal(Proposal::new(b, tc))
}

/// The deliveries among `acts`.
pub fn deliveries(acts: &[Act]) -> Vec<(u64, Vec<Command>)> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Deliver { sequence, commands } => Some((*sequence, commands.clone())),
            _ => None,
        })
        .collect()
}
