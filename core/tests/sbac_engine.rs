//! One-event unit tests of the S-BAC engine (Chainspace paper, section 4; DESIGN.md,
//! "S-BAC" and its "Replay" paragraph): each test puts objects in a [`MemoryStore`], feeds
//! the engine of one shard one ordered command, and compares the exact effects, the
//! objects and the transaction record that result.
//!
//! Transactions are built by hand (core's tests cannot use the contracts crate); objects
//! land on the shard a test wants by trying labels until `shard_of` agrees.

use chainspace_core::snapshot::Snapshot;
use std::sync::Arc;

use chainspace_core::checker::CheckVerdict;
use chainspace_core::committee::Committee;
use chainspace_core::crypto::{Keypair, Signature};
use chainspace_core::idmap::IdMap;
use chainspace_core::object::{Object, ObjectId, ObjectStatus};
use chainspace_core::sbac::engine::{Phase, TxRecord};
use chainspace_core::sbac::{
    Accept, Effect, Outcome, OutcomeReport, SbacEngine, ShardCertificate, Submission, Vote,
};
use chainspace_core::shard::{concerned_shards, involved_shards, shard_of};
use chainspace_core::store::{MemoryStore, Store, WriteBatch};
use chainspace_core::transaction::{Transaction, TransactionRequest, TxId};
use chainspace_core::types::ShardId;
use serde_json::json;

const SHARDS: u32 = 2;
const REPLICAS: u32 = 4;
const S0: ShardId = ShardId(0);
const S1: ShardId = ShardId(1);

// ---------------------------------------------------------------------------------------
// Building blocks.
// ---------------------------------------------------------------------------------------

fn committee() -> (Committee, Vec<Vec<Keypair>>) {
    Committee::for_test(SHARDS, REPLICAS)
}

/// A transaction of the `dummy` shape, built by hand.
fn call(
    method: &str,
    inputs: &[ObjectId],
    refs: &[ObjectId],
    nonce: u64,
    outputs: usize,
) -> Transaction {
    Transaction {
        contract_id: "dummy".into(),
        method_id: method.into(),
        input_ids: inputs.to_vec(),
        reference_input_ids: refs.to_vec(),
        parameters: vec![json!(nonce)],
        outputs: (0..outputs).map(|i| format!("{{\"dummy\":\"out\",\"index\":{i}}}")).collect(),
        returns: vec![],
        dependencies: vec![],
    }
}

/// An active object on `shard`, created (on paper) by a `create` call labelled `label`.
fn object_on(shard: ShardId, label: &str) -> Object {
    for k in 0.. {
        let value = format!("{{\"dummy\":\"{label}/{k}\",\"index\":0}}");
        let create = Transaction {
            contract_id: "dummy".into(),
            method_id: "create".into(),
            input_ids: vec![],
            reference_input_ids: vec![],
            parameters: vec![json!(format!("{label}/{k}"))],
            outputs: vec![value.clone()],
            returns: vec![],
            dependencies: vec![],
        };
        let id = create.output_ids()[0];
        if shard_of(&id, SHARDS) == shard {
            return Object::new(id, value);
        }
    }
    unreachable!("some label lands on every shard")
}

/// A `consume` call of `inputs` reading `refs`, whose outputs land on `out_shards` (one
/// output per entry, in order); the nonce parameter is varied until they do.
fn consume(inputs: &[&Object], refs: &[&Object], out_shards: &[ShardId]) -> Transaction {
    let ins: Vec<ObjectId> = inputs.iter().map(|o| o.id).collect();
    let rs: Vec<ObjectId> = refs.iter().map(|o| o.id).collect();
    for nonce in 0.. {
        let tx = call("consume", &ins, &rs, nonce, out_shards.len());
        let shards: Vec<ShardId> = tx.output_ids().iter().map(|id| shard_of(id, SHARDS)).collect();
        if shards == out_shards {
            return tx;
        }
    }
    unreachable!("some nonce puts the outputs where asked")
}

/// The request with the true values of `reads`.
fn request(tx: &Transaction, reads: &[&Object]) -> TransactionRequest {
    TransactionRequest {
        transaction: tx.clone(),
        store: reads.iter().map(|o| (o.id, o.value.clone())).collect(),
    }
}

fn submission(tx: &Transaction, reads: &[&Object], instance: u64) -> Submission {
    Submission { request: request(tx, reads), instance }
}

/// A certificate of `shard` for `(tx, instance, commit)` signed by `signers`.
fn cert(
    keys: &[Vec<Keypair>],
    tx: &Transaction,
    instance: u64,
    shard: ShardId,
    commit: bool,
    signers: &[u32],
) -> ShardCertificate {
    let reason = (!commit).then(|| format!("{shard} said no"));
    let votes = signers
        .iter()
        .map(|r| {
            let key = &keys[shard.0 as usize][*r as usize];
            let v = Vote::new(tx.digest(), instance, shard, *r, commit, reason.clone(), key);
            (*r, v.signature)
        })
        .collect();
    ShardCertificate { shard, commit, votes, reason }
}

fn accept(tx: &Transaction, instance: u64, certificates: Vec<ShardCertificate>) -> Accept {
    Accept { transaction: tx.clone(), instance, certificates }
}

/// The engine of one shard over a store holding `objects`.
struct Fixture {
    keys: Vec<Vec<Keypair>>,
    engine: SbacEngine,
}

impl Fixture {
    fn new(shard: ShardId, objects: &[&Object]) -> Self {
        let (committee, keys) = committee();
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let batch = objects.iter().fold(WriteBatch::new(), |b, o| b.put((*o).clone()));
        store.apply(batch).expect("memory store");
        Fixture { keys, engine: SbacEngine::new(shard, committee, store) }
    }

    fn prepare(&mut self, sub: &Submission) -> Vec<Effect> {
        self.engine.prepare(sub, &CheckVerdict::accept()).expect("prepare applies")
    }

    fn prepare_with(&mut self, sub: &Submission, verdict: &CheckVerdict) -> Vec<Effect> {
        self.engine.prepare(sub, verdict).expect("prepare applies")
    }

