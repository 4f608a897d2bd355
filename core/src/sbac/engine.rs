//! The S-BAC state machine of one replica: applied to the commands its shard's consensus
//! delivers, in order, and nothing else, so all correct replicas of a shard move through
//! the same states.
//!
//! Every transaction has a record per shard: which attempt (instance) the shard is on,
//! and how far it got. The rules that keep replays harmless:
//!
//! * a prepare of an instance older than the record's is stale and ignored; one of the
//!   same instance is a duplicate and only repeats what was already said;
//! * a newer instance may start only when the shard holds no lock for an older one, and
//!   never after the transaction committed;
//! * an accept is taken only for the instance the record is on (or, for an abort that
//!   overtakes its own prepare, recorded so that the late prepare locks nothing);
//! * a lock is taken by `(tx, instance)` and only an accept of that same pair consumes or
//!   releases it.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::durable::{self, EngineState};
mod snapshot;

pub use snapshot::CHUNKS;
use snapshot::StateChunks;

use super::messages::{Accept, Outcome, OutcomeReport, ShardCertificate, Submission};
use crate::checker::CheckVerdict;
use crate::committee::Committee;
use crate::error::Error;
use crate::idmap::IdMap;
use crate::object::{Object, ObjectId, ObjectStatus};
use crate::shard::{concerned_shards, involved_shards, shard_of};
use crate::store::{Store, WriteBatch};
use crate::transaction::{Transaction, TxId};
use crate::types::ShardId;

/// How far a transaction got on this shard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Prepared; with `commit` the shard holds locks on its inputs for this instance.
    Prepared {
        /// The shard's decision.
        commit: bool,
        /// Why it aborted.
        reason: Option<String>,
    },
    /// Accepted: final for this instance.
    Accepted(Outcome),
}

/// A transaction's record on this shard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRecord {
    /// The instance the shard is on.
    pub instance: u64,
    /// How far it got.
    pub phase: Phase,
}

impl TxRecord {
    fn holds_locks(&self) -> bool {
        matches!(self.phase, Phase::Prepared { commit: true, .. })
    }
    fn committed(&self) -> bool {
        matches!(self.phase, Phase::Accepted(Outcome::Commit))
    }
}

/// What the replica must do after a command was applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Sign a prepared vote and send it to every replica of `involved` and the submitter.
    Vote {
        /// Transaction.
        tx: TxId,
        /// Attempt.
        instance: u64,
        /// The shard's decision.
        commit: bool,
        /// Why it aborted.
        reason: Option<String>,
        /// C(T) ∪ O(T).
        involved: Vec<ShardId>,
    },
    /// Tell the submitter the outcome.
    Report(OutcomeReport),
    /// Order this submission again: it was refused while an older instance held this
    /// shard's locks, and those are now released.
    Reprepare(Submission),
}

/// The state machine.
pub struct SbacEngine {
    shard: ShardId,
    committee: Committee,
    store: Arc<dyn Store>,
    records: IdMap<TxId, TxRecord>,
    /// This shard's prepared vote in the latest instance it voted in, per transaction:
    /// to answer a late vote from another shard with the same decision (never another).
    votes: IdMap<TxId, (u64, bool)>,
    /// A newer instance refused while an older one held this shard's locks: taken up
    /// again when those locks are released, so the retry is not lost.
    refused: IdMap<TxId, Submission>,
    /// The snapshot's chunks, kept up to date by [`SbacEngine::write`].
    chunks: StateChunks,
}

impl SbacEngine {
    /// The engine of a replica of `shard` on a new (empty) store. State already in
    /// `store` is not read: use [`SbacEngine::open`] for a store that may hold some.
    pub fn new(shard: ShardId, committee: Committee, store: Arc<dyn Store>) -> Self {
        Self::with_state(shard, committee, store, EngineState::default(), false)
    }

    /// The engine of a replica of `shard`, resuming from what `store` holds (objects,
    /// records, votes and refused retries: see [`durable`]).
    pub fn open(
        shard: ShardId,
        committee: Committee,
        store: Arc<dyn Store>,
    ) -> Result<Self, Error> {
        let state = EngineState::load(store.as_ref())?;
        Ok(Self::with_state(shard, committee, store, state, true))
    }

