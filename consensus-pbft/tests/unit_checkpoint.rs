//! Unit tests of checkpoints and garbage collection (Castro and Liskov, section 4.3): each
//! test feeds one event at a time to one replica and compares the exact actions.
//!
//! The chain of events checked: executing sequence K (`checkpoint_interval`, 8 in
//! `sim_config()`) delivers and then asks the application for a snapshot; the snapshot
//! makes the replica broadcast one signed checkpoint; a quorum of matching checkpoints
//! makes K stable, which discards the log up to K and moves the window (16) on. These
//! are exactly the steps that bound a replica's memory and let a lagging replica be
//! brought up to date, so an action missing or out of order here breaks both.
//!
//! Four replicas (f = 1, quorums of 3); replica 0 is the primary of view 0.

mod common;

use chainspace_core::consensus::{Action, Consensus};
use chainspace_core::crypto::{Digest, Keypair, sha256};
use chainspace_core::snapshot::Snapshot;
use common::*;
use consensus_pbft::message::Checkpoint;
use consensus_pbft::{Message, Pbft};

const N: usize = 4;
const K: u64 = 8;

fn batch(seq: u64) -> Vec<chainspace_core::types::Command> {
    vec![cmd(&format!("c{seq}"))]
}

/// Decide sequence numbers `from..=to` at backup `r`, checking the exact actions of each.
fn run_backup(r: &mut Pbft, k: &[Keypair], from: u64, to: u64) {
    for seq in from..=to {
        let mut expected = backup_decides(k, r.index(), 0, seq, batch(seq), batch(seq));
        if seq % K == 0 {
            expected.push(Action::TakeSnapshot { sequence: seq });
        }
        assert_eq!(decide(r, k, 0, seq, batch(seq)), expected, "sequence {seq}");
    }
}

/// The state digest in the one checkpoint broadcast in `acts`.
fn broadcast_checkpoint(acts: &[Act]) -> Checkpoint {
    match acts {
        [Action::Broadcast { msg: Message::Checkpoint(cp) }] => cp.clone(),
        other => panic!("expected one checkpoint broadcast, got {other:?}"),
    }
}

/// A backup that executed 1..=K and took its checkpoint with application state `app`.
fn backup_at_checkpoint(index: u32, app: &[u8]) -> (Pbft, Vec<Keypair>, Digest) {
    let k = test_keys(N);
    let mut r = replica(&sim_config(), N, index);
    run_backup(&mut r, &k, 1, K);
    let acts = step(&mut r, |r, out| r.on_snapshot(K, Snapshot::single(app.to_vec()), out));
    let state = broadcast_checkpoint(&acts).state;
    (r, k, state)
}

fn checkpoint_msg(k: &[Keypair], seq: u64, state: Digest, who: u32) -> Message {
    Message::Checkpoint(Checkpoint::new(seq, state, who, &k[who as usize]))
}

#[test]
fn executing_the_checkpoint_sequence_delivers_then_asks_for_a_snapshot() {
    let k = test_keys(N);
    let mut r = replica(&sim_config(), N, 1);
    run_backup(&mut r, &k, 1, K - 1);
    let acts = decide(&mut r, &k, 0, K, batch(K));
    let mut expected = backup_decides(&k, 1, 0, K, batch(K), batch(K));
    expected.push(Action::TakeSnapshot { sequence: K });
    assert_eq!(acts, expected);
    // The next one is an ordinary delivery again.
    run_backup(&mut r, &k, K + 1, K + 1);
}

#[test]
fn the_snapshot_makes_the_replica_broadcast_one_signed_checkpoint() {
    let k = test_keys(N);
    let mut r = replica(&sim_config(), N, 1);
    run_backup(&mut r, &k, 1, K);
    let acts =
        step(&mut r, |r, out| r.on_snapshot(K, Snapshot::single(b"app state at 8".to_vec()), out));
    // Replica 2, with the same history and application state, vouches for the same state.
    let (_, _, state) = backup_at_checkpoint(2, b"app state at 8");
    let expected = Checkpoint::new(K, state, 1, &k[1]);
    assert_eq!(acts, vec![bcast(Message::Checkpoint(expected.clone()))]);
    assert!(k[1].public().verify(
        b"chainspace/pbft/checkpoint",
        &expected.signed_bytes(),
        &expected.signature
    ));
    // Another application state gives another checkpoint digest.
    let (_, _, other) = backup_at_checkpoint(3, b"another app state");
    assert_ne!(other, state);
    // Only one checkpoint and no stable checkpoint yet.
    assert_eq!(r.stable_checkpoint(), 0);
}

#[test]
fn a_snapshot_that_was_not_asked_for_does_nothing() {
    let k = test_keys(N);
    let mut r = replica(&sim_config(), N, 1);
    run_backup(&mut r, &k, 1, K);
    assert_eq!(
        step(&mut r, |r, out| r.on_snapshot(K - 1, Snapshot::single(b"x".to_vec()), out)),
        vec![]
    );
    assert_eq!(
        step(&mut r, |r, out| r.on_snapshot(2 * K, Snapshot::single(b"x".to_vec()), out)),
        vec![]
    );
    // The one asked for is answered once.
    let acts = step(&mut r, |r, out| r.on_snapshot(K, Snapshot::single(b"x".to_vec()), out));
    broadcast_checkpoint(&acts);
    assert_eq!(
        step(&mut r, |r, out| r.on_snapshot(K, Snapshot::single(b"x".to_vec()), out)),
        vec![]
    );
}

