//! Unit tests of view changes (Castro and Liskov, section 4.4) and BFT-SMaRt's two-stage
//! request timeout: each test feeds one event at a time to one replica and compares the
//! exact actions.
//!
//! What is checked, in the order a view change happens: a backup whose request waits
//! `request_timeout_ticks` ticks forwards it to the primary, and after twice as many
//! broadcasts a signed `ViewChange` carrying its stable checkpoint and its prepared
//! certificates (retransmitted every tick while the view change lasts); `f + 1` view
//! changes for later views make a replica join; a quorum starts the view-change timer
//! once (doubling with each failed view) and makes the new primary broadcast a `NewView`
//! whose pre-prepares re-propose every certified batch (null batches in the gaps); a
//! backup that accepts the `NewView` prepares those, moves to the checkpoint it proves,
//! and replays the messages of the new view it kept while waiting; a late view change is
//! answered with the `NewView`. A missing or extra action here is a stuck or a forked
//! shard in the simulations, found much later and much harder to read.
//!
//! Four replicas (f = 1, quorums of 3), `sim_config()` (4 ticks of 25 ms for the first
//! stage, 200 ms view-change timeout). Replica 0 is the primary of view 0, replica 1 of
//! view 1, replica 2 of view 2.

mod common;

use chainspace_core::consensus::{Action, Consensus};
use chainspace_core::crypto::Keypair;
use chainspace_core::snapshot::Snapshot;
use common::*;
use consensus_pbft::message::{Checkpoint, NewView, PrePrepare, PreparedProof, Status, ViewChange};
use consensus_pbft::{Message, Pbft, PbftConfig, Timer};

const N: usize = 4;

fn setup(index: u32) -> (Pbft, Vec<Keypair>) {
    (replica(&sim_config(), N, index), test_keys(N))
}

fn tick_timer() -> Act {
    Action::SetTimer { timer: Timer::Tick, after: sim_config().tick }
}

fn status(view: u64, last_executed: u64) -> Act {
    bcast(Message::Status(Status { view, last_executed }))
}

fn vc_msg(vc: &ViewChange) -> Message {
    Message::ViewChange(vc.clone())
}

fn vc_timer(view: u64, factor: u32) -> Act {
    Action::SetTimer {
        timer: Timer::ViewChange(view),
        after: sim_config().view_change_timeout * factor,
    }
}

/// Backup 1 with sequence 1 prepared (not committed) and request "a" waiting since tick
/// 0, ticked up to (not including) tick `2 * request_timeout_ticks`, checking each tick.
/// Returns the certificate it must report in its view change.
fn backup_waiting_until_just_before_the_view_change() -> (Pbft, Vec<Keypair>, PreparedProof) {
    let (mut r, k) = setup(1);
    let pp = pre_prepare(&k, 0, 1, vec![cmd("x")]);
    recv(&mut r, 0, Message::PrePrepare(pp.clone()));
    recv(&mut r, 2, Message::Prepare(prepare_for(&k, &pp, 2)));
    assert_eq!(submit(&mut r, cmd("a")), vec![]);
    let t = sim_config().request_timeout_ticks;
    for tick in 1..2 * t {
        let acts = fire(&mut r, Timer::Tick);
        // Every tick without progress, a replica with a waiting request says how far it
        // is; after `t` ticks it forwards the request to the primary, once.
        let expected = if tick == t {
            vec![tick_timer(), send_to(0, Message::Request(vec![cmd("a")])), status(0, 0)]
        } else {
            vec![tick_timer(), status(0, 0)]
        };
        assert_eq!(acts, expected, "tick {tick}");
    }
    assert!(!r.in_view_change());
    let cert = PreparedProof {
        pre_prepare: pp.clone(),
        prepares: vec![prepare_for(&k, &pp, 1), prepare_for(&k, &pp, 2)],
    };
    (r, k, cert)
}

#[test]
fn a_waiting_request_is_forwarded_to_the_primary_after_the_first_timeout() {
    backup_waiting_until_just_before_the_view_change();
}