    fn accept(&mut self, acc: &Accept) -> Vec<Effect> {
        self.engine.accept(acc).expect("accept applies")
    }

    fn cert(
        &self,
        tx: &Transaction,
        instance: u64,
        shard: ShardId,
        commit: bool,
        signers: &[u32],
    ) -> ShardCertificate {
        cert(&self.keys, tx, instance, shard, commit, signers)
    }

    fn objects(&self) -> Vec<Object> {
        self.engine.store().objects().expect("memory store")
    }

    fn state(&self) -> (Vec<Object>, IdMap<TxId, TxRecord>) {
        (self.objects(), self.engine.records().clone())
    }

    fn status(&self, id: &ObjectId) -> Option<ObjectStatus> {
        self.engine.store().get(id).expect("memory store").map(|o| o.status)
    }

    fn record(&self, tx: &Transaction) -> Option<TxRecord> {
        self.engine.record(&tx.digest()).cloned()
    }

    fn report(&self, tx: &Transaction, instance: u64, outcome: Outcome) -> Effect {
        Effect::Report(OutcomeReport {
            tx: tx.digest(),
            instance,
            shard: self.engine.shard(),
            outcome,
        })
    }
}

fn vote(tx: &Transaction, instance: u64, commit: bool, reason: Option<String>) -> Effect {
    Effect::Vote {
        tx: tx.digest(),
        instance,
        commit,
        reason,
        involved: involved_shards(tx, SHARDS),
    }
}

fn locked(tx: &Transaction, instance: u64) -> Option<ObjectStatus> {
    Some(ObjectStatus::Locked { tx: tx.digest(), instance })
}

fn prepared(instance: u64, commit: bool, reason: Option<String>) -> Option<TxRecord> {
    Some(TxRecord { instance, phase: Phase::Prepared { commit, reason } })
}

fn accepted(instance: u64, outcome: Outcome) -> Option<TxRecord> {
    Some(TxRecord { instance, phase: Phase::Accepted(outcome) })
}

/// The objects `tx` creates on `shard`.
fn outputs_on(tx: &Transaction, shard: ShardId) -> Vec<Object> {
    tx.created_objects().into_iter().filter(|o| shard_of(&o.id, SHARDS) == shard).collect()
}

// ---------------------------------------------------------------------------------------
// The fixtures are what the tests think they are.
// ---------------------------------------------------------------------------------------

#[test]
fn helpers_place_objects_and_outputs_where_asked() {
    let a = object_on(S0, "a");
    let b = object_on(S1, "b");
    assert_eq!(shard_of(&a.id, SHARDS), S0);
    assert_eq!(shard_of(&b.id, SHARDS), S1);
    let tx = consume(&[&a, &b], &[], &[S0, S1]);
    assert_eq!(concerned_shards(&tx, SHARDS), [S0, S1]);
    assert_eq!(outputs_on(&tx, S0).len(), 1);
    assert_eq!(outputs_on(&tx, S1).len(), 1);
    let only_outputs_elsewhere = consume(&[&a], &[], &[S1]);
    assert_eq!(concerned_shards(&only_outputs_elsewhere, SHARDS), [S0]);
    assert_eq!(involved_shards(&only_outputs_elsewhere, SHARDS), [S0, S1]);
    let (c, _) = committee();
    assert_eq!(c.shards[0].quorum(), 3);
}

// ---------------------------------------------------------------------------------------
// Single-shard transactions: prepare and accept fuse.
// ---------------------------------------------------------------------------------------

#[test]
fn single_shard_commit_consumes_inputs_creates_outputs_and_reports_commit() {
    let a = object_on(S0, "a");
    let a2 = object_on(S0, "a2");
    let r = object_on(S0, "r");
    let tx = consume(&[&a, &a2], &[&r], &[S0, S0]);
    assert_eq!(involved_shards(&tx, SHARDS), [S0]);
    let mut f = Fixture::new(S0, &[&a, &a2, &r]);
    let effects = f.prepare(&submission(&tx, &[&a, &a2, &r], 1));
    assert_eq!(effects, vec![f.report(&tx, 1, Outcome::Commit)]);
    assert_eq!(f.status(&a.id), Some(ObjectStatus::Inactive));
    assert_eq!(f.status(&a2.id), Some(ObjectStatus::Inactive));
    assert_eq!(f.status(&r.id), Some(ObjectStatus::Active), "a reference is only read");
    let outs = tx.created_objects();
    assert_eq!(outs.len(), 2);
    for o in &outs {
        assert_eq!(f.engine.store().get(&o.id).expect("store").as_ref(), Some(o));
    }
    assert_eq!(f.objects().len(), 5);
    assert_eq!(f.record(&tx), accepted(1, Outcome::Commit));
}

/// Feed a single-shard prepare that must abort for `reason`: the report says so, the
/// record remembers it, and no object changes.
fn assert_prepared_abort(f: &mut Fixture, sub: &Submission, verdict: &CheckVerdict, reason: &str) {
    let tx = &sub.request.transaction;
    let before = f.objects();
    let effects = f.prepare_with(sub, verdict);
    let outcome = Outcome::PreparedAbort(reason.to_string());
    assert_eq!(effects, vec![f.report(tx, sub.instance, outcome.clone())]);
    assert_eq!(f.objects(), before, "an aborted prepare changes no object");
    assert_eq!(f.record(tx), accepted(sub.instance, outcome));
}

#[test]
fn single_shard_abort_on_a_missing_input() {
    let a = object_on(S0, "a");
    let missing = object_on(S0, "missing");
    let tx = consume(&[&a, &missing], &[], &[S0]);
    let mut f = Fixture::new(S0, &[&a]);
    let reason = format!("input {} does not exist", missing.id.to_hex());
    let sub = submission(&tx, &[&a, &missing], 1);
    assert_prepared_abort(&mut f, &sub, &CheckVerdict::accept(), &reason);
}

#[test]
fn single_shard_abort_on_a_missing_reference() {
    let a = object_on(S0, "a");
    let r = object_on(S0, "r");
    let tx = consume(&[&a], &[&r], &[S0]);
    let mut f = Fixture::new(S0, &[&a]);
    let reason = format!("reference {} does not exist", r.id.to_hex());
    assert_prepared_abort(&mut f, &submission(&tx, &[&a, &r], 1), &CheckVerdict::accept(), &reason);
}

