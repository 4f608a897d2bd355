//! Unit tests of PBFT's normal case (Castro and Liskov, section 4.2), with BFT-SMaRt's
//! batching and pipelining: each test feeds one event at a time to a single replica and
//! compares the *exact* list of actions it produces.
//!
//! Why exact: a simulation only notices a wrong action when it breaks an invariant, often
//! much later; here an extra broadcast, a missing timer or a reordered delivery fails at
//! the event that caused it. Signatures are ed25519 (deterministic), so the expected
//! messages are built independently with the test committee's keys and compared equal.
//!
//! The committee has four replicas (f = 1, quorums of 3) unless a test says otherwise;
//! replica 0 is the primary of view 0. The configuration is `sim_config()`: batches of at
//! most 8, 4 batches in flight, a 2 ms batch timeout.

mod common;

use chainspace_core::consensus::{Action, Consensus};
use chainspace_core::crypto::Keypair;
use common::*;
use consensus_pbft::message::{PrePrepare, Prepare, PreparedProof};
use consensus_pbft::{Message, Pbft, PbftConfig, Timer};

const N: usize = 4;

fn setup(index: u32) -> (Pbft, Vec<Keypair>) {
    (replica(&sim_config(), N, index), test_keys(N))
}

fn pp_msg(pp: &PrePrepare) -> Message {
    Message::PrePrepare(pp.clone())
}

#[test]
fn start_sets_the_tick_timer_only() {
    for index in 0..N as u32 {
        let (mut r, _) = setup(index);
        let acts = step(&mut r, |r, out| r.on_start(out));
        assert_eq!(acts, vec![Action::SetTimer { timer: Timer::Tick, after: sim_config().tick }]);
    }
}

#[test]
fn backup_broadcasts_one_signed_prepare_for_a_valid_pre_prepare() {
    let (mut r, k) = setup(1);
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    let acts = recv(&mut r, 0, pp_msg(&pp));
    let expected = Prepare::new(0, 1, pp.digest, 1, &k[1]);
    assert_eq!(acts, vec![bcast(Message::Prepare(expected.clone()))]);
    // The signature is replica 1's, over exactly (view, seq, digest, replica).
    assert!(k[1].public().verify(
        b"chainspace/pbft/prepare",
        &expected.signed_bytes(),
        &expected.signature
    ));
    // And it is accepted as part of a prepared certificate by anyone.
    let other = prepare_for(&k, &pp, 2);
    let cert = PreparedProof { pre_prepare: pp, prepares: vec![expected, other] };
    cert.verify(&test_committee(N), sim_config().batch_limits()).unwrap();
    assert_eq!(r.stats().invalid_messages, 0);
}

#[test]
fn backup_commits_with_pre_prepare_and_quorum_minus_one_prepares() {
    let (mut r, k) = setup(1);
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    assert_eq!(
        recv(&mut r, 0, pp_msg(&pp)),
        vec![bcast(Message::Prepare(prepare_for(&k, &pp, 1)))]
    );
    // Its own prepare and replica 2's make quorum - 1 = 2: prepared, so it commits.
    let acts = recv(&mut r, 2, Message::Prepare(prepare_for(&k, &pp, 2)));
    assert_eq!(acts, vec![bcast(Message::Commit(commit_for(&pp)))]);
    // A third prepare changes nothing: the commit is sent once.
    assert_eq!(recv(&mut r, 3, Message::Prepare(prepare_for(&k, &pp, 3))), vec![]);
}

#[test]
fn prepares_that_arrive_before_the_pre_prepare_count_once_it_arrives() {
    let (mut r, k) = setup(1);
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    assert_eq!(recv(&mut r, 2, Message::Prepare(prepare_for(&k, &pp, 2))), vec![]);
    let acts = recv(&mut r, 0, pp_msg(&pp));
    assert_eq!(
        acts,
        vec![
            bcast(Message::Prepare(prepare_for(&k, &pp, 1))),
            bcast(Message::Commit(commit_for(&pp))),
        ]
    );
}

