//! Unit tests of message verification: every message from the network is checked before
//! use, and a bad one is dropped and counted, never acted on and never a panic.
//!
//! Each test feeds one forged or malformed message to a fresh replica and checks that it
//! produces *no action at all*, that `stats().invalid_messages` went up by one (and
//! `ignored_messages` did not), and that `last_invalid()` names the expected reason. The
//! distinction matters: invalid messages are evidence of a faulty or malicious peer,
//! while stale or out-of-window messages (the last tests here) are normal under faults
//! and are only *ignored*.
//!
//! Four replicas (f = 1, quorums of 3), `sim_config()` (batches of at most 8, a window of
//! 16); replica 0 is the primary of view 0 and replica 1 of view 1.

mod common;

use chainspace_core::consensus::{Action, Consensus};
use chainspace_core::crypto::{Digest, Keypair, Signature, sha256};
use chainspace_core::snapshot::Snapshot;
use common::*;
use consensus_pbft::checkpoint::PbftSnapshot;
use consensus_pbft::message::{
    Checkpoint, Decided, FetchPrePrepare, NewView, PrePrepare, Prepare, StateReply, Status,
    ViewChange,
};
use consensus_pbft::{Invalid, Message, Pbft, PbftConfig, Timer};

const N: usize = 4;

fn setup(index: u32) -> (Pbft, Vec<Keypair>) {
    (replica(&sim_config(), N, index), test_keys(N))
}

fn a_signature(key: &Keypair) -> Signature {
    key.sign(b"some other domain", b"some other message")
}

// ----- pre-prepares ---------------------------------------------------------------------

#[test]
fn pre_prepare_from_a_backup_is_invalid() {
    let (mut r, k) = setup(1);
    // Validly signed by the primary, but relayed by replica 2.
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    expect_invalid(
        &mut r,
        2,
        Message::PrePrepare(pp.clone()),
        Invalid::WrongSender { from: 2, what: "pre-prepare" },
    );
    // Signed by replica 2 itself.
    let own = PrePrepare::new(0, 1, vec![cmd("a")], &k[2]);
    expect_invalid(
        &mut r,
        2,
        Message::PrePrepare(own),
        Invalid::WrongSender { from: 2, what: "pre-prepare" },
    );
    // The genuine one from the primary is still accepted.
    assert_eq!(
        recv(&mut r, 0, Message::PrePrepare(pp.clone())),
        vec![bcast(Message::Prepare(prepare_for(&k, &pp, 1)))]
    );
}

#[test]
fn pre_prepare_with_a_bad_signature_is_invalid() {
    let (mut r, k) = setup(1);
    // Signed with another replica's key.
    let wrong_key = PrePrepare::new(0, 1, vec![cmd("a")], &k[3]);
    expect_invalid(&mut r, 0, Message::PrePrepare(wrong_key), Invalid::Signature("pre-prepare"));
    // The primary's signature over another sequence number.
    let mut moved = pre_prepare(&k, 0, 2, vec![cmd("a")]);
    moved.seq = 1;
    expect_invalid(&mut r, 0, Message::PrePrepare(moved), Invalid::Signature("pre-prepare"));
    // Garbage.
    let mut garbage = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    garbage.signature = a_signature(&k[0]);
    expect_invalid(&mut r, 0, Message::PrePrepare(garbage), Invalid::Signature("pre-prepare"));
}

#[test]
fn pre_prepare_whose_digest_does_not_match_its_batch_is_invalid() {
    let (mut r, k) = setup(1);
    let mut pp = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    pp.batch = vec![cmd("b")];
    expect_invalid(&mut r, 0, Message::PrePrepare(pp), Invalid::Digest);
}

#[test]
fn pre_prepare_with_too_many_commands_is_invalid() {
    let (mut r, k) = setup(1);
    let max = sim_config().max_batch;
    let pp = pre_prepare(&k, 0, 1, cmds("c", max + 1));
    expect_invalid(
        &mut r,
        0,
        Message::PrePrepare(pp),
        Invalid::BatchTooLarge { len: max + 1, max },
    );
}