#[test]
fn a_quorum_of_matching_checkpoints_makes_it_stable_and_collects_garbage() {
    let (mut r, k, state) = backup_at_checkpoint(1, b"app");
    run_backup(&mut r, &k, K + 1, K + 1);
    assert_eq!(r.log_len(), (K + 1) as usize);
    // Own checkpoint + replica 2's: 2 < 3.
    assert_eq!(recv(&mut r, 2, checkpoint_msg(&k, K, state, 2)), vec![]);
    assert_eq!(r.stable_checkpoint(), 0);
    assert_eq!(r.log_len(), (K + 1) as usize);
    // Replica 3's makes a quorum: stable, and sequence numbers 1..=K are discarded.
    assert_eq!(recv(&mut r, 3, checkpoint_msg(&k, K, state, 3)), vec![]);
    assert_eq!(r.stable_checkpoint(), K);
    assert_eq!(r.log_len(), 1);
    assert_eq!(r.last_delivered(), K + 1);
    // A late checkpoint for K is stale now.
    expect_ignored(&mut r, 0, checkpoint_msg(&k, K, state, 0));
    assert_eq!(r.stats().invalid_messages, 0);
}

#[test]
fn checkpoints_that_arrive_before_the_snapshot_count_once_it_arrives() {
    let k = test_keys(N);
    let mut r = replica(&sim_config(), N, 1);
    run_backup(&mut r, &k, 1, K);
    let (_, _, state) = backup_at_checkpoint(2, b"app");
    assert_eq!(recv(&mut r, 2, checkpoint_msg(&k, K, state, 2)), vec![]);
    assert_eq!(recv(&mut r, 3, checkpoint_msg(&k, K, state, 3)), vec![]);
    assert_eq!(r.stable_checkpoint(), 0, "no stable checkpoint without its own snapshot");
    let acts = step(&mut r, |r, out| r.on_snapshot(K, Snapshot::single(b"app".to_vec()), out));
    assert_eq!(acts, vec![bcast(checkpoint_msg(&k, K, state, 1))]);
    assert_eq!(r.stable_checkpoint(), K);
    assert_eq!(r.log_len(), 0);
}

#[test]
fn checkpoints_for_another_state_do_not_count() {
    let (mut r, k, state) = backup_at_checkpoint(1, b"app");
    assert_eq!(recv(&mut r, 2, checkpoint_msg(&k, K, state, 2)), vec![]);
    assert_eq!(recv(&mut r, 3, checkpoint_msg(&k, K, sha256(b"diverged"), 3)), vec![]);
    assert_eq!(r.stable_checkpoint(), 0);
    assert_eq!(recv(&mut r, 0, checkpoint_msg(&k, K, state, 0)), vec![]);
    assert_eq!(r.stable_checkpoint(), K);
}

#[test]
fn a_stable_checkpoint_moves_the_window() {
    let (mut r, k, state) = backup_at_checkpoint(1, b"app");
    let window = sim_config().window;
    // Before: K + window is the last sequence number accepted.
    expect_ignored(&mut r, 0, Message::PrePrepare(pre_prepare(&k, 0, window + 1, vec![])));
    recv(&mut r, 2, checkpoint_msg(&k, K, state, 2));
    recv(&mut r, 3, checkpoint_msg(&k, K, state, 3));
    assert_eq!(r.stable_checkpoint(), K);
    // After: up to K + window, and nothing at or below K.
    let last = pre_prepare(&k, 0, K + window, vec![]);
    assert_eq!(
        recv(&mut r, 0, Message::PrePrepare(last.clone())),
        vec![bcast(Message::Prepare(prepare_for(&k, &last, 1)))]
    );
    expect_ignored(&mut r, 0, Message::PrePrepare(pre_prepare(&k, 0, K + window + 1, vec![])));
    let old = pre_prepare(&k, 0, K, batch(K));
    expect_ignored(&mut r, 2, Message::Prepare(prepare_for(&k, &old, 2)));
    expect_ignored(&mut r, 2, Message::Commit(commit_for(&old)));
}

#[test]
fn the_primary_waits_at_the_window_edge_until_a_checkpoint_is_stable() {
    let cfg = sim_config();
    let window = cfg.window;
    let k = test_keys(N);
    let mut r = replica(&cfg, N, 0);
    let mut snapshot_acts = Vec::new();
    // Fill the window one batch at a time; each is proposed at once (nothing in flight).
    for seq in 1..=window {
        let c = batch(seq);
        let pp = pre_prepare(&k, 0, seq, c.clone());
        assert_eq!(submit(&mut r, c[0].clone()), vec![proposal(pp.clone())]);
        let mut expected = vec![bcast(Message::Commit(commit_for(&pp))), delivered(seq, c.clone())];
        if seq % K == 0 {
            expected.push(Action::TakeSnapshot { sequence: seq });
        }
        assert_eq!(decide(&mut r, &k, 0, seq, c), expected, "sequence {seq}");
        if seq == K {
            snapshot_acts =
                step(&mut r, |r, out| r.on_snapshot(K, Snapshot::single(b"app".to_vec()), out));
        }
    }
    let state = broadcast_checkpoint(&snapshot_acts).state;
    // Sequence window + 1 is beyond the window: the request waits, with no batch timer,
    // although nothing is in flight.
    assert_eq!(submit(&mut r, cmd("late")), vec![]);
    assert_eq!(recv(&mut r, 1, checkpoint_msg(&k, K, state, 1)), vec![]);
    // The checkpoint at K becomes stable: the window moves and the request goes out.
    let acts = recv(&mut r, 2, checkpoint_msg(&k, K, state, 2));
    let pp = pre_prepare(&k, 0, window + 1, vec![cmd("late")]);
    assert_eq!(acts, vec![proposal(pp)]);
    assert_eq!(r.stable_checkpoint(), K);
}