/// The view change is broadcast twice in the tick that starts it: `on_tick` calls
/// `start_view_change` (one broadcast) and then, since the replica is now in a view
/// change, `retransmit_view_change` (a second, identical broadcast).
#[test]
fn after_twice_the_timeout_a_backup_broadcasts_one_view_change() {
    let (mut r, k, cert) = backup_waiting_until_just_before_the_view_change();
    let vc = fresh_view_change(&k, 1, vec![cert], 1);
    // While changing view it still reports the view it was last in.
    assert_eq!(fire(&mut r, Timer::Tick), vec![tick_timer(), bcast(vc_msg(&vc)), status(0, 0)]);
}

#[test]
fn the_view_change_reports_the_stable_checkpoint_and_the_prepared_certificates() {
    let (mut r, k, cert) = backup_waiting_until_just_before_the_view_change();
    let acts = fire(&mut r, Timer::Tick);
    let expected = fresh_view_change(&k, 1, vec![cert.clone()], 1);
    // (How many times it is broadcast is checked by the test above.)
    let sent: Vec<&ViewChange> = acts
        .iter()
        .filter_map(|a| match a {
            Action::Broadcast { msg: Message::ViewChange(vc) } => Some(vc),
            _ => None,
        })
        .collect();
    assert!(!sent.is_empty(), "no view change in {acts:?}");
    for vc in sent {
        assert_eq!(vc, &expected);
        assert_eq!((vc.new_view, vc.stable_seq, vc.replica), (1, 0, 1));
        assert!(vc.checkpoint_proof.is_empty(), "the initial state needs no proof");
        assert_eq!(vc.prepared, vec![cert.clone()]);
        vc.verify(&test_committee(N), sim_config().batch_limits(), sim_config().window).unwrap();
    }
    assert_eq!((r.view(), r.in_view_change()), (1, true));
    // Later ticks retransmit it once the request timeout has passed again, without
    // starting another view change or forwarding.
    for _ in 1..sim_config().request_timeout_ticks {
        assert_eq!(fire(&mut r, Timer::Tick), vec![tick_timer(), status(0, 0)]);
    }
    assert_eq!(
        fire(&mut r, Timer::Tick),
        vec![tick_timer(), bcast(vc_msg(&expected)), status(0, 0)]
    );
    assert_eq!(r.view(), 1);
}

/// Executed requests leave the arrival order too: the oldest waiting request is the
/// oldest one not executed, and an executed one is never forwarded, even after far more
/// requests came and went than the order keeps stale entries for.
#[test]
fn executed_requests_neither_age_nor_get_forwarded() {
    // A window wide enough for every batch below without checkpoints.
    let cfg = PbftConfig { window: 1024, checkpoint_interval: 512, ..sim_config() };
    let (mut r, k) = (replica(&cfg, N, 2), test_keys(N));
    let t = cfg.request_timeout_ticks;
    let max = cfg.max_batch;
    let many = 3 * 1024;
    let mut seq = 0;
    for chunk in cmds("old", many).chunks(max) {
        for c in chunk {
            submit(&mut r, c.clone());
        }
        seq += 1;
        decide(&mut r, &k, 0, seq, chunk.to_vec());
    }
    assert_eq!(r.last_delivered(), seq);
    assert_eq!(r.pending_len(), 0);
    submit(&mut r, cmd("late"));
    for _ in 1..t {
        fire(&mut r, Timer::Tick);
    }
    let acts = fire(&mut r, Timer::Tick);
    let forwarded: Vec<&Act> = acts
        .iter()
        .filter(|a| matches!(a, Action::Send { msg: Message::Request(_), .. }))
        .collect();
    assert_eq!(forwarded, vec![&send_to(0, Message::Request(vec![cmd("late")]))]);
}