#[test]
fn pre_prepare_with_too_many_bytes_is_invalid_unless_it_holds_one_command() {
    let cfg = PbftConfig { max_batch_bytes: 10, ..sim_config() };
    let k = test_keys(4);
    let mut r = replica(&cfg, 4, 1);
    let pp = pre_prepare(&k, 0, 1, vec![cmd("c001"), cmd("c002"), cmd("c003")]);
    let why = Invalid::BatchTooManyBytes { bytes: 12, max: 10 };
    expect_invalid(&mut r, 0, Message::PrePrepare(pp), why);
    // One command past the cap is a batch of its own: accepted.
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a command of 24 bytes...")]);
    let acts = recv(&mut r, 0, Message::PrePrepare(pp.clone()));
    assert_eq!(acts, vec![bcast(Message::Prepare(prepare_for(&k, &pp, 1)))]);
}

// ----- pre-prepares naming requests by digest -----------------------------------------

#[test]
fn a_pre_prepare_by_digest_is_rebuilt_from_held_requests_or_fetched_in_full() {
    let (mut r, k) = setup(1);
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a"), cmd("b")]);
    // Only "a" arrived from its client: the backup asks the primary for the whole
    // pre-prepare and prepares nothing yet.
    submit(&mut r, cmd("a"));
    let acts = recv(&mut r, 0, Message::PrePrepareDigests(pp.by_digest()));
    let fetch = FetchPrePrepare { view: 0, seq: 1 };
    assert_eq!(acts, vec![send_to(0, Message::FetchPrePrepare(fetch))]);
    assert_eq!(r.stats().proposals_fetched, 1);
    // Once "b" is here too, the same message is rebuilt into the signed pre-prepare.
    submit(&mut r, cmd("b"));
    let acts = recv(&mut r, 0, Message::PrePrepareDigests(pp.by_digest()));
    assert_eq!(acts, vec![bcast(Message::Prepare(prepare_for(&k, &pp, 1)))]);
    // The full one, answering the fetch, is then no news.
    assert_eq!(recv(&mut r, 0, Message::PrePrepare(pp)), vec![]);
    assert_eq!(r.stats().proposals_fetched, 1);
    assert_eq!(r.stats().invalid_messages, 0);
}

#[test]
fn a_pre_prepare_by_digest_is_checked_before_anything_is_looked_up() {
    let (mut r, k) = setup(1);
    submit(&mut r, cmd("a"));
    // From a backup.
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    let why = Invalid::WrongSender { from: 2, what: "pre-prepare" };
    expect_invalid(&mut r, 2, Message::PrePrepareDigests(pp.by_digest()), why);
    // Digests that do not hash to the signed digest.
    let mut tampered = pp.by_digest();
    tampered.requests = vec![cmd("b").digest()];
    expect_invalid(&mut r, 0, Message::PrePrepareDigests(tampered), Invalid::Digest);
    // Too many.
    let max = sim_config().max_batch;
    let big = pre_prepare(&k, 0, 1, cmds("c", max + 1));
    let why = Invalid::BatchTooLarge { len: max + 1, max };
    expect_invalid(&mut r, 0, Message::PrePrepareDigests(big.by_digest()), why);
    // A bad signature is caught on the rebuilt pre-prepare.
    let mut forged = pp.by_digest();
    forged.signature = a_signature(&k[0]);
    expect_invalid(
        &mut r,
        0,
        Message::PrePrepareDigests(forged),
        Invalid::Signature("pre-prepare"),
    );
    assert_eq!(r.stats().proposals_fetched, 0);
}

#[test]
fn a_pre_prepare_by_digest_is_not_fetched_when_stale_or_out_of_window() {
    let (mut r, k) = setup(1);
    let window = sim_config().window;
    let far = pre_prepare(&k, 0, window + 1, vec![cmd("a")]);
    expect_ignored(&mut r, 0, Message::PrePrepareDigests(far.by_digest()));
    assert_eq!(r.stats().proposals_fetched, 0);
}