#[test]
fn prepares_for_another_digest_do_not_count() {
    let (mut r, k) = setup(1);
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    let other = pre_prepare(&k, 0, 1, vec![cmd("b")]);
    recv(&mut r, 0, pp_msg(&pp));
    assert_eq!(recv(&mut r, 2, Message::Prepare(prepare_for(&k, &other, 2))), vec![]);
    assert_eq!(recv(&mut r, 3, Message::Prepare(prepare_for(&k, &other, 3))), vec![]);
}

#[test]
fn primary_commits_with_quorum_minus_one_backup_prepares() {
    let (mut r, k) = setup(0);
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    assert_eq!(submit(&mut r, cmd("a")), vec![proposal(pp.clone())]);
    // The primary sends no prepare: it needs two from backups.
    assert_eq!(recv(&mut r, 1, Message::Prepare(prepare_for(&k, &pp, 1))), vec![]);
    let acts = recv(&mut r, 2, Message::Prepare(prepare_for(&k, &pp, 2)));
    assert_eq!(acts, vec![bcast(Message::Commit(commit_for(&pp)))]);
}

#[test]
fn quorum_of_commits_delivers_the_batch() {
    let (mut r, k) = setup(1);
    let batch = vec![cmd("a"), cmd("b")];
    let pp = pre_prepare(&k, 0, 1, batch.clone());
    recv(&mut r, 0, pp_msg(&pp));
    recv(&mut r, 2, Message::Prepare(prepare_for(&k, &pp, 2)));
    // Own commit + replica 2's: 2 < 3.
    assert_eq!(recv(&mut r, 2, Message::Commit(commit_for(&pp))), vec![]);
    let acts = recv(&mut r, 3, Message::Commit(commit_for(&pp)));
    assert_eq!(acts, vec![delivered(1, batch)]);
    assert_eq!(r.last_delivered(), 1);
    // Late commits do not deliver again.
    assert_eq!(recv(&mut r, 0, Message::Commit(commit_for(&pp))), vec![]);
}

#[test]
fn commits_before_prepared_wait_for_this_replica_to_prepare() {
    let (mut r, k) = setup(1);
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    recv(&mut r, 0, pp_msg(&pp));
    assert_eq!(recv(&mut r, 0, Message::Commit(commit_for(&pp))), vec![]);
    assert_eq!(recv(&mut r, 3, Message::Commit(commit_for(&pp))), vec![]);
    // Prepared now: commit, and with the two commits already in, deliver at once.
    let acts = recv(&mut r, 2, Message::Prepare(prepare_for(&k, &pp, 2)));
    assert_eq!(acts, vec![bcast(Message::Commit(commit_for(&pp))), delivered(1, vec![cmd("a")])]);
}

#[test]
fn commits_for_another_digest_do_not_count() {
    let (mut r, k) = setup(1);
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    let other = pre_prepare(&k, 0, 1, vec![cmd("b")]);
    recv(&mut r, 0, pp_msg(&pp));
    recv(&mut r, 2, Message::Prepare(prepare_for(&k, &pp, 2)));
    assert_eq!(recv(&mut r, 2, Message::Commit(commit_for(&other))), vec![]);
    assert_eq!(recv(&mut r, 3, Message::Commit(commit_for(&other))), vec![]);
    assert_eq!(r.last_delivered(), 0);
}