#[test]
fn single_shard_abort_on_an_inactive_input() {
    let a = object_on(S0, "a");
    let spent = object_on(S0, "spent").with_status(ObjectStatus::Inactive);
    let tx = consume(&[&a, &spent], &[], &[S0]);
    let mut f = Fixture::new(S0, &[&a, &spent]);
    let reason = format!("input {} is inactive (already consumed)", spent.id.to_hex());
    let sub = submission(&tx, &[&a, &spent], 1);
    assert_prepared_abort(&mut f, &sub, &CheckVerdict::accept(), &reason);
}

#[test]
fn single_shard_abort_on_an_inactive_reference() {
    let a = object_on(S0, "a");
    let r = object_on(S0, "r").with_status(ObjectStatus::Inactive);
    let tx = consume(&[&a], &[&r], &[S0]);
    let mut f = Fixture::new(S0, &[&a, &r]);
    let reason = format!("reference {} is inactive (already consumed)", r.id.to_hex());
    assert_prepared_abort(&mut f, &submission(&tx, &[&a, &r], 1), &CheckVerdict::accept(), &reason);
}

#[test]
fn single_shard_abort_on_a_locked_input() {
    let other = TxId(chainspace_core::crypto::sha256(b"another transaction"));
    let a = object_on(S0, "a").with_status(ObjectStatus::Locked { tx: other, instance: 1 });
    let tx = consume(&[&a], &[], &[S0]);
    let mut f = Fixture::new(S0, &[&a]);
    let reason = format!("input {} is locked by another transaction", a.id.to_hex());
    assert_prepared_abort(&mut f, &submission(&tx, &[&a], 1), &CheckVerdict::accept(), &reason);
}

#[test]
fn single_shard_abort_on_a_wrong_or_missing_claimed_value() {
    let a = object_on(S0, "a");
    let tx = consume(&[&a], &[], &[S0]);
    let reason = format!("the value given for input {} is not the stored one", a.id.to_hex());
    let mut f = Fixture::new(S0, &[&a]);
    let mut sub = submission(&tx, &[&a], 1);
    sub.request.store.insert(a.id, "{\"dummy\":\"forged\",\"index\":0}".into());
    assert_prepared_abort(&mut f, &sub, &CheckVerdict::accept(), &reason);

    let mut f = Fixture::new(S0, &[&a]);
    let mut sub = submission(&tx, &[&a], 1);
    sub.request.store.clear();
    assert_prepared_abort(&mut f, &sub, &CheckVerdict::accept(), &reason);
}

#[test]
fn single_shard_abort_on_checker_rejection() {
    let a = object_on(S0, "a");
    let tx = consume(&[&a], &[], &[S0]);
    let sub = submission(&tx, &[&a], 1);
    let mut f = Fixture::new(S0, &[&a]);
    assert_prepared_abort(
        &mut f,
        &sub,
        &CheckVerdict::reject("no good"),
        "checker rejected: no good",
    );
    let mut f = Fixture::new(S0, &[&a]);
    let silent = CheckVerdict { accepted: false, reason: None };
    assert_prepared_abort(&mut f, &sub, &silent, "checker rejected: no reason");
}

#[test]
fn single_shard_abort_on_an_input_listed_twice() {
    let a = object_on(S0, "a");
    let tx = Transaction { input_ids: vec![a.id, a.id], ..consume(&[&a], &[], &[]) };
    let mut f = Fixture::new(S0, &[&a]);
    let sub = submission(&tx, &[&a], 1);
    assert_prepared_abort(&mut f, &sub, &CheckVerdict::accept(), "an input is listed twice");
}

#[test]
fn the_stored_objects_are_judged_before_the_checker() {
    let spent = object_on(S0, "spent").with_status(ObjectStatus::Inactive);
    let tx = consume(&[&spent], &[], &[]);
    let mut f = Fixture::new(S0, &[&spent]);
    let reason = format!("input {} is inactive (already consumed)", spent.id.to_hex());
    let sub = submission(&tx, &[&spent], 1);
    assert_prepared_abort(&mut f, &sub, &CheckVerdict::reject("also bad"), &reason);
}

#[test]
fn a_single_shard_transaction_may_be_retried_after_a_prepared_abort() {
    let a = object_on(S0, "a");
    let tx = consume(&[&a], &[], &[S0]);
    let mut f = Fixture::new(S0, &[&a]);
    let sub1 = submission(&tx, &[&a], 1);
    assert_prepared_abort(&mut f, &sub1, &CheckVerdict::reject("busy"), "checker rejected: busy");
    let sub2 = submission(&tx, &[&a], 2);
    assert!(f.engine.needs_check(&sub2));
    assert_eq!(f.prepare(&sub2), vec![f.report(&tx, 2, Outcome::Commit)]);
    assert_eq!(f.status(&a.id), Some(ObjectStatus::Inactive));
    assert_eq!(f.record(&tx), accepted(2, Outcome::Commit));
}

// ---------------------------------------------------------------------------------------
// Cross-shard prepare.
// ---------------------------------------------------------------------------------------

/// `a` on shard 0, `b` on shard 1, and `tx` consuming both with one output on each shard.
fn cross() -> (Object, Object, Transaction) {
    let a = object_on(S0, "a");
    let b = object_on(S1, "b");
    let tx = consume(&[&a, &b], &[], &[S0, S1]);
    (a, b, tx)
}

#[test]
fn cross_shard_prepare_commit_locks_this_shards_inputs_and_votes_commit() {
    let (a, b, tx) = cross();
    // Shard 0 does not hold `b` and does not judge it.
    let mut f = Fixture::new(S0, &[&a]);
    let effects = f.prepare(&submission(&tx, &[&a, &b], 1));
    assert_eq!(effects, vec![vote(&tx, 1, true, None)]);
    assert_eq!(f.status(&a.id), locked(&tx, 1));
    assert_eq!(f.objects().len(), 1, "no output is created at prepare");
    assert_eq!(f.record(&tx), prepared(1, true, None));
}