#[test]
fn only_the_primary_answers_a_fetch_and_only_for_what_it_pre_prepared() {
    let k = test_keys(N);
    let mut p = replica(&sim_config(), N, 0);
    let full = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    let sent = full.by_digest();
    let acts = submit(&mut p, cmd("a"));
    assert_eq!(acts, vec![bcast(Message::PrePrepareDigests(sent.clone()))]);
    let acts = recv(&mut p, 2, Message::FetchPrePrepare(FetchPrePrepare { view: 0, seq: 1 }));
    assert_eq!(acts, vec![send_to(2, Message::PrePrepare(full))]);
    // Another view or sequence number: nothing to send.
    expect_ignored(&mut p, 2, Message::FetchPrePrepare(FetchPrePrepare { view: 1, seq: 1 }));
    expect_ignored(&mut p, 2, Message::FetchPrePrepare(FetchPrePrepare { view: 0, seq: 2 }));
    // A backup does not answer, even for a pre-prepare it holds.
    let (mut b, _) = setup(1);
    submit(&mut b, cmd("a"));
    recv(&mut b, 0, Message::PrePrepareDigests(sent));
    expect_ignored(&mut b, 2, Message::FetchPrePrepare(FetchPrePrepare { view: 0, seq: 1 }));
}

#[test]
fn a_second_conflicting_pre_prepare_is_equivocation() {
    let (mut r, k) = setup(1);
    let first = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    let second = pre_prepare(&k, 0, 1, vec![cmd("b")]);
    recv(&mut r, 0, Message::PrePrepare(first.clone()));
    expect_invalid(
        &mut r,
        0,
        Message::PrePrepare(second.clone()),
        Invalid::Equivocation { view: 0, seq: 1 },
    );
    // The first one stands: a prepare for it prepares, one for the second does not.
    assert_eq!(recv(&mut r, 3, Message::Prepare(prepare_for(&k, &second, 3))), vec![]);
    assert_eq!(
        recv(&mut r, 2, Message::Prepare(prepare_for(&k, &first, 2))),
        vec![bcast(Message::Commit(commit_for(&first)))]
    );
}

#[test]
fn a_conflicting_pre_prepare_by_digest_is_equivocation_even_when_its_requests_are_missing() {
    let (mut r, k) = setup(1);
    let first = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    recv(&mut r, 0, Message::PrePrepare(first.clone()));
    // Requests this backup never received: it cannot rebuild the batch, yet the slot is
    // taken in this view, so the primary equivocated.
    let second = pre_prepare(&k, 0, 1, vec![cmd("never-sent")]);
    expect_invalid(
        &mut r,
        0,
        Message::PrePrepareDigests(second.by_digest()),
        Invalid::Equivocation { view: 0, seq: 1 },
    );
    assert_eq!(r.stats().proposals_fetched, 0, "nothing fetched for a slot already filled");
    // The same batch again by digest is a duplicate, not equivocation.
    let before = r.stats().invalid_messages;
    recv(&mut r, 0, Message::PrePrepareDigests(first.by_digest()));
    assert_eq!(r.stats().invalid_messages, before);
}

#[test]
fn the_same_pre_prepare_twice_is_not_equivocation() {
    let (mut r, k) = setup(1);
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    recv(&mut r, 0, Message::PrePrepare(pp.clone()));
    assert_eq!(recv(&mut r, 0, Message::PrePrepare(pp)), vec![]);
    assert_eq!(r.stats().invalid_messages, 0);
}

// ----- prepares -------------------------------------------------------------------------

#[test]
fn prepare_whose_replica_differs_from_the_sender_is_invalid() {
    let (mut r, k) = setup(1);
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    recv(&mut r, 0, Message::PrePrepare(pp.clone()));
    // Replica 2's genuine prepare, replayed by replica 3.
    expect_invalid(
        &mut r,
        3,
        Message::Prepare(prepare_for(&k, &pp, 2)),
        Invalid::WrongSender { from: 3, what: "prepare" },
    );
    // It did not count: replica 2's own copy is still needed (and enough).
    assert_eq!(
        recv(&mut r, 2, Message::Prepare(prepare_for(&k, &pp, 2))),
        vec![bcast(Message::Commit(commit_for(&pp)))]
    );
}

