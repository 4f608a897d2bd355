//! The commit rule, the pacemaker and vote checking, one event at a time.

mod common;

use chainspace_core::consensus::Consensus;
use common::{block, deliveries, proposal, qc, recv, replica, sim_config, test_keys, votes};
use consensus_hotstuff::message::{QuorumCert, Timeout, Vote};
use consensus_hotstuff::{Invalid, Message};

const N: usize = 4;

/// Replica 3 sees `b1 <- b2 <- b3` in rounds 1-3, then two more votes for b3: with its
/// own, a certificate for b3 completes a three-chain of consecutive rounds and b1
/// commits, at sequence number 1, and nothing else does.
#[test]
fn a_three_chain_of_consecutive_rounds_commits_its_head() {
    let keys = test_keys(N);
    let mut r = replica(&sim_config(), N, 3);
    let b1 = block(N, 1, QuorumCert::genesis(), "b1");
    let b2 = block(N, 2, qc(&keys, &b1, &[0, 1, 2]), "b2");
    let b3 = block(N, 3, qc(&keys, &b2, &[0, 1, 2]), "b3");
    let mut acts = Vec::new();
    for b in [b1.clone(), b2, b3.clone()] {
        acts.extend(recv(&mut r, b.author, proposal(b, None)));
    }
    assert!(deliveries(&acts).is_empty(), "two certificates commit nothing");
    let d3 = b3.digest();
    for v in [0, 1] {
        let vote = Vote::new(d3, 3, 3, v, &keys[v as usize]);
        acts = recv(&mut r, v, Message::Vote(vote));
    }
    assert_eq!(deliveries(&acts), vec![(1, b1.payload.clone())]);
    assert_eq!(r.committed_height(), 1);
    assert_eq!(r.round(), 4, "the certificate for round 3 moves the replica to round 4");
    // What was delivered is known as such (the replica answers late submissions from it);
    // what is only proposed is not.
    for c in &b1.payload {
        assert!(r.delivered_recently(&c.digest()));
    }
    for c in &b3.payload {
        assert!(!r.delivered_recently(&c.digest()));
    }
}

/// A gap in the rounds (round 3 timed out) breaks the three-chain: `b1 <- b2 <- b4 <- b5`
/// commits nothing until `b4 <- b5 <- b6` are consecutive and b6 is certified; then b1, b2 and b4 commit, at
/// sequence numbers 1, 2, 3.
#[test]
fn a_gap_in_the_rounds_delays_the_commit() {
    let keys = test_keys(N);
    let mut r = replica(&sim_config(), N, 2);
    let b1 = block(N, 1, QuorumCert::genesis(), "b1");
    let b2 = block(N, 2, qc(&keys, &b1, &[0, 1, 3]), "b2");
    let timeouts = [0u32, 1, 3]
        .iter()
        .map(|i| {
            let t = Timeout::new(3, QuorumCert::genesis(), *i, &keys[*i as usize]);
            (*i, 0, t.signature)
        })
        .collect();
    let tc = consensus_hotstuff::message::TimeoutCert { round: 3, timeouts };
    let b4 = block(N, 4, qc(&keys, &b2, &[0, 1, 3]), "b4");
    let b5 = block(N, 5, qc(&keys, &b4, &[0, 1, 3]), "b5");
    let b6 = block(N, 6, qc(&keys, &b5, &[0, 1, 3]), "b6");
    let mut all = Vec::new();
    all.extend(recv(&mut r, 0, proposal(b1.clone(), None)));
    all.extend(recv(&mut r, 1, proposal(b2.clone(), None)));
    all.extend(recv(&mut r, 3, proposal(b4.clone(), Some(tc))));
    all.extend(recv(&mut r, 0, proposal(b5, None)));
    all.extend(recv(&mut r, 1, proposal(b6.clone(), None)));
    assert!(deliveries(&all).is_empty(), "no three consecutive rounds yet");
    // One vote per proposal, and one for its own block of round 3: it leads round 3 and
    // proposed as soon as b4 brought it the certificate of round 2.
    assert_eq!(votes(&all).len(), 6);
    // Replica 2 leads round 7: the certificate for b6 forms from the votes it gets.
    let d6 = b6.digest();
    let mut acts = recv(&mut r, 0, Message::Vote(Vote::new(d6, 6, 5, 0, &keys[0])));
    acts.extend(recv(&mut r, 1, Message::Vote(Vote::new(d6, 6, 5, 1, &keys[1]))));
    assert_eq!(
        deliveries(&acts),
        vec![(1, b1.payload.clone()), (2, b2.payload.clone()), (3, b4.payload.clone())]
    );
    assert_eq!(r.stats().view_changes, 1, "round 4 was entered by a timeout certificate");
}

/// `f + 1` timeouts for the current round make a replica join; a quorum forms a timeout
/// certificate and the replica enters the next round.
#[test]
fn timeouts_join_then_certify_the_round() {
    let keys = test_keys(N);
    let mut r = replica(&sim_config(), N, 3);
    let t0 = Timeout::new(1, QuorumCert::genesis(), 0, &keys[0]);
    assert!(recv(&mut r, 0, Message::Timeout(t0)).is_empty(), "one timeout: no action");
    let t1 = Timeout::new(1, QuorumCert::genesis(), 1, &keys[1]);
    let acts = recv(&mut r, 1, Message::Timeout(t1));
    let own = Timeout::new(1, QuorumCert::genesis(), 3, &keys[3]);
    assert!(
        acts.iter().any(|a| matches!(a, chainspace_core::consensus::Action::Broadcast { msg: Message::Timeout(t) } if *t == own)),
        "f + 1 timeouts: the replica joins with its own"
    );
    assert_eq!(r.round(), 2, "with its own timeout a quorum certifies round 1");
    assert_eq!(r.stats().view_changes, 1);
    // It timed out round 1, so it never votes in it.
    let late = block(N, 1, QuorumCert::genesis(), "late");
    assert!(votes(&recv(&mut r, 0, proposal(late, None))).is_empty());
}

/// A bad vote among a quorum is found when the batch check fails, counted, and the
/// certificate waits for a good one.
#[test]
fn a_bad_vote_is_found_and_counted() {
    let keys = test_keys(N);
    let mut r = replica(&sim_config(), N, 3);
    let b1 = block(N, 1, QuorumCert::genesis(), "b1");
    let d = b1.digest();
    recv(&mut r, 0, proposal(b1, None));
    let mut bad = Vote::new(d, 1, 1, 1, &keys[1]);
    bad.signature = Vote::new(d, 1, 1, 2, &keys[2]).signature;
    let acts = recv(&mut r, 1, Message::Vote(bad));
    assert!(acts.is_empty());
    let acts = recv(&mut r, 2, Message::Vote(Vote::new(d, 1, 1, 2, &keys[2])));
    assert_eq!(r.stats().invalid_messages, 1);
    assert_eq!(r.last_invalid(), Some(&Invalid::Signature("vote")));
    assert!(acts.is_empty(), "two good votes of three: no certificate yet");
    assert_eq!(r.round(), 1);
    recv(&mut r, 0, Message::Vote(Vote::new(d, 1, 1, 0, &keys[0])));
    assert_eq!(r.round(), 2, "the third good vote completes the certificate");
    assert_eq!(r.high_qc().round, 1);
}