#[test]
fn each_request_is_forwarded_once_when_its_own_timeout_expires() {
    let (mut r, _) = setup(2);
    submit(&mut r, cmd("a"));
    let t = sim_config().request_timeout_ticks;
    assert_eq!(fire(&mut r, Timer::Tick), vec![tick_timer(), status(0, 0)]);
    submit(&mut r, cmd("b"));
    for _ in 2..t {
        assert_eq!(fire(&mut r, Timer::Tick), vec![tick_timer(), status(0, 0)]);
    }
    // Tick t: "a" only; tick t + 1: "b" only; then neither again.
    let acts = fire(&mut r, Timer::Tick);
    assert_eq!(
        acts,
        vec![tick_timer(), send_to(0, Message::Request(vec![cmd("a")])), status(0, 0)]
    );
    let acts = fire(&mut r, Timer::Tick);
    assert_eq!(
        acts,
        vec![tick_timer(), send_to(0, Message::Request(vec![cmd("b")])), status(0, 0)]
    );
    for _ in t + 2..2 * t {
        assert_eq!(fire(&mut r, Timer::Tick), vec![tick_timer(), status(0, 0)]);
    }
}

#[test]
fn the_primary_does_not_forward_requests_to_itself() {
    let (mut r, _) = setup(0);
    submit(&mut r, cmd("a"));
    let t = sim_config().request_timeout_ticks;
    for tick in 1..2 * t {
        assert_eq!(fire(&mut r, Timer::Tick), vec![tick_timer(), status(0, 0)], "tick {tick}");
    }
    // It suspects itself (its batch is not ordered) and asks for a view change too.
    fire(&mut r, Timer::Tick);
    assert_eq!((r.view(), r.in_view_change()), (1, true));
}

/// A view change carries every prepared certificate with its batch, so it is re-sent
/// with exponential back-off (ticks T, 2T, 4T, ... of the view change, T the request
/// timeout in ticks), not every tick.
#[test]
fn a_replica_in_a_view_change_retransmits_its_view_change_with_back_off() {
    let (mut r, k) = setup(0);
    recv(&mut r, 2, vc_msg(&fresh_view_change(&k, 1, vec![], 2)));
    recv(&mut r, 3, vc_msg(&fresh_view_change(&k, 1, vec![], 3)));
    let own = fresh_view_change(&k, 1, vec![], 0);
    let t = sim_config().request_timeout_ticks;
    for tick in 1..=8 * t {
        let mut want = vec![tick_timer()];
        if [t, 2 * t, 4 * t, 8 * t].contains(&tick) {
            want.push(bcast(vc_msg(&own)));
        }
        if tick.is_multiple_of(sim_config().status_interval_ticks) {
            want.push(status(0, 0));
        }
        assert_eq!(fire(&mut r, Timer::Tick), want, "tick {tick}");
    }
}

/// A replica left in an earlier view asks with every status and view change it sends;
/// the new-view message (a quorum of view changes, batches included) goes to it at most
/// once every `request_timeout_ticks` ticks.
#[test]
fn the_new_view_is_re_sent_to_a_replica_left_behind_at_most_once_per_request_timeout() {
    let (mut r, k) = setup(3);
    let vcs: Vec<_> = [0, 1, 2].iter().map(|i| fresh_view_change(&k, 1, vec![], *i)).collect();
    let nv = NewView { view: 1, view_changes: vcs, pre_prepares: vec![] };
    recv(&mut r, 1, Message::NewView(nv.clone()));
    assert_eq!(r.view(), 1);
    let behind = || Message::Status(Status { view: 0, last_executed: 0 });
    let old_vc = vc_msg(&fresh_view_change(&k, 1, vec![], 0));
    assert_eq!(recv(&mut r, 0, behind()), vec![send_to(0, Message::NewView(nv.clone()))]);
    assert_eq!(recv(&mut r, 0, behind()), vec![]);
    assert_eq!(recv(&mut r, 0, old_vc.clone()), vec![]);
    // Another replica left behind is answered on its own account.
    assert_eq!(recv(&mut r, 2, behind()), vec![send_to(2, Message::NewView(nv.clone()))]);
    for _ in 1..sim_config().request_timeout_ticks {
        fire(&mut r, Timer::Tick);
        assert_eq!(recv(&mut r, 0, behind()), vec![]);
    }
    fire(&mut r, Timer::Tick);
    assert_eq!(recv(&mut r, 0, old_vc), vec![send_to(0, Message::NewView(nv))]);
}