#[test]
fn a_bad_prepare_that_does_not_complete_a_certificate_is_caught_when_it_would() {
    // At the primary (replica 0) a certificate needs prepares from two backups, so the
    // first prepare is kept unchecked; its signature is checked when a second arrives.
    let (mut r, k) = setup(0);
    let acts = submit(&mut r, cmd("a"));
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    assert_eq!(acts, vec![proposal(pp.clone())], "the primary proposes at once");
    let mut forged = prepare_for(&k, &pp, 2);
    forged.signature = a_signature(&k[2]);
    assert_eq!(recv(&mut r, 2, Message::Prepare(forged)), vec![], "one prepare: no certificate");
    assert_eq!(r.stats().invalid_messages, 0, "not checked before it would count");
    // Replica 1's genuine prepare would complete the certificate: replica 2's is checked,
    // dropped and counted, and the primary waits for another.
    let before = r.stats().invalid_messages;
    assert_eq!(recv(&mut r, 1, Message::Prepare(prepare_for(&k, &pp, 1))), vec![]);
    assert_eq!(r.stats().invalid_messages, before + 1);
    assert_eq!(r.last_invalid(), Some(&Invalid::Signature("prepare")));
    // Replica 2 may still send its genuine prepare (the forged one was dropped), and
    // replica 3's completes the certificate either way.
    assert_eq!(
        recv(&mut r, 3, Message::Prepare(prepare_for(&k, &pp, 3))),
        vec![bcast(Message::Commit(commit_for(&pp)))]
    );
}

#[test]
fn prepare_with_a_bad_signature_is_invalid() {
    let (mut r, k) = setup(1);
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    recv(&mut r, 0, Message::PrePrepare(pp.clone()));
    let wrong_key = Prepare::new(0, 1, pp.digest, 2, &k[3]);
    expect_invalid(&mut r, 2, Message::Prepare(wrong_key), Invalid::Signature("prepare"));
    let mut garbage = prepare_for(&k, &pp, 2);
    garbage.signature = a_signature(&k[2]);
    expect_invalid(&mut r, 2, Message::Prepare(garbage), Invalid::Signature("prepare"));
    // A signature for another sequence number.
    let mut moved = Prepare::new(0, 2, pp.digest, 2, &k[2]);
    moved.seq = 1;
    expect_invalid(&mut r, 2, Message::Prepare(moved), Invalid::Signature("prepare"));
    // None of them counted.
    assert_eq!(
        recv(&mut r, 2, Message::Prepare(prepare_for(&k, &pp, 2))),
        vec![bcast(Message::Commit(commit_for(&pp)))]
    );
}

#[test]
fn prepare_from_the_primary_is_invalid() {
    let (mut r, k) = setup(1);
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    recv(&mut r, 0, Message::PrePrepare(pp.clone()));
    expect_invalid(
        &mut r,
        0,
        Message::Prepare(prepare_for(&k, &pp, 0)),
        Invalid::WrongSender { from: 0, what: "prepare" },
    );
}

// ----- senders --------------------------------------------------------------------------

#[test]
fn message_from_outside_the_committee_is_invalid() {
    let (mut r, k) = setup(1);
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    for from in [N as u32, 7, u32::MAX] {
        expect_invalid(
            &mut r,
            from,
            Message::Commit(commit_for(&pp)),
            Invalid::UnknownReplica(from),
        );
        expect_invalid(
            &mut r,
            from,
            Message::Status(Status { view: 0, last_executed: 0 }),
            Invalid::UnknownReplica(from),
        );
    }
}

#[test]
fn message_claiming_to_come_from_the_replica_itself_is_invalid() {
    let (mut r, k) = setup(1);
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    expect_invalid(
        &mut r,
        1,
        Message::Prepare(prepare_for(&k, &pp, 1)),
        Invalid::UnknownReplica(1),
    );
}

// ----- requests and decided batches -----------------------------------------------------

#[test]
fn request_batch_over_max_batch_is_invalid() {
    let (mut r, _) = setup(0);
    let max = sim_config().max_batch;
    expect_invalid(
        &mut r,
        1,
        Message::Request(cmds("c", max + 1)),
        Invalid::BatchTooLarge { len: max + 1, max },
    );
    assert_eq!(r.pending_len(), 0, "none of its commands was taken");
}