#[test]
fn execution_waits_for_earlier_sequence_numbers() {
    let (mut r, k) = setup(1);
    let pp1 = pre_prepare(&k, 0, 1, vec![cmd("one")]);
    let pp2 = pre_prepare(&k, 0, 2, vec![cmd("two")]);
    // Sequence 2 commits first: nothing is delivered.
    assert_eq!(
        recv(&mut r, 0, pp_msg(&pp2)),
        vec![bcast(Message::Prepare(prepare_for(&k, &pp2, 1)))]
    );
    assert_eq!(
        recv(&mut r, 2, Message::Prepare(prepare_for(&k, &pp2, 2))),
        vec![bcast(Message::Commit(commit_for(&pp2)))]
    );
    assert_eq!(recv(&mut r, 2, Message::Commit(commit_for(&pp2))), vec![]);
    assert_eq!(recv(&mut r, 3, Message::Commit(commit_for(&pp2))), vec![]);
    assert_eq!(r.last_delivered(), 0);
    // Sequence 1 commits: both are delivered, in order, in the same event.
    recv(&mut r, 0, pp_msg(&pp1));
    recv(&mut r, 2, Message::Prepare(prepare_for(&k, &pp1, 2)));
    assert_eq!(recv(&mut r, 2, Message::Commit(commit_for(&pp1))), vec![]);
    let acts = recv(&mut r, 3, Message::Commit(commit_for(&pp1)));
    assert_eq!(acts, vec![delivered(1, vec![cmd("one")]), delivered(2, vec![cmd("two")])]);
    assert_eq!(r.last_delivered(), 2);
}

#[test]
fn primary_proposes_at_once_when_nothing_is_in_flight() {
    let (mut r, k) = setup(0);
    let acts = submit(&mut r, cmd("a"));
    assert_eq!(acts, vec![proposal(PrePrepare::new(0, 1, vec![cmd("a")], &k[0]))]);
}

#[test]
fn primary_orders_a_request_forwarded_by_a_backup() {
    let (mut r, k) = setup(0);
    let acts = recv(&mut r, 2, Message::Request(vec![cmd("a")]));
    assert_eq!(acts, vec![proposal(pre_prepare(&k, 0, 1, vec![cmd("a")]))]);
}

#[test]
fn backup_only_remembers_a_submitted_command() {
    let (mut r, _) = setup(1);
    assert_eq!(submit(&mut r, cmd("a")), vec![]);
    assert_eq!(r.pending_len(), 1);
}

#[test]
fn primary_waits_for_the_batch_timer_while_batches_are_in_flight() {
    let (mut r, k) = setup(0);
    submit(&mut r, cmd("a"));
    let cfg = sim_config();
    assert_eq!(
        submit(&mut r, cmd("b")),
        vec![Action::SetTimer { timer: Timer::Batch, after: cfg.batch_timeout }]
    );
    // The timer is already running: no second SetTimer.
    assert_eq!(submit(&mut r, cmd("c")), vec![]);
    // On the timer, the partial batch goes out.
    let acts = fire(&mut r, Timer::Batch);
    assert_eq!(acts, vec![proposal(pre_prepare(&k, 0, 2, vec![cmd("b"), cmd("c")]))]);
    // Nothing left to propose: a stray timer does nothing.
    assert_eq!(fire(&mut r, Timer::Batch), vec![]);
}

#[test]
fn a_full_batch_is_proposed_at_once_and_cancels_the_batch_timer() {
    let (mut r, k) = setup(0);
    submit(&mut r, cmd("a"));
    let batch = cmds("c", sim_config().max_batch);
    let (last, first) = batch.split_last().unwrap();
    for (i, c) in first.iter().enumerate() {
        let acts = submit(&mut r, c.clone());
        if i == 0 {
            assert_eq!(
                acts,
                vec![Action::SetTimer { timer: Timer::Batch, after: sim_config().batch_timeout }]
            );
        } else {
            assert_eq!(acts, vec![], "command {i}");
        }
    }
    let acts = submit(&mut r, last.clone());
    assert_eq!(
        acts,
        vec![proposal(pre_prepare(&k, 0, 2, batch)), Action::CancelTimer { timer: Timer::Batch }]
    );
}