#[test]
fn cross_shard_prepare_abort_votes_abort_and_locks_nothing() {
    let (a, b, tx) = cross();
    let mut f = Fixture::new(S0, &[&a]);
    let mut sub = submission(&tx, &[&a, &b], 1);
    sub.request.store.insert(a.id, "forged".into());
    let reason = format!("the value given for input {} is not the stored one", a.id.to_hex());
    let before = f.objects();
    assert_eq!(f.prepare(&sub), vec![vote(&tx, 1, false, Some(reason.clone()))]);
    assert_eq!(f.objects(), before);
    assert_eq!(f.record(&tx), prepared(1, false, Some(reason)));

    let mut f = Fixture::new(S0, &[&a]);
    let sub = submission(&tx, &[&a, &b], 1);
    let why = Some("checker rejected: nope".to_string());
    assert_eq!(f.prepare_with(&sub, &CheckVerdict::reject("nope")), vec![vote(&tx, 1, false, why)]);
    assert_eq!(f.status(&a.id), Some(ObjectStatus::Active));
}

#[test]
fn prepares_of_instance_zero_or_at_an_unconcerned_shard_are_ignored() {
    let (a, b, tx) = cross();
    let mut f = Fixture::new(S0, &[&a]);
    let sub0 = submission(&tx, &[&a, &b], 0);
    assert!(!f.engine.needs_check(&sub0));
    assert_eq!(f.prepare(&sub0), vec![]);
    assert_eq!(f.record(&tx), None);
    // Shard 0 only creates an output of this one: it never prepares it.
    let only_b = consume(&[&b], &[], &[S0]);
    let sub = submission(&only_b, &[&b], 1);
    assert!(!f.engine.needs_check(&sub));
    assert_eq!(f.engine.answer(&sub), None);
    assert_eq!(f.prepare(&sub), vec![]);
    assert_eq!(f.record(&only_b), None);
    assert_eq!(f.objects(), vec![a]);
}

// ---------------------------------------------------------------------------------------
// Accept.
// ---------------------------------------------------------------------------------------

/// Shard 0 after preparing `tx` (instance 1) with a commit vote.
fn prepared_cross() -> (Object, Object, Transaction, Fixture) {
    let (a, b, tx) = cross();
    let mut f = Fixture::new(S0, &[&a]);
    assert_eq!(f.prepare(&submission(&tx, &[&a, &b], 1)), vec![vote(&tx, 1, true, None)]);
    (a, b, tx, f)
}

#[test]
fn accept_commit_with_every_concerned_certificate_consumes_and_creates() {
    let (a, _, tx, mut f) = prepared_cross();
    let certs = vec![f.cert(&tx, 1, S0, true, &[0, 1, 2]), f.cert(&tx, 1, S1, true, &[1, 2, 3])];
    let effects = f.accept(&accept(&tx, 1, certs));
    assert_eq!(effects, vec![f.report(&tx, 1, Outcome::Commit)]);
    assert_eq!(f.status(&a.id), Some(ObjectStatus::Inactive));
    let mine = outputs_on(&tx, S0);
    let theirs = outputs_on(&tx, S1);
    assert_eq!(f.engine.store().get(&mine[0].id).expect("store"), Some(mine[0].clone()));
    assert_eq!(f.status(&theirs[0].id), None, "shard 1's output is shard 1's to create");
    assert_eq!(f.objects().len(), 2);
    assert_eq!(f.record(&tx), accepted(1, Outcome::Commit));
}

#[test]
fn accept_abort_releases_the_locks() {
    let (a, _, tx, mut f) = prepared_cross();
    let abort = f.cert(&tx, 1, S1, false, &[0, 1, 2]);
    let effects = f.accept(&accept(&tx, 1, vec![abort]));
    let outcome = Outcome::Abort("s1 said no".into());
    assert_eq!(effects, vec![f.report(&tx, 1, outcome.clone())]);
    assert_eq!(f.status(&a.id), Some(ObjectStatus::Active));
    assert_eq!(f.objects(), vec![a.clone()], "no output on abort");
    assert_eq!(f.record(&tx), accepted(1, outcome));

    // Without a reason, the outcome names the aborting shard; a commit certificate next
    // to the abort one does not change the decision.
    let (a, _, tx, mut f) = prepared_cross();
    let mut abort = f.cert(&tx, 1, S1, false, &[0, 1, 2]);
    abort.reason = None;
    let certs = vec![f.cert(&tx, 1, S0, true, &[0, 1, 2]), abort];
    let outcome = Outcome::Abort("shard 1 aborted".into());
    assert_eq!(f.accept(&accept(&tx, 1, certs)), vec![f.report(&tx, 1, outcome)]);
    assert_eq!(f.status(&a.id), Some(ObjectStatus::Active));
}

#[test]
fn an_output_only_shard_creates_outputs_on_accept() {
    let b = object_on(S1, "b");
    let tx = consume(&[&b], &[], &[S0, S1]);
    assert_eq!(concerned_shards(&tx, SHARDS), [S1]);
    let mut f = Fixture::new(S0, &[]);
    let certs = vec![f.cert(&tx, 1, S1, true, &[0, 1, 2])];
    assert_eq!(f.accept(&accept(&tx, 1, certs)), vec![f.report(&tx, 1, Outcome::Commit)]);
    assert_eq!(f.objects(), outputs_on(&tx, S0));
    assert_eq!(f.record(&tx), accepted(1, Outcome::Commit));
    // Another replica's accept of the same decision, with other signers: a duplicate.
    let state = f.state();
    let again = vec![f.cert(&tx, 1, S1, true, &[1, 2, 3])];
    assert_eq!(f.accept(&accept(&tx, 1, again)), vec![f.report(&tx, 1, Outcome::Commit)]);
    assert_eq!(f.state(), state);

    // An abort creates nothing on an output-only shard.
    let mut f = Fixture::new(S0, &[]);
    let certs = vec![f.cert(&tx, 1, S1, false, &[0, 1, 2])];
    let outcome = Outcome::Abort("s1 said no".into());
    assert_eq!(f.accept(&accept(&tx, 1, certs)), vec![f.report(&tx, 1, outcome.clone())]);
    assert_eq!(f.objects(), vec![]);
    assert_eq!(f.record(&tx), accepted(1, outcome));
}