/// The actions of the next tick of an idle replica at view 0 that executed `executed`:
/// the tick restarts, and every `status_interval_ticks`-th tick carries a status heartbeat.
fn idle_tick(r: &mut Pbft, n: &mut u64, executed: u64) -> Vec<Act> {
    let every = sim_config().status_interval_ticks;
    *n += 1;
    let mut want = vec![tick_timer()];
    if n.is_multiple_of(every) {
        want.push(status(0, executed));
    }
    assert_eq!(fire(r, Timer::Tick), want, "tick {n}");
    want
}

#[test]
fn ticks_without_waiting_requests_only_restart_the_tick_and_send_heartbeats() {
    let (mut r, k) = setup(1);
    let ticks = 3 * sim_config().request_timeout_ticks.max(sim_config().status_interval_ticks);
    let (mut heartbeats, mut n) = (0, 0);
    for _ in 0..ticks {
        heartbeats += idle_tick(&mut r, &mut n, 0).len() - 1;
    }
    assert!(heartbeats >= 3, "a status heartbeat every status_interval_ticks");
    // Commands that were ordered in time never trigger anything either.
    submit(&mut r, cmd("a"));
    decide(&mut r, &k, 0, 1, vec![cmd("a")]);
    for _ in 0..ticks {
        idle_tick(&mut r, &mut n, 1);
    }
}

#[test]
fn one_view_change_for_a_later_view_does_not_make_a_replica_join() {
    let (mut r, k) = setup(0);
    assert_eq!(recv(&mut r, 2, vc_msg(&fresh_view_change(&k, 1, vec![], 2))), vec![]);
    assert_eq!((r.view(), r.in_view_change()), (0, false));
    // It still works in view 0.
    assert_eq!(submit(&mut r, cmd("a")), vec![proposal(pre_prepare(&k, 0, 1, vec![cmd("a")]))]);
}

#[test]
fn f_plus_one_view_changes_make_a_replica_join() {
    let (mut r, k) = setup(0);
    assert_eq!(recv(&mut r, 2, vc_msg(&fresh_view_change(&k, 1, vec![], 2))), vec![]);
    let acts = recv(&mut r, 3, vc_msg(&fresh_view_change(&k, 1, vec![], 3)));
    // It joins, and with its own a quorum asked for view 1: the view-change timer starts.
    let own = fresh_view_change(&k, 1, vec![], 0);
    assert_eq!(acts, vec![bcast(vc_msg(&own)), vc_timer(1, 1)]);
    assert_eq!((r.view(), r.in_view_change()), (1, true));
}

#[test]
fn a_replica_joins_the_smallest_view_that_f_plus_one_replicas_ask_for() {
    let (mut r, k) = setup(0);
    assert_eq!(recv(&mut r, 2, vc_msg(&fresh_view_change(&k, 2, vec![], 2))), vec![]);
    let acts = recv(&mut r, 3, vc_msg(&fresh_view_change(&k, 3, vec![], 3)));
    // Only replica 2 and itself asked for view 2: no quorum, no timer yet.
    assert_eq!(acts, vec![bcast(vc_msg(&fresh_view_change(&k, 2, vec![], 0)))]);
    assert_eq!((r.view(), r.in_view_change()), (2, true));
}

#[test]
fn leaving_a_view_cancels_the_primarys_batch_timer() {
    let (mut r, k) = setup(0);
    submit(&mut r, cmd("a"));
    assert_eq!(
        submit(&mut r, cmd("b")),
        vec![Action::SetTimer { timer: Timer::Batch, after: sim_config().batch_timeout }]
    );
    recv(&mut r, 2, vc_msg(&fresh_view_change(&k, 1, vec![], 2)));
    let acts = recv(&mut r, 3, vc_msg(&fresh_view_change(&k, 1, vec![], 3)));
    let own = fresh_view_change(&k, 1, vec![], 0);
    assert_eq!(
        acts,
        vec![Action::CancelTimer { timer: Timer::Batch }, bcast(vc_msg(&own)), vc_timer(1, 1)]
    );
    // The batch timer firing late proposes nothing.
    assert_eq!(fire(&mut r, Timer::Batch), vec![]);
}