/// Fill the primary's pipeline: sequence numbers 1..=max_in_flight, one command each.
fn fill_pipeline(r: &mut Pbft, k: &[Keypair]) {
    let max = sim_config().max_in_flight;
    assert_eq!(submit(r, cmd("s1")), vec![proposal(pre_prepare(k, 0, 1, vec![cmd("s1")]))]);
    for seq in 2..=max {
        let c = cmd(&format!("s{seq}"));
        assert_eq!(
            submit(r, c.clone()),
            vec![Action::SetTimer { timer: Timer::Batch, after: sim_config().batch_timeout }]
        );
        assert_eq!(fire(r, Timer::Batch), vec![proposal(pre_prepare(k, 0, seq, vec![c]))]);
    }
}

#[test]
fn pipelining_stops_at_max_in_flight_and_resumes_on_execution() {
    let (mut r, k) = setup(0);
    fill_pipeline(&mut r, &k);
    // Even a full batch waits, and no batch timer is set for it.
    let batch = cmds("e", sim_config().max_batch);
    for c in &batch {
        assert_eq!(submit(&mut r, c.clone()), vec![]);
    }
    assert_eq!(fire(&mut r, Timer::Batch), vec![]);
    // Sequence 1 executes: one slot frees and the waiting batch is proposed as 5.
    let pp1 = pre_prepare(&k, 0, 1, vec![cmd("s1")]);
    recv(&mut r, 1, Message::Prepare(prepare_for(&k, &pp1, 1)));
    recv(&mut r, 2, Message::Prepare(prepare_for(&k, &pp1, 2)));
    recv(&mut r, 1, Message::Commit(commit_for(&pp1)));
    let acts = recv(&mut r, 2, Message::Commit(commit_for(&pp1)));
    let pp5 = pre_prepare(&k, 0, sim_config().max_in_flight + 1, batch);
    assert_eq!(acts, vec![delivered(1, vec![cmd("s1")]), proposal(pp5.clone())]);
}

#[test]
fn duplicate_submission_of_a_pending_command_does_nothing() {
    let (mut r, k) = setup(0);
    assert_eq!(submit(&mut r, cmd("a")), vec![proposal(pre_prepare(&k, 0, 1, vec![cmd("a")]))]);
    assert_eq!(submit(&mut r, cmd("a")), vec![]);
    assert_eq!(r.pending_len(), 1);
    // Also when it is forwarded by a backup.
    assert_eq!(recv(&mut r, 1, Message::Request(vec![cmd("a")])), vec![]);
    assert_eq!(r.pending_len(), 1);
    // The same at a backup, where it is pending but not proposed.
    let (mut b, _) = setup(1);
    assert_eq!(submit(&mut b, cmd("a")), vec![]);
    assert_eq!(submit(&mut b, cmd("a")), vec![]);
    assert_eq!(b.pending_len(), 1);
}

#[test]
fn submission_of_a_recently_delivered_command_does_nothing() {
    let (mut r, k) = setup(0);
    submit(&mut r, cmd("a"));
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    let acts = decide(&mut r, &k, 0, 1, vec![cmd("a")]);
    assert_eq!(acts, vec![bcast(Message::Commit(commit_for(&pp))), delivered(1, vec![cmd("a")])]);
    assert_eq!(r.pending_len(), 0);
    assert_eq!(submit(&mut r, cmd("a")), vec![]);
    assert_eq!(r.pending_len(), 0);
    // A new command is proposed as the next sequence number.
    assert_eq!(submit(&mut r, cmd("b")), vec![proposal(pre_prepare(&k, 0, 2, vec![cmd("b")]))]);
}

