//! The safety rules, one event at a time: a replica never votes twice in a round, never
//! votes against its lock, and drops what does not verify; and, in simulation, a leader
//! that forks never gets two conflicting blocks committed.

mod common;

use std::time::Duration;

use chainspace_core::consensus::Consensus;
use chainspace_core::crypto::Keypair;
use chainspace_core::sim::{NetworkModel, Simulation};
use chainspace_core::types::ReplicaIndex;
use common::{proposal, qc, recv, replica, sim_config, test_keys, votes};
use consensus_hotstuff::message::{Block, QuorumCert, Timeout, TimeoutCert};
use consensus_hotstuff::{HotStuff, Invalid};

const N: usize = 4;

fn block(round: u64, justify: QuorumCert, label: &str) -> Block {
    common::block(N, round, justify, label)
}

#[test]
fn never_votes_for_two_blocks_in_one_round() {
    let mut r = replica(&sim_config(), N, 2);
    let a = block(1, QuorumCert::genesis(), "a");
    let b = block(1, QuorumCert::genesis(), "b");
    let first = votes(&recv(&mut r, 0, proposal(a.clone(), None)));
    assert_eq!(first.len(), 1, "votes for the first proposal of round 1");
    assert_eq!(first[0].block, a.digest());
    let second = votes(&recv(&mut r, 0, proposal(b, None)));
    assert!(second.is_empty(), "never a second vote in round 1");
    assert_eq!(r.last_voted_round(), 1);
}

/// Replica 3 sees rounds 1-3 certify `b1 <- b2 <- b3`, so it locks on b1's certificate;
/// then a timeout certificate for round 4 lets the leader of round 5 propose.
fn locked_replica(keys: &[Keypair]) -> (HotStuff, Block, QuorumCert, TimeoutCert) {
    let mut r = replica(&sim_config(), N, 3);
    let b1 = block(1, QuorumCert::genesis(), "b1");
    let qc1 = qc(keys, &b1, &[0, 1, 2]);
    let b2 = block(2, qc1.clone(), "b2");
    let qc2 = qc(keys, &b2, &[0, 1, 2]);
    let b3 = block(3, qc2.clone(), "b3");
    for b in [b1.clone(), b2, b3] {
        let from = b.author;
        let acts = recv(&mut r, from, proposal(b, None));
        assert_eq!(votes(&acts).len(), 1);
    }
    assert_eq!(r.locked_round(), 1, "locked on the certificate of b1");
    let timeouts = (0..3)
        .map(|i| {
            let t = Timeout::new(4, QuorumCert::genesis(), i, &keys[i as usize]);
            (i, 0, t.signature)
        })
        .collect();
    (r, b1, qc2, TimeoutCert { round: 4, timeouts })
}

#[test]
fn never_votes_against_its_lock() {
    let keys = test_keys(N);
    let (mut r, _, _, tc) = locked_replica(&keys);
    // A fork from genesis: it neither extends b1 nor carries a newer certificate.
    let fork = block(5, QuorumCert::genesis(), "fork");
    let acts = recv(&mut r, 0, proposal(fork, Some(tc)));
    assert!(votes(&acts).is_empty(), "no vote for a block that conflicts with the lock");
    assert_eq!(r.round(), 5);
}

#[test]
fn votes_for_a_block_justified_above_the_lock() {
    let keys = test_keys(N);
    let (mut r, _, qc2, tc) = locked_replica(&keys);
    let next = block(5, qc2, "next");
    let acts = recv(&mut r, 0, proposal(next.clone(), Some(tc)));
    let v = votes(&acts);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].block, next.digest());
}