#[test]
fn the_view_change_timer_moves_on_to_the_next_view_with_a_doubled_timeout() {
    let (mut r, k) = setup(0);
    recv(&mut r, 2, vc_msg(&fresh_view_change(&k, 1, vec![], 2)));
    recv(&mut r, 3, vc_msg(&fresh_view_change(&k, 1, vec![], 3)));
    assert_eq!(r.view_change_timeout(), sim_config().view_change_timeout);
    // No new view for view 1 in time: on to view 2.
    let acts = fire(&mut r, Timer::ViewChange(1));
    assert_eq!(acts, vec![bcast(vc_msg(&fresh_view_change(&k, 2, vec![], 0)))]);
    assert_eq!((r.view(), r.in_view_change()), (2, true));
    assert_eq!(r.view_change_timeout(), sim_config().view_change_timeout * 2);
    // The timer for view 2 starts once a quorum asks for it, twice as long.
    assert_eq!(recv(&mut r, 3, vc_msg(&fresh_view_change(&k, 2, vec![], 3))), vec![]);
    let acts = recv(&mut r, 1, vc_msg(&fresh_view_change(&k, 2, vec![], 1)));
    assert_eq!(acts, vec![vc_timer(2, 2)]);
    // The old timer is stale now.
    assert_eq!(fire(&mut r, Timer::ViewChange(1)), vec![]);
}

/// View changes to view 1 from replicas 0, 1 and 3: replica 0 reports a certificate for
/// `[c]` at 3, replica 3 one for `[a]` at 1. The new view re-proposes `[a]` at 1, a null
/// batch at 2 and `[c]` at 3.
fn quorum_with_certificates(k: &[Keypair]) -> (Vec<ViewChange>, Vec<PrePrepare>) {
    let vcs = vec![
        fresh_view_change(k, 1, vec![prepared_proof(k, 0, 3, vec![cmd("c")], &[1, 3])], 0),
        fresh_view_change(k, 1, vec![], 1),
        fresh_view_change(k, 1, vec![prepared_proof(k, 0, 1, vec![cmd("a")], &[2, 3])], 3),
    ];
    let pps = vec![
        PrePrepare::new(1, 1, vec![cmd("a")], &k[1]),
        PrePrepare::new(1, 2, vec![], &k[1]),
        PrePrepare::new(1, 3, vec![cmd("c")], &k[1]),
    ];
    (vcs, pps)
}

#[test]
fn the_new_primary_announces_the_new_view_derived_from_a_quorum() {
    let (mut r, k) = setup(1);
    // Two requests wait here: "a" is re-proposed through a certificate, "z" is not.
    submit(&mut r, cmd("a"));
    submit(&mut r, cmd("z"));
    let (vcs, pps) = quorum_with_certificates(&k);
    assert_eq!(recv(&mut r, 0, vc_msg(&vcs[0])), vec![]);
    let acts = recv(&mut r, 3, vc_msg(&vcs[2]));
    assert_eq!(vcs[1], fresh_view_change(&k, 1, vec![], 1), "replica 1's own view change");
    let nv = NewView { view: 1, view_changes: vcs.clone(), pre_prepares: pps };
    assert_eq!(
        acts,
        vec![
            bcast(vc_msg(&vcs[1])),
            vc_timer(1, 1),
            bcast(Message::NewView(nv)),
            Action::CancelTimer { timer: Timer::ViewChange(1) },
            // Three batches in flight: "z" waits for the batch timer.
            Action::SetTimer { timer: Timer::Batch, after: sim_config().batch_timeout },
        ]
    );
    assert_eq!((r.view(), r.in_view_change()), (1, false));
    assert_eq!(r.stats().view_changes, 1);
    let acts = fire(&mut r, Timer::Batch);
    assert_eq!(acts, vec![proposal(PrePrepare::new(1, 4, vec![cmd("z")], &k[1]))]);
}