#[test]
fn accepts_that_prove_nothing_are_ignored() {
    let (a, b, tx) = cross();
    let (_, keys) = committee();
    let c = |i, s, commit, signers: &[u32]| cert(&keys, &tx, i, s, commit, signers);
    let forged = {
        let mut x = c(1, S1, false, &[0, 1, 2]);
        x.votes[1].1 = Signature([7; 64]);
        x
    };
    let wrong_signer = {
        // Replica 3 signs in replica 2's place.
        let mut x = c(1, S1, false, &[0, 1, 2]);
        let v = Vote::new(tx.digest(), 1, S1, 2, false, None, &keys[1][3]);
        x.votes[2].1 = v.signature;
        x
    };
    let other_decision = {
        let mut x = c(1, S1, true, &[0, 1, 2]);
        x.commit = false;
        x
    };
    let twice = {
        let mut x = c(1, S1, false, &[0, 1]);
        x.votes.push(x.votes[0]);
        x
    };
    let unknown_signer = {
        let mut x = c(1, S1, false, &[0, 1]);
        let v = Vote::new(tx.digest(), 1, S1, 7, false, None, &keys[1][3]);
        x.votes.push((7, v.signature));
        x
    };
    let unknown_shard = ShardCertificate { shard: ShardId(9), ..c(1, S1, false, &[0, 1, 2]) };
    let other_tx = {
        let other = consume(&[&a, &b], &[], &[S1, S1]);
        cert(&keys, &other, 1, S1, false, &[0, 1, 2])
    };
    let cases: Vec<(&str, Accept)> = vec![
        ("abort below quorum", accept(&tx, 1, vec![c(1, S1, false, &[0, 1])])),
        (
            "commit below quorum",
            accept(&tx, 1, vec![c(1, S0, true, &[0, 1, 2]), c(1, S1, true, &[3, 1])]),
        ),
        ("a garbage signature", accept(&tx, 1, vec![forged])),
        ("a signature by another replica", accept(&tx, 1, vec![wrong_signer])),
        ("votes of another instance", accept(&tx, 1, vec![c(2, S1, false, &[0, 1, 2])])),
        ("votes of an earlier instance", accept(&tx, 2, vec![c(1, S1, false, &[0, 1, 2])])),
        ("votes for the other decision", accept(&tx, 1, vec![other_decision])),
        ("a replica counted twice", accept(&tx, 1, vec![twice])),
        ("a replica outside the shard", accept(&tx, 1, vec![unknown_signer])),
        ("a shard outside the committee", accept(&tx, 1, vec![unknown_shard])),
        ("votes on another transaction", accept(&tx, 1, vec![other_tx])),
        (
            "two certificates of one shard",
            accept(&tx, 1, vec![c(1, S1, false, &[0, 1, 2]), c(1, S1, false, &[1, 2, 3])]),
        ),
        ("a commit without shard 1", accept(&tx, 1, vec![c(1, S0, true, &[0, 1, 2])])),
        ("no certificate at all", accept(&tx, 1, vec![])),
        ("instance 0", accept(&tx, 0, vec![c(0, S1, false, &[0, 1, 2])])),
        (
            "a later instance while this one holds the locks",
            accept(&tx, 2, vec![c(2, S1, false, &[0, 1, 2])]),
        ),
    ];
    for (name, acc) in cases {
        let (_, _, _, mut f) = prepared_cross();
        let state = f.state();
        assert_eq!(f.accept(&acc), vec![], "{name}");
        assert_eq!(f.state(), state, "{name}");
        assert_eq!(f.status(&a.id), locked(&tx, 1), "{name}");
    }
}

#[test]
fn a_certificate_from_a_shard_not_concerned_is_ignored() {
    // `tx` consumes `a` on shard 0 and creates its output on shard 1: shard 1 only
    // accepts it and never votes, so no abort of shard 1 may release shard 0's lock.
    let a = object_on(S0, "a");
    let tx = consume(&[&a], &[], &[S1]);
    assert_eq!(concerned_shards(&tx, SHARDS), [S0]);
    let mut f = Fixture::new(S0, &[&a]);
    assert_eq!(f.prepare(&submission(&tx, &[&a], 1)), vec![vote(&tx, 1, true, None)]);
    let state = f.state();
    for certs in [
        vec![f.cert(&tx, 1, S1, false, &[0, 1, 2])],
        vec![f.cert(&tx, 1, S0, true, &[0, 1, 2]), f.cert(&tx, 1, S1, true, &[0, 1, 2])],
        vec![f.cert(&tx, 1, S0, true, &[0, 1, 2]), f.cert(&tx, 1, S1, false, &[0, 1, 2])],
    ] {
        assert_eq!(f.accept(&accept(&tx, 1, certs.clone())), vec![], "{certs:?}");
        assert_eq!(f.state(), state);
    }
    // Its own commit certificate alone is the whole proof.
    let certs = vec![f.cert(&tx, 1, S0, true, &[0, 1, 2])];
    assert_eq!(f.accept(&accept(&tx, 1, certs)), vec![f.report(&tx, 1, Outcome::Commit)]);
    assert_eq!(f.status(&a.id), Some(ObjectStatus::Inactive));
    assert!(outputs_on(&tx, S0).is_empty());
}

#[test]
fn a_commit_accept_at_a_concerned_shard_that_holds_no_lock_is_ignored() {
    let (a, _, tx) = cross();
    let mut f = Fixture::new(S0, &[&a]);
    let certs = vec![f.cert(&tx, 1, S0, true, &[0, 1, 2]), f.cert(&tx, 1, S1, true, &[0, 1, 2])];
    let state = f.state();
    assert_eq!(f.accept(&accept(&tx, 1, certs)), vec![]);
    assert_eq!(f.state(), state);
}

