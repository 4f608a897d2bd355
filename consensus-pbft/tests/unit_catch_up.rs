//! Unit tests of catch-up and state transfer (BFT-SMaRt's state transfer on top of PBFT's
//! checkpoints): each test feeds one event at a time to one replica and compares the exact
//! actions.
//!
//! A replica that is behind broadcasts a `Status`; a peer answers with its own
//! normal-case messages of the current view that the laggard may have lost, the `Decided`
//! batches it misses, its stable checkpoint's snapshot when the laggard is behind the
//! peer's garbage-collected log, and the `NewView` of a view the laggard did not enter.
//! The laggard accepts a decided batch only once `f + 1` replicas sent the same one (at
//! least one of them is correct), and a snapshot only with a quorum proof. What is sent
//! matters as much as what is accepted: an answer that leaves a gap stalls the laggard,
//! and one that is too eager wastes the bandwidth that catch-up competes for.
//!
//! Four replicas (f = 1, quorums of 3, f + 1 = 2); `sim_config()` (checkpoint every 8).

mod common;

use chainspace_core::consensus::{Action, Consensus};
use chainspace_core::crypto::Keypair;
use chainspace_core::snapshot::Snapshot;
use chainspace_core::types::Command;
use common::*;
use consensus_pbft::checkpoint::PbftSnapshot;
use consensus_pbft::message::{Checkpoint, Decided, NewView, StateReply, Status};
use consensus_pbft::{Message, Pbft, PbftConfig};

const N: usize = 4;
const K: u64 = 8;

fn batch(seq: u64) -> Vec<Command> {
    vec![cmd(&format!("c{seq}"))]
}

fn status_msg(view: u64, last_executed: u64) -> Message {
    Message::Status(Status { view, last_executed })
}

fn decided_msg(seq: u64, batch: Vec<Command>) -> Message {
    Message::Decided(Decided { seq, batch })
}

/// Backup `index` of view 0 that executed `1..=upto` through the normal case.
fn backup_that_executed(cfg: &PbftConfig, index: u32, upto: u64) -> (Pbft, Vec<Keypair>) {
    let k = test_keys(N);
    let mut r = replica(cfg, N, index);
    for seq in 1..=upto {
        decide(&mut r, &k, 0, seq, batch(seq));
    }
    assert_eq!(r.last_delivered(), upto);
    (r, k)
}

/// What backup `me` retransmits for sequence number `seq` of view 0 that it prepared and
/// committed: its prepare and its commit.
fn retransmission(k: &[Keypair], me: u32, to: u32, seq: u64) -> Vec<Act> {
    let pp = pre_prepare(k, 0, seq, batch(seq));
    vec![
        send_to(to, Message::Prepare(prepare_for(k, &pp, me))),
        send_to(to, Message::Commit(commit_for(&pp))),
    ]
}

#[test]
fn a_status_from_a_replica_behind_gets_the_decided_batches_it_misses() {
    let (mut r, k) = backup_that_executed(&sim_config(), 1, 3);
    let acts = recv(&mut r, 2, status_msg(0, 1));
    // Its own prepares and commits of 2 and 3 (the same view), then the decided batches.
    let mut expected = retransmission(&k, 1, 2, 2);
    expected.extend(retransmission(&k, 1, 2, 3));
    expected.push(send_to(2, decided_msg(2, batch(2))));
    expected.push(send_to(2, decided_msg(3, batch(3))));
    assert_eq!(acts, expected);
}