#[test]
fn decided_batch_over_max_batch_is_invalid() {
    let (mut r, _) = setup(1);
    let max = sim_config().max_batch;
    expect_invalid(
        &mut r,
        2,
        Message::Decided(Decided { seq: 1, batch: cmds("c", max + 1) }),
        Invalid::BatchTooLarge { len: max + 1, max },
    );
}

#[test]
fn request_and_decided_batches_over_the_byte_cap_are_invalid() {
    let cfg = PbftConfig { max_batch_bytes: 10, ..sim_config() };
    let batch = vec![cmd("c001"), cmd("c002"), cmd("c003")];
    let why = Invalid::BatchTooManyBytes { bytes: 12, max: 10 };
    let mut r = replica(&cfg, 4, 0);
    expect_invalid(&mut r, 1, Message::Request(batch.clone()), why.clone());
    assert_eq!(r.pending_len(), 0, "none of its commands was taken");
    let mut r = replica(&cfg, 4, 1);
    expect_invalid(&mut r, 2, Message::Decided(Decided { seq: 1, batch }), why);
}

// ----- checkpoints ----------------------------------------------------------------------

#[test]
fn checkpoint_with_a_bad_signature_is_invalid() {
    let (mut r, k) = setup(1);
    let state = sha256(b"state at 8");
    let wrong_key = Checkpoint::new(8, state, 2, &k[3]);
    expect_invalid(&mut r, 2, Message::Checkpoint(wrong_key), Invalid::Signature("checkpoint"));
    let mut moved = Checkpoint::new(16, state, 2, &k[2]);
    moved.seq = 8;
    expect_invalid(&mut r, 2, Message::Checkpoint(moved), Invalid::Signature("checkpoint"));
}

#[test]
fn checkpoint_whose_replica_differs_from_the_sender_is_invalid() {
    let (mut r, k) = setup(1);
    let cp = Checkpoint::new(8, sha256(b"state at 8"), 2, &k[2]);
    expect_invalid(
        &mut r,
        3,
        Message::Checkpoint(cp),
        Invalid::WrongSender { from: 3, what: "checkpoint" },
    );
}

// ----- view changes ---------------------------------------------------------------------

/// A valid certificate for `(0, 1, [a])` with prepares from replicas 1 and 2.
fn cert_a(k: &[Keypair]) -> consensus_pbft::message::PreparedProof {
    prepared_proof(k, 0, 1, vec![cmd("a")], &[1, 2])
}

#[test]
fn view_change_with_a_forged_prepared_certificate_is_invalid() {
    let (mut r, k) = setup(1);
    let mut cert = cert_a(&k);
    // One prepare's signature replaced by the other's.
    cert.prepares[1].signature = cert.prepares[0].signature;
    let vc = fresh_view_change(&k, 1, vec![cert], 3);
    expect_invalid(&mut r, 3, Message::ViewChange(vc), Invalid::Signature("prepare"));
    assert!(!r.in_view_change());
}

#[test]
fn view_change_with_a_certificate_below_quorum_is_invalid() {
    let (mut r, k) = setup(1);
    let cert = prepared_proof(&k, 0, 1, vec![cmd("a")], &[2]);
    let vc = fresh_view_change(&k, 1, vec![cert], 3);
    expect_invalid(
        &mut r,
        3,
        Message::ViewChange(vc),
        Invalid::Proof("prepared certificate below quorum"),
    );
}

#[test]
fn view_change_with_a_certificate_counting_the_primary_or_a_backup_twice_is_invalid() {
    let (mut r, k) = setup(1);
    for backups in [[0, 2], [2, 2]] {
        let cert = prepared_proof(&k, 0, 1, vec![cmd("a")], &backups);
        let vc = fresh_view_change(&k, 1, vec![cert], 3);
        expect_invalid(
            &mut r,
            3,
            Message::ViewChange(vc),
            Invalid::Proof("prepares must come from distinct backups"),
        );
    }
}

#[test]
fn view_change_with_a_certificate_from_the_new_view_is_invalid() {
    let (mut r, k) = setup(1);
    let cert = prepared_proof(&k, 1, 1, vec![cmd("a")], &[2, 3]);
    let vc = fresh_view_change(&k, 1, vec![cert], 3);
    expect_invalid(
        &mut r,
        3,
        Message::ViewChange(vc),
        Invalid::Proof("certificate from a view not below the new view"),
    );
}