#[test]
fn accepts_of_other_shards_transactions_are_ignored() {
    let b = object_on(S1, "b");
    let tx = consume(&[&b], &[], &[S1]);
    let mut f = Fixture::new(S0, &[]);
    let certs = vec![f.cert(&tx, 1, S1, true, &[0, 1, 2])];
    assert_eq!(f.accept(&accept(&tx, 1, certs)), vec![]);
    assert_eq!(f.record(&tx), None);
}

// ---------------------------------------------------------------------------------------
// Instances: duplicates, stale prepares, retries.
// ---------------------------------------------------------------------------------------

#[test]
fn a_duplicate_prepare_repeats_the_vote_without_changing_state() {
    let (a, b, tx, mut f) = prepared_cross();
    let state = f.state();
    let sub = submission(&tx, &[&a, &b], 1);
    assert!(!f.engine.needs_check(&sub));
    assert_eq!(f.engine.answer(&sub), Some(vec![vote(&tx, 1, true, None)]));
    // Even with another verdict or other claimed values: the decision was taken.
    let mut forged = sub.clone();
    forged.request.store.insert(a.id, "forged".into());
    assert_eq!(f.prepare_with(&forged, &CheckVerdict::reject("x")), vec![vote(&tx, 1, true, None)]);
    assert_eq!(f.state(), state);

    // After the accept, a duplicate repeats the outcome.
    let certs = vec![f.cert(&tx, 1, S0, true, &[0, 1, 2]), f.cert(&tx, 1, S1, true, &[0, 1, 2])];
    f.accept(&accept(&tx, 1, certs));
    let state = f.state();
    assert_eq!(f.prepare(&sub), vec![f.report(&tx, 1, Outcome::Commit)]);
    assert_eq!(f.state(), state);
}

/// Shard 0 after instance 1 prepared commit then accepted abort.
fn aborted_once() -> (Object, Object, Transaction, Fixture) {
    let (a, b, tx, mut f) = prepared_cross();
    let abort = vec![f.cert(&tx, 1, S1, false, &[0, 1, 2])];
    f.accept(&accept(&tx, 1, abort));
    assert_eq!(f.status(&a.id), Some(ObjectStatus::Active));
    (a, b, tx, f)
}

#[test]
fn a_retry_after_an_abort_locks_for_the_new_instance() {
    let (a, b, tx, mut f) = aborted_once();
    let sub2 = submission(&tx, &[&a, &b], 2);
    assert!(f.engine.needs_check(&sub2));
    assert_eq!(f.engine.answer(&sub2), None);
    assert_eq!(f.prepare(&sub2), vec![vote(&tx, 2, true, None)]);
    assert_eq!(f.status(&a.id), locked(&tx, 2));
    assert_eq!(f.record(&tx), prepared(2, true, None));
    // Instance 2 commits with instance 2's certificates.
    let certs = vec![f.cert(&tx, 2, S0, true, &[0, 1, 2]), f.cert(&tx, 2, S1, true, &[0, 1, 2])];
    assert_eq!(f.accept(&accept(&tx, 2, certs)), vec![f.report(&tx, 2, Outcome::Commit)]);
    assert_eq!(f.status(&a.id), Some(ObjectStatus::Inactive));
}

#[test]
fn a_retry_after_an_abort_vote_needs_no_accept_first() {
    // Shard 0 voted abort on instance 1 and holds nothing: instance 2 may start at once.
    let (a, b, tx) = cross();
    let mut f = Fixture::new(S0, &[&a]);
    let why = Some("checker rejected: later".to_string());
    let sub1 = submission(&tx, &[&a, &b], 1);
    assert_eq!(
        f.prepare_with(&sub1, &CheckVerdict::reject("later")),
        vec![vote(&tx, 1, false, why)]
    );
    let sub2 = submission(&tx, &[&a, &b], 2);
    assert!(f.engine.needs_check(&sub2));
    assert_eq!(f.prepare(&sub2), vec![vote(&tx, 2, true, None)]);
    assert_eq!(f.status(&a.id), locked(&tx, 2));
    // The late accept of instance 1 is stale now and releases nothing.
    let state = f.state();
    assert_eq!(f.accept(&accept(&tx, 1, vec![f.cert(&tx, 1, S0, false, &[0, 1, 2])])), vec![]);
    assert_eq!(f.state(), state);
}

#[test]
fn a_stale_prepare_is_ignored() {
    let (a, b, tx, mut f) = aborted_once();
    f.prepare(&submission(&tx, &[&a, &b], 2));
    let state = f.state();
    let sub1 = submission(&tx, &[&a, &b], 1);
    assert!(!f.engine.needs_check(&sub1));
    assert_eq!(f.engine.answer(&sub1), None);
    assert_eq!(f.prepare(&sub1), vec![]);
    assert_eq!(f.state(), state);
    assert_eq!(f.status(&a.id), locked(&tx, 2));
}

#[test]
fn a_stale_accept_does_not_touch_the_new_instances_locks() {
    let (a, b, tx, mut f) = aborted_once();
    f.prepare(&submission(&tx, &[&a, &b], 2));
    let state = f.state();
    // The very accept that settled instance 1, and one with other signers.
    for signers in [[0, 1, 2], [1, 2, 3]] {
        let old = accept(&tx, 1, vec![f.cert(&tx, 1, S1, false, &signers)]);
        assert_eq!(f.accept(&old), vec![]);
        assert_eq!(f.state(), state);
    }
    assert_eq!(f.status(&a.id), locked(&tx, 2));
}

#[test]
fn a_new_instance_is_refused_while_an_older_one_holds_locks() {
    let (a, b, tx, mut f) = prepared_cross();
    let state = f.state();
    let sub2 = submission(&tx, &[&a, &b], 2);
    assert!(!f.engine.needs_check(&sub2));
    assert_eq!(f.engine.answer(&sub2), None);
    assert_eq!(f.prepare(&sub2), vec![]);
    assert_eq!(f.state(), state);
    assert_eq!(f.status(&a.id), locked(&tx, 1));
}