/// A replica that is behind asks at every tick, and the answer can be many MB: what a
/// peer was sent is not sent to it again for `request_timeout_ticks` ticks, while what
/// it was not sent yet goes at once.
#[test]
fn a_replica_asking_again_is_not_sent_the_same_batches_before_the_request_timeout() {
    let (mut r, k) = backup_that_executed(&sim_config(), 1, 3);
    let first = recv(&mut r, 2, status_msg(0, 1));
    assert_eq!(first.len(), 6, "{first:?}");
    assert_eq!(recv(&mut r, 2, status_msg(0, 1)), vec![], "asked again at once");
    // Another replica is answered on its own account.
    assert_eq!(recv(&mut r, 3, status_msg(0, 1)).len(), 6);
    // Sequence number 4 executes here: news to the peer, sent at once, alone.
    decide(&mut r, &k, 0, 4, batch(4));
    let mut expected = retransmission(&k, 1, 2, 4);
    expected.push(send_to(2, decided_msg(4, batch(4))));
    assert_eq!(recv(&mut r, 2, status_msg(0, 1)), expected);
    // After the request timeout, everything it misses goes again.
    for _ in 0..sim_config().request_timeout_ticks {
        fire(&mut r, consensus_pbft::Timer::Tick);
    }
    let mut expected = Vec::new();
    for seq in 2..=4 {
        expected.extend(retransmission(&k, 1, 2, seq));
    }
    for seq in 2..=4 {
        expected.push(send_to(2, decided_msg(seq, batch(seq))));
    }
    assert_eq!(recv(&mut r, 2, status_msg(0, 1)), expected);
}

#[test]
fn a_status_from_a_replica_in_another_view_gets_only_the_decided_batches() {
    // The laggard already moved to a view this replica has not entered: normal-case
    // messages of view 0 would be stale there.
    let (mut r, _) = backup_that_executed(&sim_config(), 1, 3);
    let acts = recv(&mut r, 2, status_msg(1, 1));
    assert_eq!(
        acts,
        vec![send_to(2, decided_msg(2, batch(2))), send_to(2, decided_msg(3, batch(3)))]
    );
}

#[test]
fn a_catch_up_answer_holds_at_most_catch_up_batches() {
    let cfg = PbftConfig { catch_up_batches: 2, ..sim_config() };
    let (mut r, _) = backup_that_executed(&cfg, 1, 3);
    let acts = recv(&mut r, 2, status_msg(1, 0));
    assert_eq!(
        acts,
        vec![send_to(2, decided_msg(1, batch(1))), send_to(2, decided_msg(2, batch(2)))]
    );
}

#[test]
fn a_status_from_a_replica_that_is_not_behind_gets_nothing() {
    let (mut r, _) = backup_that_executed(&sim_config(), 1, 3);
    assert_eq!(recv(&mut r, 2, status_msg(0, 3)), vec![]);
    assert_eq!(recv(&mut r, 2, status_msg(0, 5)), vec![]);
}

#[test]
fn a_replica_that_hears_it_is_behind_and_makes_no_progress_asks_for_catch_up() {
    let (mut r, _) = backup_that_executed(&sim_config(), 1, 3);
    let tick = Action::SetTimer { timer: consensus_pbft::Timer::Tick, after: sim_config().tick };
    // Progress since the last tick: nothing to ask.
    assert_eq!(fire(&mut r, consensus_pbft::Timer::Tick), vec![tick.clone()]);
    assert_eq!(fire(&mut r, consensus_pbft::Timer::Tick), vec![tick.clone()]);
    // A peer executed 5: this replica is behind, and stuck.
    recv(&mut r, 2, status_msg(0, 5));
    assert_eq!(fire(&mut r, consensus_pbft::Timer::Tick), vec![tick, bcast(status_msg(0, 3))]);
}

#[test]
fn a_status_from_an_older_view_gets_the_new_view() {
    let k = test_keys(N);
    let mut r = replica(&sim_config(), N, 2);
    let vcs: Vec<_> = [0, 1, 3].iter().map(|i| fresh_view_change(&k, 1, vec![], *i)).collect();
    let nv = NewView { view: 1, view_changes: vcs, pre_prepares: vec![] };
    recv(&mut r, 1, Message::NewView(nv.clone()));
    assert_eq!(r.view(), 1);
    let acts = recv(&mut r, 0, status_msg(0, 0));
    assert_eq!(acts, vec![send_to(0, Message::NewView(nv))]);
    // A replica already in view 1 does not get it.
    assert_eq!(recv(&mut r, 3, status_msg(1, 0)), vec![]);
}