#[test]
fn view_change_with_a_bad_signature_is_invalid() {
    let (mut r, k) = setup(1);
    let mut vc = fresh_view_change(&k, 1, vec![], 3);
    vc.signature = fresh_view_change(&k, 1, vec![], 2).signature;
    expect_invalid(&mut r, 3, Message::ViewChange(vc), Invalid::Signature("view-change"));
    // Certificates swapped after signing: the claims no longer match the signature.
    let mut vc = fresh_view_change(&k, 1, vec![cert_a(&k)], 3);
    vc.prepared = vec![prepared_proof(&k, 0, 1, vec![cmd("b")], &[1, 2])];
    expect_invalid(&mut r, 3, Message::ViewChange(vc), Invalid::Signature("view-change"));
}

#[test]
fn view_change_whose_replica_differs_from_the_sender_is_invalid() {
    let (mut r, k) = setup(1);
    let vc = fresh_view_change(&k, 1, vec![], 2);
    expect_invalid(
        &mut r,
        3,
        Message::ViewChange(vc),
        Invalid::WrongSender { from: 3, what: "view-change" },
    );
}

/// View changes to view 1 from replicas 1, 2 and 3, replica 2 reporting a certificate
/// for `[a]` at sequence 1: the new view must re-propose `[a]` at 1.
fn quorum_for_view_1(k: &[Keypair]) -> Vec<ViewChange> {
    vec![
        fresh_view_change(k, 1, vec![], 1),
        fresh_view_change(k, 1, vec![cert_a(k)], 2),
        fresh_view_change(k, 1, vec![], 3),
    ]
}

#[test]
fn new_view_whose_pre_prepares_differ_from_the_derived_ones_is_invalid() {
    let (mut r, k) = setup(3);
    let vcs = quorum_for_view_1(&k);
    // The new primary replaces the certified batch with its own.
    let forged = NewView {
        view: 1,
        view_changes: vcs.clone(),
        pre_prepares: vec![PrePrepare::new(1, 1, vec![cmd("b")], &k[1])],
    };
    expect_invalid(
        &mut r,
        1,
        Message::NewView(forged),
        Invalid::NewView("pre-prepare differs from the derived one"),
    );
    // It drops the certified batch.
    let dropped = NewView { view: 1, view_changes: vcs.clone(), pre_prepares: vec![] };
    expect_invalid(
        &mut r,
        1,
        Message::NewView(dropped),
        Invalid::NewView("wrong number of pre-prepares"),
    );
    // The right batch, signed by someone else than the new primary.
    let unsigned = NewView {
        view: 1,
        view_changes: vcs.clone(),
        pre_prepares: vec![PrePrepare::new(1, 1, vec![cmd("a")], &k[2])],
    };
    expect_invalid(&mut r, 1, Message::NewView(unsigned), Invalid::Signature("pre-prepare"));
    assert_eq!(r.view(), 0);
    // The genuine one is installed.
    let pp = PrePrepare::new(1, 1, vec![cmd("a")], &k[1]);
    let genuine = NewView { view: 1, view_changes: vcs, pre_prepares: vec![pp.clone()] };
    assert_eq!(
        recv(&mut r, 1, Message::NewView(genuine)),
        vec![
            Action::CancelTimer { timer: Timer::ViewChange(1) },
            bcast(Message::Prepare(prepare_for(&k, &pp, 3))),
        ]
    );
    assert_eq!(r.view(), 1);
}

#[test]
fn new_view_without_a_quorum_of_distinct_view_changes_is_invalid() {
    let (mut r, k) = setup(3);
    let vcs = quorum_for_view_1(&k);
    let pp = PrePrepare::new(1, 1, vec![cmd("a")], &k[1]);
    let why = Invalid::NewView("needs a quorum of view changes from distinct replicas");
    let short =
        NewView { view: 1, view_changes: vcs[1..].to_vec(), pre_prepares: vec![pp.clone()] };
    expect_invalid(&mut r, 1, Message::NewView(short), why.clone());
    let repeated = NewView {
        view: 1,
        view_changes: vec![vcs[1].clone(), vcs[1].clone(), vcs[2].clone()],
        pre_prepares: vec![pp],
    };
    expect_invalid(&mut r, 1, Message::NewView(repeated), why);
}