#[test]
fn no_instance_starts_after_a_commit() {
    let (a, b, tx, mut f) = prepared_cross();
    let certs = vec![f.cert(&tx, 1, S0, true, &[0, 1, 2]), f.cert(&tx, 1, S1, true, &[0, 1, 2])];
    f.accept(&accept(&tx, 1, certs));
    let state = f.state();
    let commit = vec![f.report(&tx, 1, Outcome::Commit)];
    for instance in [2, 7] {
        let sub = submission(&tx, &[&a, &b], instance);
        assert!(!f.engine.needs_check(&sub));
        assert_eq!(f.engine.answer(&sub), Some(commit.clone()));
        assert_eq!(f.prepare(&sub), commit);
        // Nor does an accept of a later instance, whatever it proves.
        let abort = accept(&tx, instance, vec![f.cert(&tx, instance, S1, false, &[0, 1, 2])]);
        assert_eq!(f.accept(&abort), commit);
        assert_eq!(f.state(), state);
    }
    assert_eq!(f.status(&a.id), Some(ObjectStatus::Inactive));
}

#[test]
fn an_abort_accept_overtaking_its_prepare_makes_the_late_prepare_lock_nothing() {
    let (a, b, tx) = cross();
    let mut f = Fixture::new(S0, &[&a]);
    let abort = vec![f.cert(&tx, 1, S1, false, &[0, 1, 2])];
    let outcome = Outcome::Abort("s1 said no".into());
    assert_eq!(f.accept(&accept(&tx, 1, abort)), vec![f.report(&tx, 1, outcome.clone())]);
    assert_eq!(f.record(&tx), accepted(1, outcome.clone()));
    assert_eq!(f.objects(), vec![a.clone()]);
    let late = submission(&tx, &[&a, &b], 1);
    assert!(!f.engine.needs_check(&late));
    assert_eq!(f.engine.answer(&late), Some(vec![f.report(&tx, 1, outcome.clone())]));
    assert_eq!(f.prepare(&late), vec![f.report(&tx, 1, outcome.clone())]);
    assert_eq!(f.status(&a.id), Some(ObjectStatus::Active));
    assert_eq!(f.record(&tx), accepted(1, outcome));
    // The retry is free to lock.
    assert_eq!(f.prepare(&submission(&tx, &[&a, &b], 2)), vec![vote(&tx, 2, true, None)]);
    assert_eq!(f.status(&a.id), locked(&tx, 2));
}

// ---------------------------------------------------------------------------------------
// needs_check and answer.
// ---------------------------------------------------------------------------------------

#[test]
fn needs_check_is_true_exactly_when_the_prepare_would_be_evaluated() {
    let (a, b, tx) = cross();
    let sub = |i| submission(&tx, &[&a, &b], i);
    let mut f = Fixture::new(S0, &[&a]);
    assert!(f.engine.needs_check(&sub(1)), "new transaction");
    assert!(f.engine.needs_check(&sub(5)), "any first instance");
    assert!(!f.engine.needs_check(&sub(0)), "instance 0");
    f.prepare(&sub(1));
    assert!(!f.engine.needs_check(&sub(1)), "duplicate");
    assert!(!f.engine.needs_check(&sub(2)), "locks held by instance 1");
    f.accept(&accept(&tx, 1, vec![f.cert(&tx, 1, S1, false, &[0, 1, 2])]));
    assert!(!f.engine.needs_check(&sub(1)), "instance 1 finished");
    assert!(f.engine.needs_check(&sub(2)), "retry");
    f.prepare(&sub(2));
    assert!(!f.engine.needs_check(&sub(1)), "stale");
    assert!(!f.engine.needs_check(&sub(2)), "duplicate of the retry");
    let certs = vec![f.cert(&tx, 2, S0, true, &[0, 1, 2]), f.cert(&tx, 2, S1, true, &[0, 1, 2])];
    f.accept(&accept(&tx, 2, certs));
    assert!(!f.engine.needs_check(&sub(3)), "committed");
}

#[test]
fn answer_repeats_only_what_was_decided() {
    let (a, b, tx) = cross();
    let sub = |i| submission(&tx, &[&a, &b], i);
    let mut f = Fixture::new(S0, &[&a]);
    assert_eq!(f.engine.answer(&sub(1)), None, "unknown transaction");
    f.prepare(&sub(1));
    assert_eq!(f.engine.answer(&sub(1)), Some(vec![vote(&tx, 1, true, None)]));
    assert_eq!(f.engine.answer(&sub(2)), None, "another instance is ordered, not answered");
    let abort = Outcome::Abort("s1 said no".into());
    f.accept(&accept(&tx, 1, vec![f.cert(&tx, 1, S1, false, &[0, 1, 2])]));
    assert_eq!(f.engine.answer(&sub(1)), Some(vec![f.report(&tx, 1, abort)]));
    assert_eq!(f.engine.answer(&sub(2)), None);
    f.prepare(&sub(2));
    assert_eq!(f.engine.answer(&sub(1)), None, "stale: ordered, then ignored");
    let certs = vec![f.cert(&tx, 2, S0, true, &[0, 1, 2]), f.cert(&tx, 2, S1, true, &[0, 1, 2])];
    f.accept(&accept(&tx, 2, certs));
    let commit = Some(vec![f.report(&tx, 2, Outcome::Commit)]);
    for i in [1, 2, 3] {
        assert_eq!(f.engine.answer(&sub(i)), commit, "committed: every instance hears so");
    }
    // Answering changes nothing.
    let state = f.state();
    f.engine.answer(&sub(4));
    assert_eq!(f.state(), state);
}

// ---------------------------------------------------------------------------------------
// Snapshots.
// ---------------------------------------------------------------------------------------