#[test]
fn the_new_primary_proposes_waiting_requests_at_once_when_nothing_was_prepared() {
    let (mut r, k) = setup(1);
    submit(&mut r, cmd("z"));
    recv(&mut r, 2, vc_msg(&fresh_view_change(&k, 1, vec![], 2)));
    let acts = recv(&mut r, 3, vc_msg(&fresh_view_change(&k, 1, vec![], 3)));
    let vcs: Vec<ViewChange> = (1..4).map(|i| fresh_view_change(&k, 1, vec![], i)).collect();
    let nv = NewView { view: 1, view_changes: vcs.clone(), pre_prepares: vec![] };
    assert_eq!(
        acts,
        vec![
            bcast(vc_msg(&vcs[0])),
            vc_timer(1, 1),
            bcast(Message::NewView(nv)),
            Action::CancelTimer { timer: Timer::ViewChange(1) },
            proposal(PrePrepare::new(1, 1, vec![cmd("z")], &k[1])),
        ]
    );
}

#[test]
fn a_backup_accepts_a_valid_new_view_and_prepares_the_reproposed_batches() {
    let (vcs, pps) = quorum_with_certificates(&test_keys(N));
    let nv = NewView { view: 1, view_changes: vcs, pre_prepares: pps.clone() };
    // From the new primary, or relayed by anyone: a new view proves itself.
    for from in [1, 3] {
        let (mut r, k) = setup(2);
        let acts = recv(&mut r, from, Message::NewView(nv.clone()));
        assert_eq!(
            acts,
            vec![
                Action::CancelTimer { timer: Timer::ViewChange(1) },
                bcast(Message::Prepare(prepare_for(&k, &pps[0], 2))),
                bcast(Message::Prepare(prepare_for(&k, &pps[1], 2))),
                bcast(Message::Prepare(prepare_for(&k, &pps[2], 2))),
            ]
        );
        assert_eq!((r.view(), r.in_view_change()), (1, false));
        assert_eq!(r.stats().view_changes, 1);
        assert_eq!(r.stats().invalid_messages, 0);
    }
}

#[test]
fn a_backup_replays_the_new_views_messages_it_kept() {
    let (mut r, k) = setup(2);
    let (vcs, pps) = quorum_with_certificates(&k);
    // Replica 3 and the new primary are already in view 1.
    assert_eq!(recv(&mut r, 3, Message::Prepare(prepare_for(&k, &pps[0], 3))), vec![]);
    assert_eq!(recv(&mut r, 3, Message::Commit(commit_for(&pps[0]))), vec![]);
    assert_eq!(recv(&mut r, 1, Message::Commit(commit_for(&pps[0]))), vec![]);
    let nv = NewView { view: 1, view_changes: vcs, pre_prepares: pps.clone() };
    let acts = recv(&mut r, 1, Message::NewView(nv));
    assert_eq!(
        acts,
        vec![
            Action::CancelTimer { timer: Timer::ViewChange(1) },
            bcast(Message::Prepare(prepare_for(&k, &pps[0], 2))),
            bcast(Message::Prepare(prepare_for(&k, &pps[1], 2))),
            bcast(Message::Prepare(prepare_for(&k, &pps[2], 2))),
            bcast(Message::Commit(commit_for(&pps[0]))),
            delivered(1, vec![cmd("a")]),
        ]
    );
}

#[test]
fn a_replica_in_a_view_change_installs_the_new_view() {
    let (mut r, k) = setup(2);
    let (vcs, pps) = quorum_with_certificates(&k);
    recv(&mut r, 0, vc_msg(&vcs[0]));
    let acts = recv(&mut r, 1, vc_msg(&vcs[1]));
    assert_eq!(acts, vec![bcast(vc_msg(&fresh_view_change(&k, 1, vec![], 2))), vc_timer(1, 1)]);
    let nv = NewView { view: 1, view_changes: vcs, pre_prepares: pps.clone() };
    let acts = recv(&mut r, 1, Message::NewView(nv));
    assert_eq!(
        acts,
        vec![
            Action::CancelTimer { timer: Timer::ViewChange(1) },
            bcast(Message::Prepare(prepare_for(&k, &pps[0], 2))),
            bcast(Message::Prepare(prepare_for(&k, &pps[1], 2))),
            bcast(Message::Prepare(prepare_for(&k, &pps[2], 2))),
        ]
    );
    // The view-change timer of the installed view is stale.
    assert_eq!(fire(&mut r, Timer::ViewChange(1)), vec![]);
    assert_eq!(r.view_change_timeout(), sim_config().view_change_timeout);
}