#[test]
fn new_view_carrying_a_view_change_for_another_view_is_invalid() {
    let (mut r, k) = setup(3);
    let mut vcs = quorum_for_view_1(&k);
    vcs[0] = fresh_view_change(&k, 2, vec![], 1);
    let nv = NewView {
        view: 1,
        view_changes: vcs,
        pre_prepares: vec![PrePrepare::new(1, 1, vec![cmd("a")], &k[1])],
    };
    expect_invalid(
        &mut r,
        1,
        Message::NewView(nv),
        Invalid::NewView("view change for another view"),
    );
}

// ----- state transfer -------------------------------------------------------------------

/// A PBFT snapshot of application state `app` with an empty dedup window.
fn snap(app: &[u8]) -> PbftSnapshot {
    PbftSnapshot { app: Snapshot::single(app.to_vec()), recent: Default::default() }
}

fn checkpoint_proof(k: &[Keypair], seq: u64, state: Digest, who: &[u32]) -> Vec<Checkpoint> {
    who.iter().map(|i| Checkpoint::new(seq, state, *i, &k[*i as usize])).collect()
}

#[test]
fn state_reply_whose_snapshot_does_not_match_the_proof_is_invalid() {
    let (mut r, k) = setup(3);
    let reply = StateReply {
        seq: 8,
        proof: checkpoint_proof(&k, 8, snap(b"the real snapshot").digest(), &[0, 1, 2]),
        snapshot: snap(b"a forged snapshot").encode(),
    };
    expect_invalid(
        &mut r,
        0,
        Message::StateReply(reply),
        Invalid::Proof("checkpoint proof mixes checkpoints"),
    );
    assert_eq!(r.last_delivered(), 0);
    assert_eq!(r.stats().snapshots_installed, 0);
}

#[test]
fn state_reply_with_a_proof_below_quorum_is_invalid() {
    let (mut r, k) = setup(3);
    let reply = StateReply {
        seq: 8,
        proof: checkpoint_proof(&k, 8, snap(b"snapshot").digest(), &[0, 1]),
        snapshot: snap(b"snapshot").encode(),
    };
    expect_invalid(
        &mut r,
        0,
        Message::StateReply(reply),
        Invalid::Proof("checkpoint proof below quorum"),
    );
}

#[test]
fn state_reply_with_a_forged_checkpoint_signature_is_invalid() {
    let (mut r, k) = setup(3);
    let mut proof = checkpoint_proof(&k, 8, snap(b"snapshot").digest(), &[0, 1, 2]);
    proof[2].signature = proof[1].signature;
    let reply = StateReply { seq: 8, proof, snapshot: snap(b"snapshot").encode() };
    expect_invalid(&mut r, 0, Message::StateReply(reply), Invalid::Signature("checkpoint"));
}

#[test]
fn state_reply_whose_snapshot_does_not_decode_is_invalid() {
    // Not a PBFT snapshot, whatever the proof: no InstallSnapshot.
    let (mut r, k) = setup(3);
    let reply = StateReply {
        seq: 8,
        proof: checkpoint_proof(&k, 8, snap(b"snapshot").digest(), &[0, 1, 2]),
        snapshot: b"\xff\xff\xff".to_vec(),
    };
    expect_invalid(
        &mut r,
        0,
        Message::StateReply(reply),
        Invalid::Proof("snapshot does not decode"),
    );
}

// ----- ignored, not invalid -------------------------------------------------------------

#[test]
fn pre_prepare_outside_the_window_is_ignored() {
    let (mut r, k) = setup(1);
    let window = sim_config().window;
    expect_ignored(&mut r, 0, Message::PrePrepare(pre_prepare(&k, 0, window + 1, vec![])));
    expect_ignored(&mut r, 0, Message::PrePrepare(pre_prepare(&k, 0, 0, vec![])));
    // The last sequence number of the window is accepted.
    let last = pre_prepare(&k, 0, window, vec![]);
    assert_eq!(
        recv(&mut r, 0, Message::PrePrepare(last.clone())),
        vec![bcast(Message::Prepare(prepare_for(&k, &last, 1)))]
    );
}

