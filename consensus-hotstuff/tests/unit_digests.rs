//! Proposals that name their commands by digest (`proposal_digests`): rebuilt from the
//! commands a replica holds, fetched in full from the leader when it lacks any, one
//! event at a time.

mod common;

use chainspace_core::consensus::{Action, Consensus};
use common::{block, cmd, proposal, qc, recv, replica, sim_config, step, test_keys, votes};
use consensus_hotstuff::message::{FetchProposal, Proposal, QuorumCert};
use consensus_hotstuff::{HotStuffConfig, Invalid, Message};

const N: usize = 4;

/// Leader 0's proposal of round 1 holding `labels`.
fn round_one(labels: &[&str]) -> Proposal {
    let mut b = block(N, 1, QuorumCert::genesis(), labels[0]);
    b.payload = labels.iter().map(|l| cmd(l)).collect();
    Proposal::new(b, None)
}

fn holding(
    index: chainspace_core::types::ReplicaIndex,
    labels: &[&str],
) -> consensus_hotstuff::HotStuff {
    let mut r = replica(&sim_config(), N, index);
    step(&mut r, |r, out| r.on_start(out));
    for l in labels {
        step(&mut r, |r, out| r.propose(cmd(l), out));
    }
    r
}

#[test]
fn a_replica_holding_every_command_rebuilds_the_block_and_votes_for_it() {
    let p = round_one(&["a", "b"]);
    let mut r = holding(1, &["b", "a"]);
    let acts = recv(&mut r, 0, Message::ProposalDigests(p.by_digest()));
    let v = votes(&acts);
    assert_eq!(v.len(), 1, "{acts:?}");
    assert_eq!(v[0].block, p.block.digest(), "the very block the leader proposed");
    assert_eq!(r.stats().proposals_fetched, 0);
}

#[test]
fn a_replica_lacking_a_command_asks_the_leader_and_votes_once_it_has_the_block() {
    let p = round_one(&["a", "b"]);
    let mut r = holding(1, &["a"]);
    let acts = recv(&mut r, 0, Message::ProposalDigests(p.by_digest()));
    let fetch = FetchProposal { round: 1, block: p.block.digest() };
    assert_eq!(acts, vec![Action::Send { to: 0, msg: Message::FetchProposal(fetch) }]);
    assert_eq!(r.stats().proposals_fetched, 1);
    let acts = recv(&mut r, 0, Message::Proposal(p.clone()));
    assert_eq!(votes(&acts).len(), 1, "{acts:?}");
    // Held now: the digest form again is not fetched again.
    assert!(votes(&recv(&mut r, 0, Message::ProposalDigests(p.by_digest()))).is_empty());
    assert_eq!(r.stats().proposals_fetched, 1);
}

#[test]
fn the_leader_answers_a_fetch_with_its_full_proposal_and_nothing_else() {
    let mut leader = holding(0, &[]);
    let acts = step(&mut leader, |r, out| r.propose(cmd("a"), out));
    let timer = acts.iter().any(|a| matches!(a, Action::SetTimer { .. }));
    assert!(timer, "a partial batch waits for its timer: {acts:?}");
    let acts = step(&mut leader, |r, out| r.on_timer(consensus_hotstuff::Timer::Batch, out));
    let sent = acts
        .iter()
        .find_map(|a| match a {
            Action::Broadcast { msg: Message::ProposalDigests(p) } => Some(p.clone()),
            _ => None,
        })
        .expect("a proposal by digest");
    let digest = sent.block_digest();
    let asked = FetchProposal { round: 1, block: digest };
    let acts = recv(&mut leader, 2, Message::FetchProposal(asked));
    match &acts[..] {
        [Action::Send { to: 2, msg: Message::Proposal(p) }] => {
            assert_eq!(p.block.digest(), digest);
            assert_eq!(p.by_digest(), sent);
        }
        other => panic!("expected the full proposal: {other:?}"),
    }
    let wrong = FetchProposal { round: 1, block: cmd("x").digest() };
    assert!(recv(&mut leader, 2, Message::FetchProposal(wrong)).is_empty());
    let unknown = FetchProposal { round: 7, block: digest };
    assert!(recv(&mut leader, 2, Message::FetchProposal(unknown)).is_empty());
    assert_eq!(leader.stats().ignored_messages, 2);
}

#[test]
fn a_digest_proposal_from_a_wrong_sender_or_with_too_many_commands_is_invalid() {
    let p = round_one(&["a"]);
    let mut r = holding(1, &[]);
    assert!(recv(&mut r, 2, Message::ProposalDigests(p.by_digest())).is_empty());
    assert!(matches!(r.last_invalid(), Some(Invalid::WrongSender { from: 2, .. })));
    let mut too_many = p.by_digest();
    too_many.commands = vec![cmd("a").digest(); sim_config().max_batch + 1];
    assert!(recv(&mut r, 0, Message::ProposalDigests(too_many)).is_empty());
    assert!(matches!(r.last_invalid(), Some(Invalid::BatchTooLarge { .. })));
    assert_eq!(r.stats().proposals_fetched, 0);
}

#[test]
fn a_digest_proposal_is_voted_for_as_the_block_its_list_names() {
    // Proposals are not signed: the sender is the author, so whatever list it sends is
    // its proposal, and the vote (which is signed) names the block rebuilt from that list.
    let p = round_one(&["a", "b"]);
    let mut r = holding(1, &["a", "b"]);
    let mut swapped = p.by_digest();
    swapped.commands.reverse();
    let v = votes(&recv(&mut r, 0, Message::ProposalDigests(swapped.clone())));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].block, swapped.block_digest());
    assert_ne!(v[0].block, p.block.digest());
}

#[test]
fn with_proposal_digests_off_the_leader_sends_blocks_in_full() {
    let cfg = HotStuffConfig { proposal_digests: false, ..sim_config() };
    let mut leader = replica(&cfg, N, 0);
    step(&mut leader, |r, out| r.on_start(out));
    step(&mut leader, |r, out| r.propose(cmd("a"), out));
    let acts = step(&mut leader, |r, out| r.on_timer(consensus_hotstuff::Timer::Batch, out));
    assert!(acts.iter().any(|a| matches!(a, Action::Broadcast { msg: Message::Proposal(_) })));
    assert!(
        !acts.iter().any(|a| matches!(a, Action::Broadcast { msg: Message::ProposalDigests(_) }))
    );
}

#[test]
fn a_replica_does_not_fetch_for_a_round_it_has_left() {
    let keys = test_keys(N);
    let p = round_one(&["a"]);
    let mut r = holding(2, &[]);
    // A certificate for round 1 (carried by round 2's proposal) moves r to round 2.
    let b2 = block(N, 2, qc(&keys, &p.block, &[0, 1, 3]), "b2");
    recv(&mut r, 1, proposal(b2, None));
    assert_eq!(r.round(), 2);
    assert!(recv(&mut r, 0, Message::ProposalDigests(p.by_digest())).is_empty());
    assert_eq!(r.stats().proposals_fetched, 0);
}