#[test]
fn a_certificate_of_a_later_view_wins_over_an_earlier_one() {
    // Sequence 1 prepared with [a] in view 0, then with [b] in view 1: view 2 must
    // re-propose [b].
    let (mut r, k) = setup(3);
    let old = prepared_proof(&k, 0, 1, vec![cmd("a")], &[1, 2]);
    let new = prepared_proof(&k, 1, 1, vec![cmd("b")], &[0, 3]);
    let vcs = vec![
        fresh_view_change(&k, 2, vec![old], 0),
        fresh_view_change(&k, 2, vec![new], 1),
        fresh_view_change(&k, 2, vec![], 2),
    ];
    let pp = PrePrepare::new(2, 1, vec![cmd("b")], &k[2]);
    let nv = NewView { view: 2, view_changes: vcs, pre_prepares: vec![pp.clone()] };
    let acts = recv(&mut r, 2, Message::NewView(nv));
    assert_eq!(
        acts,
        vec![
            Action::CancelTimer { timer: Timer::ViewChange(2) },
            bcast(Message::Prepare(prepare_for(&k, &pp, 3))),
        ]
    );
    assert_eq!(r.view(), 2);
}

#[test]
fn more_view_changes_for_the_same_view_do_not_restart_its_timer() {
    let (mut r, k) = setup(0);
    recv(&mut r, 2, vc_msg(&fresh_view_change(&k, 1, vec![], 2)));
    let acts = recv(&mut r, 3, vc_msg(&fresh_view_change(&k, 1, vec![], 3)));
    assert_eq!(acts, vec![bcast(vc_msg(&fresh_view_change(&k, 1, vec![], 0))), vc_timer(1, 1)]);
    assert_eq!(recv(&mut r, 1, vc_msg(&fresh_view_change(&k, 1, vec![], 1))), vec![]);
}

#[test]
fn a_late_view_change_is_answered_with_the_new_view() {
    let (mut r, k) = setup(2);
    let (vcs, pps) = quorum_with_certificates(&k);
    let nv = NewView { view: 1, view_changes: vcs, pre_prepares: pps };
    recv(&mut r, 1, Message::NewView(nv.clone()));
    // Replica 0 never got the new view: its retransmitted view change gets it.
    let acts = recv(&mut r, 0, vc_msg(&fresh_view_change(&k, 1, vec![], 0)));
    assert_eq!(acts, vec![send_to(0, Message::NewView(nv))]);
}

/// Backup `index` that executed 1..=8 in view 0 and took its checkpoint at 8 (without
/// hearing anyone else's): the checkpoint message it broadcast.
fn backup_with_own_checkpoint(index: u32) -> (Pbft, Vec<Keypair>, Checkpoint) {
    let (mut r, k) = setup(index);
    let k8 = sim_config().checkpoint_interval;
    for seq in 1..=k8 {
        decide(&mut r, &k, 0, seq, vec![cmd(&format!("c{seq}"))]);
    }
    let acts = step(&mut r, |r, out| r.on_snapshot(k8, Snapshot::single(b"app".to_vec()), out));
    let [Action::Broadcast { msg: Message::Checkpoint(cp) }] = acts.as_slice() else {
        panic!("expected one checkpoint, got {acts:?}")
    };
    (r, k, cp.clone())
}

