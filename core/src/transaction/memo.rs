//! A process-wide memo of transaction digests and output IDs.
//!
//! A transaction's digest is SHA-256 over its canonical JSON (hex IDs, escaped strings,
//! sorted keys), and its output IDs take one more SHA-256 each. A replica needs them many
//! times per transaction (placing it in shards on submission, before and after ordering,
//! for votes, on accept), every replica of a process needs them again for its own copy,
//! and a transaction creating hundreds of objects makes each placement hundreds of hashes:
//! profiles of a 2x4 cluster over QUIC showed a third of the replicas' CPU here.
//!
//! The memo keys an entry by a cheap hash of the fields and keeps the transaction itself,
//! so a hit is confirmed by structural equality: a changed or different transaction is
//! never given another's digest (`Transaction`'s fields are public and may be changed
//! after a digest was taken). It is bounded: each of its shards is cleared when full, as
//! the working set is the transactions in flight.
//!
//! The cheap hash is Fx, not the std default: keys only pick entries (equality decides),
//! so keys made to collide can only make the memo miss, costing the digest it would have
//! saved, and SipHash over every field was a measurable share of each lookup.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

use super::Transaction;
use crate::crypto::DigestBuildHasher;
use crate::object::ObjectId;
use crate::transaction::TxId;

const SHARDS: usize = 16;
/// Entries per shard before it is cleared: 4,096 in all, ten times the transactions in
/// flight at 10,000 per second (a few hundred), and a few MiB of memory per process (an
/// entry holds a whole transaction), which counts against each replica's budget when
/// every replica has a process of its own (BENCHMARKS.md, fifth round).
const PER_SHARD: usize = 256;

struct Entry {
    tx: Transaction,
    id: TxId,
    outputs: Option<Arc<[ObjectId]>>,
}

/// Keyed by [`key`], already a hash: the map uses it as is ([`DigestBuildHasher`] takes
/// eight bytes as they are).
type Shard = Mutex<HashMap<u64, Entry, DigestBuildHasher>>;

fn shards() -> &'static [Shard] {
    static MEMO: OnceLock<Vec<Shard>> = OnceLock::new();
    MEMO.get_or_init(|| {
        (0..SHARDS)
            .map(|_| Mutex::new(HashMap::with_capacity_and_hasher(PER_SHARD, Default::default())))
            .collect()
    })
}

/// A hash of the fields that tell transactions apart in practice (parameters and
/// returns only by count: equality settles the rest).
fn key(tx: &Transaction) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    tx.contract_id.hash(&mut h);
    tx.method_id.hash(&mut h);
    tx.input_ids.hash(&mut h);
    tx.reference_input_ids.hash(&mut h);
    tx.outputs.hash(&mut h);
    tx.parameters.len().hash(&mut h);
    tx.returns.len().hash(&mut h);
    tx.dependencies.len().hash(&mut h);
    h.finish()
}

fn with_entry<R>(tx: &Transaction, f: impl FnOnce(&mut Entry) -> R) -> R {
    let k = key(tx);
    let shard = &shards()[(k as usize) % SHARDS];
    let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
    if !map.get(&k).is_some_and(|e| e.tx == *tx) {
        if map.len() >= PER_SHARD {
            map.clear();
        }
        let id = tx.compute_digest();
        map.insert(k, Entry { tx: tx.clone(), id, outputs: None });
    }
    // Present: inserted above if it was not.
    match map.get_mut(&k) {
        Some(e) => f(e),
        None => unreachable!("entry inserted above"),
    }
}

/// The digest of `tx`.
pub fn digest(tx: &Transaction) -> TxId {
    with_entry(tx, |e| e.id)
}

/// The IDs of the objects `tx` itself creates.
pub fn output_ids(tx: &Transaction) -> Arc<[ObjectId]> {
    if tx.outputs.is_empty() {
        return Arc::from(Vec::new());
    }
    with_entry(tx, |e| {
        let id = e.id;
        e.outputs
            .get_or_insert_with(|| {
                tx.outputs
                    .iter()
                    .enumerate()
                    .map(|(i, v)| ObjectId::for_output(&id, v, i))
                    .collect()
            })
            .clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tx(label: &str) -> Transaction {
        Transaction {
            contract_id: "c".into(),
            method_id: "m".into(),
            input_ids: vec![],
            reference_input_ids: vec![],
            parameters: vec![json!(label)],
            outputs: vec!["a".into(), "b".into()],
            returns: vec![],
            dependencies: vec![],
        }
    }

    #[test]
    fn memo_agrees_with_the_definition_and_tells_changed_transactions_apart() {
        let mut t = tx("one");
        assert_eq!(digest(&t), t.compute_digest());
        assert_eq!(digest(&t), digest(&t.clone()));
        let ids: Vec<ObjectId> = t
            .outputs
            .iter()
            .enumerate()
            .map(|(i, v)| ObjectId::for_output(&t.compute_digest(), v, i))
            .collect();
        assert_eq!(&output_ids(&t)[..], &ids[..]);
        // Same cheap key (parameters are hashed by count only), different transaction.
        t.parameters = vec![json!("two")];
        assert_eq!(digest(&t), t.compute_digest());
        assert_ne!(digest(&t), tx("one").compute_digest());
        assert_ne!(&output_ids(&t)[..], &ids[..]);
        assert!(output_ids(&Transaction { outputs: vec![], ..t }).is_empty());
    }
}