#[test]
fn a_delivered_batch_leaves_out_recently_delivered_commands() {
    let (mut r, k) = setup(1);
    let acts = decide(&mut r, &k, 0, 1, vec![cmd("a")]);
    assert_eq!(acts, backup_decides(&k, 1, 0, 1, vec![cmd("a")], vec![cmd("a")]));
    // A (faulty or post-view-change) primary orders "a" again next to "b".
    let acts = decide(&mut r, &k, 0, 2, vec![cmd("a"), cmd("b")]);
    assert_eq!(acts, backup_decides(&k, 1, 0, 2, vec![cmd("a"), cmd("b")], vec![cmd("b")]));
}

/// What was delivered within the dedup window is reported as delivered lately (the
/// replica answers late submissions from it), and forgotten once the window passes.
#[test]
fn commands_delivered_within_the_dedup_window_are_known_as_delivered() {
    let cfg = PbftConfig { dedup_window: 2, ..sim_config() };
    let (mut r, k) = (replica(&cfg, N, 1), test_keys(N));
    decide(&mut r, &k, 0, 1, vec![cmd("a")]);
    assert!(r.delivered_recently(&cmd("a").digest()));
    assert!(!r.delivered_recently(&cmd("b").digest()));
    decide(&mut r, &k, 0, 2, vec![cmd("b")]);
    assert!(r.delivered_recently(&cmd("a").digest()) && r.delivered_recently(&cmd("b").digest()));
    decide(&mut r, &k, 0, 3, vec![cmd("c")]);
    assert!(!r.delivered_recently(&cmd("a").digest()), "sequence 1 is out of the window");
    assert!(r.delivered_recently(&cmd("b").digest()));
}

#[test]
fn a_command_repeated_within_a_batch_is_delivered_once() {
    let (mut r, k) = setup(1);
    let batch = vec![cmd("a"), cmd("b"), cmd("a")];
    let acts = decide(&mut r, &k, 0, 1, batch.clone());
    assert_eq!(acts, backup_decides(&k, 1, 0, 1, batch, vec![cmd("a"), cmd("b")]));
}

#[test]
fn an_empty_batch_is_delivered_as_a_null_request() {
    let (mut r, k) = setup(2);
    let acts = decide(&mut r, &k, 0, 1, vec![]);
    assert_eq!(acts, backup_decides(&k, 2, 0, 1, vec![], vec![]));
}

#[test]
fn delivery_removes_the_command_from_pending() {
    let (mut r, k) = setup(1);
    submit(&mut r, cmd("a"));
    submit(&mut r, cmd("b"));
    assert_eq!(r.pending_len(), 2);
    decide(&mut r, &k, 0, 1, vec![cmd("a")]);
    assert_eq!(r.pending_len(), 1);
}

#[test]
fn seven_replicas_need_quorums_of_five() {
    let n = 7;
    let cfg = sim_config();
    let k = test_keys(n);
    let mut r = replica(&cfg, n, 3);
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    assert_eq!(
        recv(&mut r, 0, pp_msg(&pp)),
        vec![bcast(Message::Prepare(prepare_for(&k, &pp, 3)))]
    );
    // Own prepare + 3 others = 4 = quorum - 1.
    for b in [1, 2] {
        assert_eq!(recv(&mut r, b, Message::Prepare(prepare_for(&k, &pp, b))), vec![]);
    }
    assert_eq!(
        recv(&mut r, 4, Message::Prepare(prepare_for(&k, &pp, 4))),
        vec![bcast(Message::Commit(commit_for(&pp)))]
    );
    // Own commit + 4 others = 5 = quorum.
    for c in [0, 1, 2] {
        assert_eq!(recv(&mut r, c, Message::Commit(commit_for(&pp))), vec![]);
    }
    assert_eq!(
        recv(&mut r, 6, Message::Commit(commit_for(&pp))),
        vec![delivered(1, vec![cmd("a")])]
    );
    assert_eq!(r.stats().invalid_messages, 0);
}