    fn with_state(
        shard: ShardId,
        committee: Committee,
        store: Arc<dyn Store>,
        state: EngineState,
        opened: bool,
    ) -> Self {
        SbacEngine {
            shard,
            committee,
            store,
            records: state.records,
            votes: state.votes,
            refused: state.refused,
            chunks: StateChunks::new(opened),
        }
    }

    /// This replica's shard.
    pub fn shard(&self) -> ShardId {
        self.shard
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// A transaction's record on this shard.
    pub fn record(&self, tx: &TxId) -> Option<&TxRecord> {
        self.records.get(tx)
    }

    /// All records (for state comparisons in tests).
    pub fn records(&self) -> &IdMap<TxId, TxRecord> {
        &self.records
    }

    fn mine(&self, id: &ObjectId) -> bool {
        shard_of(id, self.committee.num_shards()) == self.shard
    }

    fn report(&self, tx: TxId, instance: u64, outcome: Outcome) -> Effect {
        Effect::Report(OutcomeReport { tx, instance, shard: self.shard, outcome })
    }

    /// What to repeat for a duplicate: the vote or the outcome already given.
    fn repeat(&self, tx: TxId, record: &TxRecord, involved: Vec<ShardId>) -> Vec<Effect> {
        match &record.phase {
            Phase::Prepared { commit, reason } => vec![Effect::Vote {
                tx,
                instance: record.instance,
                commit: *commit,
                reason: reason.clone(),
                involved,
            }],
            Phase::Accepted(o) => vec![self.report(tx, record.instance, o.clone())],
        }
    }

    /// What this replica already decided about a submission, if it is a duplicate (same
    /// instance, or the transaction committed): answering it needs no ordering, since
    /// it changes nothing.
    pub fn answer(&self, sub: &Submission) -> Option<Vec<Effect>> {
        let tx = &sub.request.transaction;
        let id = tx.digest();
        let r = self.records.get(&id)?;
        (r.instance == sub.instance || r.committed())
            .then(|| self.repeat(id, r, involved_shards(tx, self.committee.num_shards())))
    }

    /// The vote this shard gives for an instance it has finished or moved past, to
    /// answer a late vote of another shard (whose replicas may have missed ours): the
    /// vote it gave, or abort for an instance it never prepared (and, having moved on or
    /// accepted, never will). `None` while the instance is still in progress here, where
    /// the normal exchange of votes handles it.
    pub fn late_vote(&self, tx: &TxId, instance: u64) -> Option<bool> {
        let r = self.records.get(tx)?;
        let given = self.votes.get(tx).filter(|(i, _)| *i == instance).map(|(_, v)| *v);
        if r.instance > instance {
            return Some(given.unwrap_or(false));
        }
        match &r.phase {
            Phase::Accepted(o) if r.instance == instance => {
                Some(given.unwrap_or(*o == Outcome::Commit))
            }
            _ => None,
        }
    }

    /// Whether applying this prepare would evaluate it (and so needs the checker's
    /// verdict), rather than ignore it or repeat what was already decided.
    pub fn needs_check(&self, sub: &Submission) -> bool {
        let tx = &sub.request.transaction;
        if sub.instance == 0
            || !concerned_shards(tx, self.committee.num_shards()).contains(&self.shard)
        {
            return false;
        }
        match self.records.get(&tx.digest()) {
            None => true,
            Some(r) => r.instance < sub.instance && !r.committed() && !r.holds_locks(),
        }
    }

    /// Apply an ordered prepare, with the checker's verdict on the submission.
    pub fn prepare(
        &mut self,
        sub: &Submission,
        verdict: &CheckVerdict,
    ) -> Result<Vec<Effect>, Error> {
        let tx = &sub.request.transaction;
        let id = tx.digest();
        let n = self.committee.num_shards();
        let involved = involved_shards(tx, n);
        if sub.instance == 0 || !concerned_shards(tx, n).contains(&self.shard) {
            return Ok(vec![]);
        }
        if let Some(r) = self.records.get(&id) {
            if r.instance > sub.instance {
                return Ok(vec![]);
            }
            if r.instance == sub.instance || r.committed() {
                return Ok(self.repeat(id, r, involved));
            }
            if r.holds_locks() {
                // The earlier attempt still holds this shard's locks: it must be accepted
                // first; this one is taken up again then.
                let newer = self.refused.get(&id).is_none_or(|old| old.instance < sub.instance);
                if newer {
                    self.write(&id, durable::put_refused(WriteBatch::new(), &id, sub))?;
                    self.refused.insert(id, sub.clone());
                }
                return Ok(vec![]);
            }
        }
        let failure = self.check_objects(sub).err().or_else(|| {
            (!verdict.accepted).then(|| {
                format!("checker rejected: {}", verdict.reason.as_deref().unwrap_or("no reason"))
            })
        });
        let single = involved == [self.shard];
        let mut batch = WriteBatch::new();
        let (phase, effect) = match (single, failure) {
            (true, None) => {
                for input in self.my_inputs(tx) {
                    batch = batch.put(self.object(&input)?.with_status(ObjectStatus::Inactive));
                }
                for o in tx.created_objects() {
                    batch = batch.put(o);
                }
                (Phase::Accepted(Outcome::Commit), self.report(id, sub.instance, Outcome::Commit))
            }
            (true, Some(reason)) => {
                let o = Outcome::PreparedAbort(reason);
                (Phase::Accepted(o.clone()), self.report(id, sub.instance, o))
            }
            (false, failure) => {
                if failure.is_none() {
                    let lock = ObjectStatus::Locked { tx: id, instance: sub.instance };
                    for input in self.my_inputs(tx) {
                        batch = batch.put(self.object(&input)?.with_status(lock));
                    }
                }
                let commit = failure.is_none();
                batch = durable::put_vote(batch, &id, (sub.instance, commit));
                self.votes.insert(id, (sub.instance, commit));
                let effect = Effect::Vote {
                    tx: id,
                    instance: sub.instance,
                    commit,
                    reason: failure.clone(),
                    involved,
                };
                (Phase::Prepared { commit, reason: failure }, effect)
            }
        };
        let record = TxRecord { instance: sub.instance, phase };
        batch = durable::put_record(batch, &id, &record);
        let drop_refused = self.refused.get(&id).is_some_and(|r| r.instance <= sub.instance);
        if drop_refused {
            batch = durable::delete_refused(batch, &id);
        }
        self.write(&id, batch)?;
        self.records.insert(id, record);
        if drop_refused {
            self.refused.remove(&id);
        }
        Ok(vec![effect])
    }

    /// This shard's inputs of `tx` and of its dependencies, each once.
    fn my_inputs(&self, tx: &Transaction) -> BTreeSet<ObjectId> {
        tx.calls()
            .into_iter()
            .flat_map(|c| c.input_ids.iter().copied())
            .filter(|i| self.mine(i))
            .collect()
    }

    fn object(&self, id: &ObjectId) -> Result<Object, Error> {
        self.store.get(id)?.ok_or_else(|| Error::ObjectNotFound { id: id.to_hex() })
    }

    /// The deterministic part of prepare: every input and reference this shard manages
    /// exists, is active, and has the value the client claimed; no call lists an input
    /// twice.
    fn check_objects(&self, sub: &Submission) -> Result<(), String> {
        let tx = &sub.request.transaction;
        for call in tx.calls() {
            let distinct: BTreeSet<_> = call.input_ids.iter().collect();
            if distinct.len() != call.input_ids.len() {
                return Err("an input is listed twice".into());
            }
            let objects = call
                .input_ids
                .iter()
                .map(|i| (i, "input"))
                .chain(call.reference_input_ids.iter().map(|i| (i, "reference")));
            for (id, what) in objects {
                if !self.mine(id) {
                    continue;
                }
                let Some(o) = self.store.get(id).map_err(|e| e.to_string())? else {
                    return Err(format!("{what} {} does not exist", id.to_hex()));
                };
                match o.status {
                    ObjectStatus::Active => {}
                    ObjectStatus::Inactive => {
                        return Err(format!(
                            "{what} {} is inactive (already consumed)",
                            id.to_hex()
                        ));
                    }
                    ObjectStatus::Locked { .. } => {
                        return Err(format!(
                            "{what} {} is locked by another transaction",
                            id.to_hex()
                        ));
                    }
                }
                if sub.request.store.get(id) != Some(&o.value) {
                    return Err(format!(
                        "the value given for {what} {} is not the stored one",
                        id.to_hex()
                    ));
                }
            }
        }
        Ok(())
    }

    /// Apply an ordered accept.
    pub fn accept(&mut self, acc: &Accept) -> Result<Vec<Effect>, Error> {
        let tx = &acc.transaction;
        let id = tx.digest();
        let n = self.committee.num_shards();
        let involved = involved_shards(tx, n);
        let concerned = concerned_shards(tx, n);
        if !involved.contains(&self.shard) || acc.instance == 0 {
            return Ok(vec![]);
        }
        // Duplicates and stale accepts first: several replicas may each have proposed
        // the accept (with different signers), and only the first needs verifying.
        let record = self.records.get(&id);
        if let Some(r) = record {
            if r.instance == acc.instance && matches!(r.phase, Phase::Accepted(_)) || r.committed()
            {
                return Ok(self.repeat(id, r, involved));
            }
            if r.instance > acc.instance || (r.instance < acc.instance && r.holds_locks()) {
                return Ok(vec![]);
            }
        }
        let Some(outcome) = self.decision(&id, acc.instance, &concerned, &acc.certificates) else {
            return Ok(vec![]);
        };
        let holds = record.is_some_and(|r| r.instance == acc.instance && r.holds_locks());
        let lock = ObjectStatus::Locked { tx: id, instance: acc.instance };
        let mut batch = WriteBatch::new();
        if outcome == Outcome::Commit {
            if concerned.contains(&self.shard) && !holds {
                // A commit needs this shard's own commit certificate, which it only gives
                // with its locks held: anything else is a forged or confused accept.
                return Ok(vec![]);
            }
            for input in self.my_inputs(tx) {
                let o = self.object(&input)?;
                if o.status == lock {
                    batch = batch.put(o.with_status(ObjectStatus::Inactive));
                }
            }
            for o in tx.created_objects() {
                if self.mine(&o.id) && self.store.get(&o.id)?.is_none() {
                    batch = batch.put(o);
                }
            }
        } else if holds {
            for input in self.my_inputs(tx) {
                let o = self.object(&input)?;
                if o.status == lock {
                    batch = batch.put(o.with_status(ObjectStatus::Active));
                }
            }
        }
        let record = TxRecord { instance: acc.instance, phase: Phase::Accepted(outcome.clone()) };
        batch = durable::put_record(batch, &id, &record);
        let retry = outcome != Outcome::Commit && self.refused.contains_key(&id);
        if retry {
            batch = durable::delete_refused(batch, &id);
        }
        self.write(&id, batch)?;
        self.records.insert(id, record);
        let mut effects = vec![self.report(id, acc.instance, outcome.clone())];
        if retry
            && let Some(sub) = self.refused.remove(&id)
            && sub.instance > acc.instance
        {
            effects.push(Effect::Reprepare(sub));
        }
        Ok(effects)
    }

    /// What valid certificates prove: commit with a commit certificate from every
    /// concerned shard, abort with an abort certificate from any. `None` if they prove
    /// neither (or are not valid).
    fn decision(
        &self,
        tx: &TxId,
        instance: u64,
        concerned: &[ShardId],
        certs: &[ShardCertificate],
    ) -> Option<Outcome> {
        let mut seen = BTreeSet::new();
        for c in certs {
            if !concerned.contains(&c.shard) || !seen.insert(c.shard) {
                return None;
            }
            c.verify(&self.committee, tx, instance).ok()?;
        }
        if let Some(abort) = certs.iter().find(|c| !c.commit) {
            let reason =
                abort.reason.clone().unwrap_or_else(|| format!("shard {} aborted", abort.shard.0));
            return Some(Outcome::Abort(reason));
        }
        (seen.len() == concerned.len()).then_some(Outcome::Commit)
    }
}

impl Object {
    /// The same object with another status.
    pub fn with_status(mut self, status: ObjectStatus) -> Self {
        self.status = status;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Digest;
    use crate::store::MemoryStore;

    fn id(a: u8, b: u8, n: u8) -> Digest {
        let mut d = [n; 32];
        (d[0], d[1]) = (a, b);
        Digest(d)
    }

    fn object(a: u8, b: u8, n: u8) -> Object {
        Object::new(ObjectId(id(a, b, n)), format!("value {a} {b} {n}"))
    }

    fn record(n: u8) -> TxRecord {
        let phase = if n.is_multiple_of(2) {
            Phase::Accepted(Outcome::Commit)
        } else {
            Phase::Prepared { commit: false, reason: Some(format!("reason {n}")) }
        };
        TxRecord { instance: u64::from(n) + 1, phase }
    }

    /// An engine over a store holding `objects`, with records and votes for `txs`, as
    /// `open` finds them (every chunk to be read).
    fn opened(objects: &[Object], txs: &[TxId]) -> SbacEngine {
        let (committee, _) = Committee::for_test(1, 4);
        let store = Arc::new(MemoryStore::new());
        store.apply(WriteBatch { objects: objects.to_vec(), ..WriteBatch::new() }).unwrap();
        let mut state = EngineState::default();
        for (n, tx) in txs.iter().enumerate() {
            state.records.insert(*tx, record(n as u8));
            state.votes.insert(*tx, (n as u64 + 1, n.is_multiple_of(2)));
        }
        SbacEngine::with_state(ShardId(0), committee, store, state, true)
    }

    #[test]
    fn a_snapshot_kept_up_by_writes_equals_one_taken_afresh() {
        let objects = [object(0, 0, 1), object(0, 0, 2), object(7, 9, 1), object(255, 255, 3)];
        let txs = [TxId(id(0, 0, 9)), TxId(id(7, 9, 9)), TxId(id(40, 1, 1))];
        let mut engine = opened(&objects, &txs);
        let first = engine.snapshot().expect("snapshot");
        assert_eq!(first.len(), CHUNKS);
        assert_eq!(first.chunks().count(), 4, "objects and records of four chunks");

        // Writes through the engine: a chunk that had state, a new one, a record alone.
        let tx = TxId(id(7, 9, 2));
        let batch = WriteBatch::new().put(object(7, 9, 1).with_status(ObjectStatus::Inactive));
        let batch = durable::put_record(batch.put(object(3, 3, 3)), &tx, &record(4));
        engine.write(&tx, batch).unwrap();
        engine.records.insert(tx, record(4));
        let lone = TxId(id(200, 0, 0));
        engine.write(&lone, durable::put_vote(WriteBatch::new(), &lone, (1, true))).unwrap();
        engine.votes.insert(lone, (1, true));
        let kept = engine.snapshot().expect("snapshot");
        assert_ne!(kept.digest(), first.digest());
        assert_eq!(first.chunk(usize::from(u16::from_be_bytes([3, 3]))), b"", "first unchanged");

        let mut objects = objects.to_vec();
        objects[2] = objects[2].clone().with_status(ObjectStatus::Inactive);
        objects.push(object(3, 3, 3));
        let mut fresh = opened(&objects, &txs);
        fresh.records.insert(tx, record(4));
        fresh.votes.insert(lone, (1, true));
        assert_eq!(fresh.snapshot().expect("snapshot").digest(), kept.digest());
        // Nothing written: the same snapshot again.
        assert_eq!(engine.snapshot().expect("snapshot").digest(), kept.digest());
    }

    #[test]
    fn an_installed_snapshot_gives_the_same_state_and_snapshot() {
        let objects = [object(1, 2, 3), object(1, 2, 4), object(9, 9, 9)];
        let txs = [TxId(id(1, 2, 5)), TxId(id(5, 5, 5))];
        let mut engine = opened(&objects, &txs);
        let snap = engine.snapshot().expect("snapshot");
        let (committee, _) = Committee::for_test(1, 4);
        let mut other = SbacEngine::new(ShardId(0), committee, Arc::new(MemoryStore::new()));
        assert_ne!(other.snapshot().unwrap().digest(), snap.digest());
        other.install(&snap).expect("install");
        assert_eq!(other.store.objects().unwrap(), engine.store.objects().unwrap());
        assert_eq!(other.records, engine.records);
        assert_eq!(other.votes, engine.votes);
        assert_eq!(other.snapshot().unwrap().digest(), snap.digest());
        // A snapshot that is not an engine's is refused.
        let err = other.install(&crate::snapshot::Snapshot::single(b"x".to_vec()));
        assert!(matches!(err, Err(Error::InvalidSnapshot { .. })), "{err:?}");
    }
}
