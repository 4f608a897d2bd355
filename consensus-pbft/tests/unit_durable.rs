//! What a PBFT replica keeps across a crash: restored on its durable state, a backup
//! never prepares a second batch at a `(view, seq)` it prepared before, and a primary
//! never pre-prepares a sequence number of its view twice.

mod common;

use chainspace_core::consensus::{Action, Consensus};
use common::*;
use consensus_pbft::{Invalid, Message};

const N: usize = 4;

fn prepares(acts: &[Act]) -> usize {
    acts.iter().filter(|a| matches!(a, Action::Broadcast { msg: Message::Prepare(_) })).count()
}

fn pre_prepare_seqs(acts: &[Act]) -> Vec<u64> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Broadcast { msg: Message::PrePrepareDigests(pp) } => Some(pp.seq),
            _ => None,
        })
        .collect()
}

#[test]
fn a_restored_backup_does_not_prepare_a_second_batch_at_a_view_and_seq() {
    let keys = test_keys(N);
    let mut r = replica(&sim_config(), N, 1);
    let v0 = r.durable_version();
    let first = pre_prepare(&keys, 0, 1, vec![cmd("a")]);
    assert_eq!(prepares(&recv(&mut r, 0, Message::PrePrepare(first.clone()))), 1);
    assert_ne!(r.durable_version(), v0, "a prepare changes the durable state");
    let state = r.durable_state();
    // After a crash, an equivocating primary offers another batch at (0, 1).
    let other = pre_prepare(&keys, 0, 1, vec![cmd("b")]);
    let mut again = replica(&sim_config(), N, 1);
    again.restore(&state).unwrap();
    assert_eq!(prepares(&recv(&mut again, 0, Message::PrePrepare(other.clone()))), 0);
    assert_eq!(again.last_invalid(), Some(&Invalid::Equivocation { view: 0, seq: 1 }));
    // The batch it did prepare is prepared again (a retransmission is harmless).
    let mut again = replica(&sim_config(), N, 1);
    again.restore(&state).unwrap();
    assert_eq!(prepares(&recv(&mut again, 0, Message::PrePrepare(first))), 1);
    // Without its state, the restarted replica would have prepared the other batch.
    let mut forgetful = replica(&sim_config(), N, 1);
    assert_eq!(prepares(&recv(&mut forgetful, 0, Message::PrePrepare(other))), 1);
}

#[test]
fn a_restored_primary_does_not_reuse_a_sequence_number_of_its_view() {
    let mut p = replica(&sim_config(), N, 0);
    let acts = submit(&mut p, cmd("x"));
    assert_eq!(pre_prepare_seqs(&acts), vec![1]);
    let state = p.durable_state();
    let mut again = replica(&sim_config(), N, 0);
    again.restore(&state).unwrap();
    // Sequence 1 counts as in flight, so the batch waits for the batch timer.
    let mut acts = submit(&mut again, cmd("y"));
    acts.extend(fire(&mut again, consensus_pbft::Timer::Batch));
    assert_eq!(pre_prepare_seqs(&acts), vec![2], "sequence 1 of view 0 was used");
}

#[test]
fn a_replica_that_left_a_view_does_not_return_to_it() {
    let mut r = replica(&sim_config(), N, 2);
    // Ticks without progress on a waiting request lead to a view change.
    submit(&mut r, cmd("stuck"));
    for _ in 0..3 * sim_config().request_timeout_ticks {
        fire(&mut r, consensus_pbft::Timer::Tick);
    }
    assert!(r.in_view_change() && r.view() >= 1);
    let mut again = replica(&sim_config(), N, 2);
    again.restore(&r.durable_state()).unwrap();
    assert_eq!((again.view(), again.in_view_change()), (r.view(), true));
    assert!(again.restore(b"\xff").is_err(), "garbage is refused");
}
