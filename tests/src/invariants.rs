//! The safety properties S-BAC must hold on every seed (DESIGN.md, S-BAC): each is a
//! function over a finished simulation that returns what broke, if anything.

use std::collections::{BTreeMap, BTreeSet};

use chainspace_core::consensus::Consensus;
use chainspace_core::object::{ObjectId, ObjectStatus};
use chainspace_core::sbac::Outcome;
use chainspace_core::sbac::engine::Phase;
use chainspace_core::shard::involved_shards;
use chainspace_core::sim::World;
use chainspace_core::transaction::{Transaction, TxId};
use chainspace_core::types::{ReplicaId, ShardId};

/// Correct replicas of `shard` (not in `faulty`, and running).
pub fn correct<C: Consensus>(w: &World<C>, shard: ShardId, faulty: &[ReplicaId]) -> Vec<ReplicaId> {
    w.shard_ids(shard).into_iter().filter(|r| !faulty.contains(r) && w.is_up(*r)).collect()
}

/// Replica state is equal across the correct replicas of every shard: same objects with
/// the same statuses, same transaction records.
pub fn states_equal<C: Consensus>(w: &World<C>, faulty: &[ReplicaId]) -> Result<(), String> {
    for s in &w.committee().shards {
        let ids = correct(w, s.shard, faulty);
        let Some(first) = ids.first() else { continue };
        let e0 = w.replica(*first).engine();
        let objects0 = e0.store().objects().map_err(|e| e.to_string())?;
        for r in &ids[1..] {
            let e = w.replica(*r).engine();
            let objects = e.store().objects().map_err(|e| e.to_string())?;
            if objects != objects0 {
                return Err(format!("{first} and {r} hold different objects"));
            }
            if e.records() != e0.records() {
                return Err(format!("{first} and {r} hold different transaction records"));
            }
        }
    }
    Ok(())
}

/// The transactions every correct replica of `shard` recorded as committed.
fn committed_on<C: Consensus>(
    w: &World<C>,
    shard: ShardId,
    faulty: &[ReplicaId],
) -> BTreeSet<TxId> {
    let mut out = BTreeSet::new();
    for r in correct(w, shard, faulty) {
        for (tx, rec) in w.replica(r).engine().records() {
            if rec.phase == Phase::Accepted(Outcome::Commit) {
                out.insert(*tx);
            }
        }
    }
    out
}

/// No object is consumed by two committed transactions.
pub fn no_double_spend<C: Consensus>(
    w: &World<C>,
    txs: &BTreeMap<TxId, Transaction>,
    faulty: &[ReplicaId],
) -> Result<(), String> {
    let mut committed = BTreeSet::new();
    for s in &w.committee().shards {
        committed.extend(committed_on(w, s.shard, faulty));
    }
    let mut spent: BTreeMap<ObjectId, TxId> = BTreeMap::new();
    for id in &committed {
        let Some(tx) = txs.get(id) else { continue };
        let inputs: BTreeSet<ObjectId> =
            tx.calls().into_iter().flat_map(|c| c.input_ids.iter().copied()).collect();
        for input in inputs {
            if let Some(other) = spent.insert(input, *id) {
                return Err(format!(
                    "object {} consumed by committed {} and {}",
                    input.to_hex(),
                    other.to_hex(),
                    id.to_hex()
                ));
            }
        }
    }
    Ok(())
}

/// Atomicity: a transaction is committed by all its involved shards or by none, and
/// once every shard finished it, no input is still locked by it.
pub fn atomic<C: Consensus>(
    w: &World<C>,
    txs: &BTreeMap<TxId, Transaction>,
    faulty: &[ReplicaId],
) -> Result<(), String> {
    let n = w.committee().num_shards();
    for (id, tx) in txs {
        let involved = involved_shards(tx, n);
        let mut commits = Vec::new();
        let mut aborts = Vec::new();
        for s in &involved {
            for r in correct(w, *s, faulty) {
                match w.replica(r).engine().record(id).map(|rec| &rec.phase) {
                    Some(Phase::Accepted(Outcome::Commit)) => commits.push(r),
                    Some(Phase::Accepted(_)) => aborts.push(r),
                    _ => {}
                }
            }
        }
        if !commits.is_empty() && !aborts.is_empty() {
            return Err(format!(
                "tx {} committed at {:?} but aborted at {:?}",
                id.to_hex(),
                commits,
                aborts
            ));
        }
    }
    Ok(())
}

/// After quiescence no object is locked: every lock belongs to an instance still in
/// progress, and there are none left.
pub fn no_locks_left<C: Consensus>(w: &World<C>, faulty: &[ReplicaId]) -> Result<(), String> {
    for s in &w.committee().shards {
        for r in correct(w, s.shard, faulty) {
            let objects = w.replica(r).engine().store().objects().map_err(|e| e.to_string())?;
            if let Some(o) =
                objects.iter().find(|o| matches!(o.status, ObjectStatus::Locked { .. }))
            {
                return Err(format!("{r}: object {} still locked: {:?}", o.id.to_hex(), o.status));
            }
        }
    }
    Ok(())
}