#[test]
fn f_plus_one_matching_decided_batches_make_a_lagging_replica_deliver() {
    let mut r = replica(&sim_config(), N, 3);
    assert_eq!(recv(&mut r, 0, decided_msg(1, batch(1))), vec![]);
    assert_eq!(r.last_delivered(), 0, "one replica's word is not enough");
    assert_eq!(recv(&mut r, 1, decided_msg(1, batch(1))), vec![delivered(1, batch(1))]);
    // A third vouch comes too late: sequence 1 is executed.
    expect_ignored(&mut r, 2, decided_msg(1, batch(1)));
}

#[test]
fn a_replica_vouching_twice_counts_once() {
    let mut r = replica(&sim_config(), N, 3);
    assert_eq!(recv(&mut r, 0, decided_msg(1, batch(1))), vec![]);
    assert_eq!(recv(&mut r, 0, decided_msg(1, batch(1))), vec![]);
    // Nor can it vouch for a second batch at the same sequence number.
    assert_eq!(recv(&mut r, 0, decided_msg(1, batch(99))), vec![]);
    assert_eq!(recv(&mut r, 1, decided_msg(1, batch(99))), vec![]);
    assert_eq!(r.last_delivered(), 0);
}

#[test]
fn conflicting_decided_batches_do_not_deliver_until_one_has_f_plus_one() {
    let mut r = replica(&sim_config(), N, 3);
    assert_eq!(recv(&mut r, 0, decided_msg(1, batch(1))), vec![]);
    assert_eq!(recv(&mut r, 1, decided_msg(1, vec![cmd("forged")])), vec![]);
    assert_eq!(recv(&mut r, 2, decided_msg(1, batch(1))), vec![delivered(1, batch(1))]);
}

#[test]
fn decided_batches_execute_in_sequence_order() {
    let mut r = replica(&sim_config(), N, 3);
    recv(&mut r, 0, decided_msg(2, batch(2)));
    assert_eq!(recv(&mut r, 1, decided_msg(2, batch(2))), vec![]);
    recv(&mut r, 0, decided_msg(1, batch(1)));
    assert_eq!(
        recv(&mut r, 1, decided_msg(1, batch(1))),
        vec![delivered(1, batch(1)), delivered(2, batch(2))]
    );
}

#[test]
fn catching_up_to_a_checkpoint_asks_for_a_snapshot() {
    let mut r = replica(&sim_config(), N, 3);
    for seq in 1..K {
        recv(&mut r, 0, decided_msg(seq, batch(seq)));
        assert_eq!(recv(&mut r, 1, decided_msg(seq, batch(seq))), vec![delivered(seq, batch(seq))]);
    }
    recv(&mut r, 0, decided_msg(K, batch(K)));
    assert_eq!(
        recv(&mut r, 1, decided_msg(K, batch(K))),
        vec![delivered(K, batch(K)), Action::TakeSnapshot { sequence: K }]
    );
}

/// Backup 1 with a stable checkpoint at K (application state `b"app"`) and sequence K + 1
/// executed, and the checkpoint proof it holds.
fn backup_with_stable_checkpoint() -> (Pbft, Vec<Keypair>, Vec<Checkpoint>) {
    let (mut r, k) = backup_that_executed(&sim_config(), 1, K);
    let acts = step(&mut r, |r, out| r.on_snapshot(K, Snapshot::single(b"app".to_vec()), out));
    let [Action::Broadcast { msg: Message::Checkpoint(own) }] = acts.as_slice() else {
        panic!("expected one checkpoint, got {acts:?}")
    };
    let proof: Vec<Checkpoint> =
        (1..4).map(|i| Checkpoint::new(K, own.state, i, &k[i as usize])).collect();
    recv(&mut r, 2, Message::Checkpoint(proof[1].clone()));
    recv(&mut r, 3, Message::Checkpoint(proof[2].clone()));
    assert_eq!(r.stable_checkpoint(), K);
    decide(&mut r, &k, 0, K + 1, batch(K + 1));
    (r, k, proof)
}