/// Requests forwarded together reach an idle primary together: one pre-prepare with
/// all of them, not one with the first and the rest after the batch timeout.
#[test]
fn a_forwarded_batch_is_proposed_whole_by_an_idle_primary() {
    let cfg = sim_config();
    let k = test_keys(4);
    let mut p = replica(&cfg, 4, 0);
    let batch = cmds("fwd", 3);
    let acts = recv(&mut p, 2, Message::Request(batch.clone()));
    assert_eq!(acts, vec![proposal(pre_prepare(&k, 0, 1, batch))]);
}

/// `sim_config()` with batches of at most 10 bytes of commands.
fn byte_capped() -> PbftConfig {
    PbftConfig { max_batch_bytes: 10, ..sim_config() }
}

/// Commands of 4 bytes: two fit in a 10-byte batch, a third does not.
#[test]
fn a_batch_is_cut_at_the_byte_cap_and_the_rest_waits_for_the_timer() {
    let cfg = byte_capped();
    let k = test_keys(N);
    let mut r = replica(&cfg, N, 0);
    assert_eq!(
        submit(&mut r, cmd("s001")),
        vec![proposal(pre_prepare(&k, 0, 1, vec![cmd("s001")]))]
    );
    assert_eq!(
        submit(&mut r, cmd("c001")),
        vec![Action::SetTimer { timer: Timer::Batch, after: cfg.batch_timeout }]
    );
    assert_eq!(submit(&mut r, cmd("c002")), vec![], "8 bytes queued: not full");
    // 12 bytes queued: full. The batch takes 8; the third command would make it 12.
    let acts = submit(&mut r, cmd("c003"));
    assert_eq!(acts, vec![proposal(pre_prepare(&k, 0, 2, vec![cmd("c001"), cmd("c002")]))]);
    // The rest is a partial batch: it goes when the (still running) timer fires.
    assert_eq!(
        fire(&mut r, Timer::Batch),
        vec![proposal(pre_prepare(&k, 0, 3, vec![cmd("c003")]))]
    );
}

#[test]
fn a_command_larger_than_the_byte_cap_goes_alone() {
    let cfg = byte_capped();
    let k = test_keys(N);
    let mut r = replica(&cfg, N, 0);
    submit(&mut r, cmd("s001"));
    assert_eq!(
        submit(&mut r, cmd("c001")),
        vec![Action::SetTimer { timer: Timer::Batch, after: cfg.batch_timeout }]
    );
    // 4 + 24 bytes queued: full. The small command goes alone (the large one does not
    // fit next to it), then the large one alone, and nothing is left for the timer.
    let large = cmd("a command of 24 bytes...");
    assert_eq!(large.len(), 24);
    let acts = submit(&mut r, large.clone());
    assert_eq!(
        acts,
        vec![
            proposal(pre_prepare(&k, 0, 2, vec![cmd("c001")])),
            proposal(pre_prepare(&k, 0, 3, vec![large])),
            Action::CancelTimer { timer: Timer::Batch },
        ]
    );
}

#[test]
fn a_backup_forwards_waiting_requests_in_batches_within_the_byte_cap() {
    let cfg = byte_capped();
    let mut r = replica(&cfg, N, 2);
    for c in ["a001", "a002", "a003"] {
        submit(&mut r, cmd(c));
    }
    let t = cfg.request_timeout_ticks;
    for _ in 1..t {
        fire(&mut r, Timer::Tick);
    }
    let forwarded = |acts: Vec<Act>| -> Vec<Message> {
        acts.into_iter()
            .filter_map(|a| match a {
                Action::Send { to: 0, msg } => Some(msg),
                _ => None,
            })
            .collect()
    };
    // Tick t: the first two (8 bytes); the third would make 12. Tick t + 1: the third.
    let first = forwarded(fire(&mut r, Timer::Tick));
    assert_eq!(first, vec![Message::Request(vec![cmd("a001"), cmd("a002")])]);
    let second = forwarded(fire(&mut r, Timer::Tick));
    assert_eq!(second, vec![Message::Request(vec![cmd("a003")])]);
}