#[test]
fn a_view_change_reports_the_stable_checkpoint_with_its_proof() {
    let (mut r, k, own) = backup_with_own_checkpoint(2);
    let proof: Vec<Checkpoint> =
        (1..4).map(|i| Checkpoint::new(own.seq, own.state, i, &k[i as usize])).collect();
    recv(&mut r, 1, Message::Checkpoint(proof[0].clone()));
    recv(&mut r, 3, Message::Checkpoint(proof[2].clone()));
    assert_eq!(r.stable_checkpoint(), own.seq);
    // Sequence 9 prepares, but does not commit.
    let pp = pre_prepare(&k, 0, own.seq + 1, vec![cmd("nine")]);
    recv(&mut r, 0, Message::PrePrepare(pp.clone()));
    recv(&mut r, 1, Message::Prepare(prepare_for(&k, &pp, 1)));
    // Replicas 1 and 3 ask for view 1 (whose primary is 1): replica 2 joins.
    recv(&mut r, 1, vc_msg(&fresh_view_change(&k, 1, vec![], 1)));
    let acts = recv(&mut r, 3, vc_msg(&fresh_view_change(&k, 1, vec![], 3)));
    let cert = PreparedProof {
        pre_prepare: pp.clone(),
        prepares: vec![prepare_for(&k, &pp, 1), prepare_for(&k, &pp, 2)],
    };
    let expected = ViewChange::new(1, (own.seq, own.state, proof), vec![cert], 2, &k[2]);
    assert_eq!(acts, vec![bcast(vc_msg(&expected)), vc_timer(1, 1)]);
    expected.verify(&test_committee(N), sim_config().batch_limits(), sim_config().window).unwrap();
}

#[test]
fn a_new_view_moves_a_backup_to_the_checkpoint_it_proves() {
    // Replica 3 executed 1..=8 and has its snapshot, but never saw a quorum of
    // checkpoints; the new view carries one.
    let (mut r, k, own) = backup_with_own_checkpoint(3);
    assert_eq!((r.stable_checkpoint(), r.log_len()), (0, 8));
    let proof: Vec<Checkpoint> =
        (0..3).map(|i| Checkpoint::new(own.seq, own.state, i, &k[i as usize])).collect();
    let nine = prepared_proof(&k, 0, own.seq + 1, vec![cmd("nine")], &[1, 2]);
    let vcs = vec![
        fresh_view_change(&k, 1, vec![], 0),
        fresh_view_change(&k, 1, vec![], 1),
        ViewChange::new(1, (own.seq, own.state, proof), vec![nine], 2, &k[2]),
    ];
    let pp = PrePrepare::new(1, own.seq + 1, vec![cmd("nine")], &k[1]);
    let nv = NewView { view: 1, view_changes: vcs, pre_prepares: vec![pp.clone()] };
    let acts = recv(&mut r, 1, Message::NewView(nv));
    assert_eq!(
        acts,
        vec![
            Action::CancelTimer { timer: Timer::ViewChange(1) },
            bcast(Message::Prepare(prepare_for(&k, &pp, 3))),
        ]
    );
    assert_eq!(r.stable_checkpoint(), own.seq);
    assert_eq!(r.log_len(), 1, "the log below the checkpoint is discarded");
}

/// A replica that learned of stable checkpoint 8 from a new view (without reaching it)
/// ignores a state transfer to an older checkpoint: its low-water mark never moves back.
#[test]
fn a_state_reply_below_a_checkpoint_learned_from_a_new_view_is_ignored() {
    let (_, k, own) = backup_with_own_checkpoint(2);
    let (mut r, _) = setup(3);
    let proof: Vec<Checkpoint> =
        (0..3).map(|i| Checkpoint::new(own.seq, own.state, i, &k[i as usize])).collect();
    let vcs = vec![
        fresh_view_change(&k, 1, vec![], 0),
        fresh_view_change(&k, 1, vec![], 1),
        ViewChange::new(1, (own.seq, own.state, proof), vec![], 2, &k[2]),
    ];
    recv(&mut r, 1, Message::NewView(NewView { view: 1, view_changes: vcs, pre_prepares: vec![] }));
    assert_eq!((r.stable_checkpoint(), r.last_delivered()), (own.seq, 0));
    // A genuine quorum proof for an older checkpoint, 4.
    let snapshot = b"older state".to_vec();
    let state = chainspace_core::crypto::sha256(&snapshot);
    let old: Vec<Checkpoint> =
        (0..3).map(|i| Checkpoint::new(4, state, i, &k[i as usize])).collect();
    let reply = consensus_pbft::message::StateReply { seq: 4, proof: old, snapshot };
    expect_ignored(&mut r, 0, Message::StateReply(reply));
    assert_eq!(r.stable_checkpoint(), own.seq);
}