#[test]
fn a_proposal_not_from_the_leader_or_not_from_its_author_is_dropped() {
    let keys = test_keys(N);
    let mut r = replica(&sim_config(), N, 2);
    let a = block(1, QuorumCert::genesis(), "a");
    // Authored and sent by replica 1, which does not lead round 1.
    let usurped = Block { author: 1, ..a.clone() };
    assert!(recv(&mut r, 1, proposal(usurped, None)).is_empty());
    assert_eq!(r.last_invalid(), Some(&Invalid::Proof("proposal not by the round's leader")));
    // Sent by someone other than its author.
    assert!(recv(&mut r, 1, proposal(a, None)).is_empty());
    assert!(matches!(r.last_invalid(), Some(Invalid::WrongSender { .. })));
    // A certificate below quorum.
    let b1 = block(1, QuorumCert::genesis(), "b1");
    let weak = qc(&keys, &b1, &[0, 1]);
    assert!(recv(&mut r, 1, proposal(block(2, weak, "b2"), None)).is_empty());
    assert_eq!(r.last_invalid(), Some(&Invalid::Proof("certificate below quorum")));
    assert_eq!(r.stats().invalid_messages, 3);
    assert_eq!(r.last_voted_round(), 0);
}

/// A leader that sends conflicting, well-formed blocks to odd and even replicas never
/// gets two of them committed: every correct replica delivers the same log.
#[test]
fn a_forking_leader_never_commits_conflicting_blocks() {
    use chainspace_core::sim::conformance::Subject;
    let subject = common::HotStuffSubject::default();
    for seed in 0..30 {
        let cfg = sim_config();
        let mut sim =
            Simulation::new(N, seed, NetworkModel::default(), move |i| replica(&cfg, N, i));
        // Every leader forks, one at a time.
        let byz = (seed % N as u64) as ReplicaIndex;
        sim.intercept(byz, subject.equivocator(N, byz));
        for k in 0..40u64 {
            for r in 0..N as ReplicaIndex {
                let c = chainspace_core::types::Command::new(format!("s{seed}-c{k}"));
                sim.propose_at(Duration::from_millis(5 * k), r, c);
            }
        }
        sim.run_until(Duration::from_secs(5));
        let correct: Vec<ReplicaIndex> = (0..N as ReplicaIndex).filter(|r| *r != byz).collect();
        for &a in &correct {
            for &b in &correct {
                let (la, lb) = (&sim.app(a).batches, &sim.app(b).batches);
                for (s, batch) in la {
                    if let Some(other) = lb.get(s) {
                        assert_eq!(batch, other, "seed {seed}: r{a} and r{b} differ at n={s}");
                    }
                }
            }
            assert!(sim.app(a).last() > 0, "seed {seed}: r{a} made progress");
        }
    }
}

/// A replica restarted on its durable state never votes again in a round it voted in,
/// nor against its lock: `durable_version` changes with every vote, so the driver writes
/// the state before the vote leaves.
#[test]
fn a_restored_replica_remembers_its_votes_and_lock() {
    let mut r = replica(&sim_config(), N, 1);
    let v0 = r.durable_version();
    let b1 = block(1, QuorumCert::genesis(), "b1");
    let acts = recv(&mut r, 0, proposal(b1.clone(), None));
    assert_eq!(votes(&acts).len(), 1, "votes for round 1");
    assert_ne!(r.durable_version(), v0, "a vote changes the durable state");
    let state = r.durable_state();
    // The same replica after a crash, on its durable state.
    let mut again = replica(&sim_config(), N, 1);
    again.restore(&state).unwrap();
    assert_eq!(again.last_voted_round(), 1);
    assert_eq!(again.durable_version(), r.durable_version());
    // A conflicting block for round 1 (an equivocating leader) gets no second vote.
    let other = block(1, QuorumCert::genesis(), "b1'");
    assert!(votes(&recv(&mut again, 0, proposal(other.clone(), None))).is_empty());
    // Without the state, the restarted replica would have voted for it.
    let mut forgetful = replica(&sim_config(), N, 1);
    assert_eq!(votes(&recv(&mut forgetful, 0, proposal(other, None))).len(), 1);
    // Garbage is refused, and changes nothing.
    let mut bad = replica(&sim_config(), N, 1);
    assert!(bad.restore(b"\xff\xff\xff").is_err());
    assert_eq!(bad.last_voted_round(), 0);
}