#[test]
fn snapshot_and_install_round_trip() {
    // Shard 0 with a committed, an aborted-and-retried (locked) and a single-shard
    // transaction behind it.
    let (a, b, tx, mut f) = aborted_once();
    f.prepare(&submission(&tx, &[&a, &b], 2));
    let c = object_on(S0, "c");
    let single = consume(&[&c], &[], &[S0]);
    f.engine.store().apply(WriteBatch::new().put(c.clone())).expect("store");
    f.prepare(&submission(&single, &[&c], 1));
    let bytes = f.engine.snapshot().expect("snapshot");

    let mut fresh = Fixture::new(S0, &[]);
    fresh.engine.install(&bytes).expect("install");
    assert_eq!(fresh.state(), f.state());
    assert_eq!(fresh.engine.snapshot().expect("snapshot"), bytes);

    // Over a replica that is behind (it only has the objects of the start).
    let mut behind = Fixture::new(S0, &[&a, &c]);
    behind.engine.install(&bytes).expect("install");
    assert_eq!(behind.state(), f.state());

    // The installed engine goes on exactly like the original.
    let certs = vec![f.cert(&tx, 2, S0, true, &[0, 1, 2]), f.cert(&tx, 2, S1, true, &[0, 1, 2])];
    let acc = accept(&tx, 2, certs);
    assert_eq!(fresh.accept(&acc), f.accept(&acc));
    assert_eq!(fresh.state(), f.state());

    assert!(fresh.engine.install(&Snapshot::single(b"not a snapshot".to_vec())).is_err());
    assert_eq!(fresh.state(), f.state(), "a bad snapshot changes nothing");
}

/// A retry refused while the older instance held the locks is not lost: when the older
/// instance's abort releases them, the engine asks for the retry to be ordered again.
#[test]
fn a_refused_retry_is_taken_up_when_the_older_instance_releases_its_locks() {
    let (a, b, tx, mut f) = prepared_cross();
    let sub2 = submission(&tx, &[&a, &b], 2);
    assert_eq!(f.prepare(&sub2), vec![]);
    let abort = accept(&tx, 1, vec![f.cert(&tx, 1, S1, false, &[0, 1, 2])]);
    let effects = f.accept(&abort);
    assert_eq!(effects.len(), 2, "{effects:?}");
    assert!(matches!(&effects[0], Effect::Report(r) if r.instance == 1));
    assert_eq!(effects[1], Effect::Reprepare(sub2.clone()));
    assert_eq!(f.status(&a.id), Some(ObjectStatus::Active));
    // Ordered again, it is evaluated like any prepare of a new instance.
    assert!(f.engine.needs_check(&sub2));
    assert_eq!(f.prepare(&sub2), vec![vote(&tx, 2, true, None)]);
    assert_eq!(f.status(&a.id), locked(&tx, 2));
}

/// A shard answers late votes for an instance it finished or moved past with the vote it
/// gave (or abort, for one it never prepared), and stays silent for one in progress.
#[test]
fn late_votes_are_answered_with_the_vote_given_or_abort() {
    let (a, b, tx, mut f) = prepared_cross();
    let id = tx.digest();
    assert_eq!(f.engine.late_vote(&id, 1), None, "instance 1 is in progress");
    let abort = accept(&tx, 1, vec![f.cert(&tx, 1, S1, false, &[0, 1, 2])]);
    f.accept(&abort);
    assert_eq!(f.engine.late_vote(&id, 1), Some(true), "shard 0 voted commit in instance 1");
    f.prepare(&submission(&tx, &[&a, &b], 3));
    assert_eq!(f.engine.late_vote(&id, 2), Some(false), "never prepared, never will be");
    assert_eq!(f.engine.late_vote(&id, 1), Some(false), "moved past it: abort");
    assert_eq!(f.engine.late_vote(&id, 3), None);
}

/// The engine reopened on its store (a replica restarted after a crash) is the engine
/// it was: objects, records, the votes it gave and refused retries all survive, so the
/// commands delivered again after the restart are recognised and change nothing.
#[test]
fn an_engine_reopened_on_its_store_resumes_where_it_was() {
    let reopen = |f: &Fixture| {
        let (committee, _) = committee();
        SbacEngine::open(f.engine.shard(), committee, f.engine.store().clone())
            .expect("the store reads back")
    };
    let (a, b, tx, mut f) = prepared_cross();
    let sub2 = submission(&tx, &[&a, &b], 2);
    assert_eq!(f.prepare(&sub2), vec![], "refused while instance 1 holds the locks");
    let mut again = reopen(&f);
    assert_eq!(again.records(), f.engine.records());
    assert_eq!(again.late_vote(&tx.digest(), 1), f.engine.late_vote(&tx.digest(), 1));
    assert_eq!(again.snapshot().unwrap(), f.engine.snapshot().unwrap(), "votes and refused too");
    // Continue on the reopened engine: the refused retry is still taken up.
    f.engine = again;
    let abort = accept(&tx, 1, vec![f.cert(&tx, 1, S1, false, &[0, 1, 2])]);
    let effects = f.accept(&abort);
    assert_eq!(effects.get(1), Some(&Effect::Reprepare(sub2.clone())));
    assert_eq!(f.prepare(&sub2), vec![vote(&tx, 2, true, None)]);
    let mut again = reopen(&f);
    assert_eq!(again.snapshot().unwrap(), f.engine.snapshot().unwrap());
    // Replayed commands are duplicates: they repeat what was said and change nothing.
    f.engine = again;
    let before = f.state();
    assert_eq!(f.prepare(&submission(&tx, &[&a, &b], 1)), vec![]);
    assert_eq!(f.accept(&abort).len(), 0, "an accept of an instance moved past");
    assert_eq!(f.prepare(&sub2), vec![vote(&tx, 2, true, None)]);
    assert_eq!(f.state(), before);
}

/// Installing a snapshot replaces the S-BAC state on disk as well as in memory.
#[test]
fn an_installed_snapshot_is_what_a_reopened_engine_finds() {
    let (a, b, tx, mut f) = prepared_cross();
    let snap = f.engine.snapshot().unwrap();
    let mut g = Fixture::new(S0, &[]);
    // g has a record of its own that the snapshot does not: it must go.
    let other = consume(&[&object_on(S0, "z")], &[], &[S0]);
    g.prepare(&submission(&other, &[], 1));
    assert!(g.record(&other).is_some());
    g.engine.install(&snap).unwrap();
    let (committee, _) = committee();
    let reopened = SbacEngine::open(S0, committee, g.engine.store().clone()).unwrap();
    assert_eq!(reopened.records(), f.engine.records());
    assert_eq!(reopened.record(&tx.digest()), f.record(&tx).as_ref());
    let _ = (a, b);
}