#[test]
fn prepare_and_commit_outside_the_window_are_ignored() {
    let (mut r, k) = setup(1);
    let far = pre_prepare(&k, 0, sim_config().window + 1, vec![]);
    expect_ignored(&mut r, 2, Message::Prepare(prepare_for(&k, &far, 2)));
    expect_ignored(&mut r, 2, Message::Commit(commit_for(&far)));
}

#[test]
fn a_repeated_prepare_is_ignored() {
    let (mut r, k) = setup(1);
    let pp = pre_prepare(&k, 0, 1, vec![cmd("a")]);
    recv(&mut r, 2, Message::Prepare(prepare_for(&k, &pp, 2)));
    expect_ignored(&mut r, 2, Message::Prepare(prepare_for(&k, &pp, 2)));
}

#[test]
fn messages_of_an_earlier_view_are_ignored() {
    let (mut r, k) = setup(3);
    let vcs = quorum_for_view_1(&k);
    let nv = NewView {
        view: 1,
        view_changes: vcs.clone(),
        pre_prepares: vec![PrePrepare::new(1, 1, vec![cmd("a")], &k[1])],
    };
    recv(&mut r, 1, Message::NewView(nv.clone()));
    assert_eq!(r.view(), 1);
    let old = pre_prepare(&k, 0, 2, vec![cmd("b")]);
    expect_ignored(&mut r, 0, Message::PrePrepare(old.clone()));
    expect_ignored(&mut r, 2, Message::Prepare(prepare_for(&k, &old, 2)));
    expect_ignored(&mut r, 2, Message::Commit(commit_for(&old)));
    // A new view for the view already installed, too.
    expect_ignored(&mut r, 1, Message::NewView(nv.clone()));
    // So are view changes for it or an earlier view, but their senders are still changing
    // view: they get the new-view message that lets them catch up.
    for (from, view) in [(2, 1), (0, 0)] {
        let before = r.stats();
        let acts =
            recv(&mut r, from, Message::ViewChange(fresh_view_change(&k, view, vec![], from)));
        assert_eq!(acts, vec![send_to(from, Message::NewView(nv.clone()))]);
        assert_eq!(r.stats().ignored_messages, before.ignored_messages + 1);
        assert_eq!(r.stats().invalid_messages, before.invalid_messages);
    }
}

#[test]
fn a_repeated_view_change_is_ignored() {
    let (mut r, k) = setup(0);
    recv(&mut r, 2, Message::ViewChange(fresh_view_change(&k, 1, vec![], 2)));
    expect_ignored(&mut r, 2, Message::ViewChange(fresh_view_change(&k, 1, vec![], 2)));
}

#[test]
fn stale_checkpoint_decided_and_state_reply_are_ignored() {
    let (mut r, k) = setup(1);
    let window = sim_config().window;
    expect_ignored(&mut r, 2, Message::Checkpoint(Checkpoint::new(0, sha256(b"s"), 2, &k[2])));
    let far = Checkpoint::new(2 * window + 1, sha256(b"s"), 2, &k[2]);
    expect_ignored(&mut r, 2, Message::Checkpoint(far));
    expect_ignored(&mut r, 2, Message::Decided(Decided { seq: 0, batch: vec![] }));
    let far = Decided { seq: 2 * window + 1, batch: vec![] };
    expect_ignored(&mut r, 2, Message::Decided(far));
    let reply = StateReply { seq: 0, proof: vec![], snapshot: vec![] };
    expect_ignored(&mut r, 2, Message::StateReply(reply));
}

#[test]
fn messages_of_a_later_view_are_kept_without_being_counted() {
    let (mut r, k) = setup(3);
    let later = PrePrepare::new(1, 1, vec![cmd("a")], &k[1]);
    for (from, msg) in [
        (1, Message::PrePrepare(later.clone())),
        (2, Message::Prepare(prepare_for(&k, &later, 2))),
        (2, Message::Commit(commit_for(&later))),
    ] {
        assert_eq!(recv(&mut r, from, msg), vec![]);
    }
    assert_eq!(r.stats().ignored_messages, 0);
    assert_eq!(r.stats().invalid_messages, 0);
}