/// What backup 1 answers to a replica that executed nothing.
fn state_reply_from_a_stable_backup() -> StateReply {
    let (mut r, k, proof) = backup_with_stable_checkpoint();
    let acts = recv(&mut r, 3, status_msg(0, 0));
    let snapshot = match acts.get(2) {
        Some(Action::Send { msg: Message::StateReply(s), .. }) => s.snapshot.clone(),
        _ => panic!("expected a state reply third in {acts:?}"),
    };
    let reply = StateReply { seq: K, proof: proof.clone(), snapshot };
    // Its own messages above the checkpoint, the checkpoint, then the batches above it.
    let mut expected = retransmission(&k, 1, 3, K + 1);
    expected.push(send_to(3, Message::StateReply(reply.clone())));
    expected.push(send_to(3, decided_msg(K + 1, batch(K + 1))));
    assert_eq!(acts, expected);
    let snap = PbftSnapshot::decode(&reply.snapshot).expect("a PBFT snapshot");
    assert_eq!(snap.digest(), proof[0].state, "the snapshot is the checkpointed one");
    assert_eq!(snap.app.chunk(0), b"app");
    reply
}

#[test]
fn a_status_from_behind_the_stable_checkpoint_gets_the_snapshot() {
    state_reply_from_a_stable_backup();
}

#[test]
fn a_state_reply_installs_the_snapshot_and_its_dedup_state() {
    let reply = state_reply_from_a_stable_backup();
    let mut r = replica(&sim_config(), N, 3);
    let acts = recv(&mut r, 1, Message::StateReply(reply));
    let app = Snapshot::single(b"app".to_vec());
    assert_eq!(acts, vec![Action::InstallSnapshot { sequence: K, snapshot: app }]);
    assert_eq!(r.last_delivered(), K);
    assert_eq!(r.stable_checkpoint(), K);
    assert_eq!(r.stats().snapshots_installed, 1);
    // Deliveries go on at K + 1.
    recv(&mut r, 0, decided_msg(K + 1, batch(K + 1)));
    assert_eq!(
        recv(&mut r, 2, decided_msg(K + 1, batch(K + 1))),
        vec![delivered(K + 1, batch(K + 1))]
    );
    // Commands delivered before the checkpoint are still known as delivered.
    assert_eq!(submit(&mut r, batch(3)[0].clone()), vec![]);
    assert_eq!(r.pending_len(), 0);
    let mixed = vec![batch(3)[0].clone(), cmd("new")];
    recv(&mut r, 0, decided_msg(K + 2, mixed.clone()));
    assert_eq!(
        recv(&mut r, 2, decided_msg(K + 2, mixed)),
        vec![delivered(K + 2, vec![cmd("new")])]
    );
}

/// One stray message about a higher sequence number (an unsigned commit from anyone)
/// makes an idle replica ask for status once, not on every tick for ever.
#[test]
fn a_stray_commit_costs_one_status_not_a_status_per_tick() {
    let cfg = sim_config();
    let k = test_keys(N);
    let mut r = replica(&cfg, N, 1);
    let pp = pre_prepare(&k, 0, 5, batch(5));
    assert!(recv(&mut r, 2, Message::Commit(commit_for(&pp))).is_empty());
    let first = fire(&mut r, consensus_pbft::Timer::Tick);
    assert_eq!(
        first,
        vec![
            Action::SetTimer { timer: consensus_pbft::Timer::Tick, after: cfg.tick },
            bcast(status_msg(0, 0)),
        ]
    );
    for _ in 0..5 {
        let later = fire(&mut r, consensus_pbft::Timer::Tick);
        assert_eq!(
            later,
            vec![Action::SetTimer { timer: consensus_pbft::Timer::Tick, after: cfg.tick }]
        );
    }
}
