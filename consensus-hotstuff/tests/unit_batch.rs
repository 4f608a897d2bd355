//! How the leader cuts batches: by count (`max_batch`) and by bytes (`max_batch_bytes`),
//! one event at a time, comparing the exact actions.

mod common;

use chainspace_core::consensus::{Action, Consensus};
use common::{Act, cmd, recv, replica, sim_config, step, test_keys};
use consensus_hotstuff::message::{Block, Proposal, QuorumCert};
use consensus_hotstuff::{HotStuff, HotStuffConfig, Invalid, Message, Timer};

const N: usize = 4;

fn byte_capped() -> HotStuffConfig {
    HotStuffConfig { max_batch_bytes: 10, ..sim_config() }
}

fn submit(r: &mut HotStuff, label: &str) -> Vec<Act> {
    step(r, |r, out| r.propose(cmd(label), out))
}

/// What leader 0 sends when it proposes `payload` in round 1: the proposal (naming its
/// commands by digest), and its own vote for it.
fn first_proposal(payload: Vec<&str>) -> Vec<Act> {
    let keys = test_keys(N);
    let block = Block {
        round: 1,
        height: 1,
        justify: QuorumCert::genesis(),
        author: 0,
        payload: payload.into_iter().map(cmd).collect(),
    };
    let vote = consensus_hotstuff::message::Vote::new(block.digest(), 1, 1, 0, &keys[0]);
    vec![
        Action::Broadcast { msg: Message::ProposalDigests(Proposal::new(block, None).by_digest()) },
        Action::Broadcast { msg: Message::Vote(vote) },
    ]
}

fn started_leader(cfg: &HotStuffConfig) -> HotStuff {
    let mut r = replica(cfg, N, 0);
    step(&mut r, |r, out| r.on_start(out));
    r
}

/// Commands of 4 bytes: two fit in a 10-byte batch, a third does not. A partial batch
/// waits for the batch timer; one the next command would take past the cap goes at once.
#[test]
fn a_block_is_cut_at_the_byte_cap() {
    let cfg = byte_capped();
    let mut r = started_leader(&cfg);
    let timer = Action::SetTimer { timer: Timer::Batch, after: cfg.max_batch_delay };
    assert_eq!(submit(&mut r, "c001"), vec![timer]);
    assert_eq!(submit(&mut r, "c002"), vec![], "8 bytes: not full");
    let mut expected = vec![Action::CancelTimer { timer: Timer::Batch }];
    expected.extend(first_proposal(vec!["c001", "c002"]));
    assert_eq!(submit(&mut r, "c003"), expected);
}

#[test]
fn a_command_larger_than_the_byte_cap_goes_alone_and_at_once() {
    let cfg = byte_capped();
    let mut r = started_leader(&cfg);
    let large = "a command of 24 bytes...";
    assert_eq!(submit(&mut r, large), first_proposal(vec![large]));
}

#[test]
fn a_proposal_over_the_byte_cap_is_invalid_unless_it_holds_one_command() {
    let cfg = byte_capped();
    let mut r = replica(&cfg, N, 1);
    let block = |payload: Vec<&str>| Block {
        round: 1,
        height: 1,
        justify: QuorumCert::genesis(),
        author: 0,
        payload: payload.into_iter().map(cmd).collect(),
    };
    let too_big = block(vec!["c001", "c002", "c003"]);
    let acts = recv(&mut r, 0, Message::Proposal(Proposal::new(too_big, None)));
    assert_eq!(acts, vec![]);
    assert_eq!(r.stats().invalid_messages, 1);
    assert_eq!(r.last_invalid(), Some(&Invalid::BatchTooManyBytes { bytes: 12, max: 10 }));
    let alone = block(vec!["a command of 24 bytes..."]);
    let acts = recv(&mut r, 0, Message::Proposal(Proposal::new(alone, None)));
    assert!(
        acts.iter().any(|a| matches!(a, Action::Send { msg: Message::Vote(_), .. })
            || matches!(a, Action::Broadcast { msg: Message::Vote(_) })),
        "{acts:?}"
    );
    assert_eq!(r.stats().invalid_messages, 1);
}

#[test]
fn a_forwarded_request_over_the_byte_cap_is_invalid() {
    let cfg = byte_capped();
    let mut r = replica(&cfg, N, 0);
    let batch = vec![cmd("c001"), cmd("c002"), cmd("c003")];
    assert_eq!(recv(&mut r, 1, Message::Request(batch)), vec![]);
    assert_eq!(r.last_invalid(), Some(&Invalid::BatchTooManyBytes { bytes: 12, max: 10 }));
}
