//! The S-BAC engine's state on disk: every transaction record, the vote given in the
//! latest instance, and refused retries live in the store's metadata, written in the
//! same atomic batch as the object changes of the command that made them. A replica
//! killed at any point and restarted on its store therefore finds objects and records
//! that agree, and commands delivered again after the restart (consensus catches up
//! from its peers) are recognised as duplicates and change nothing.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::engine::TxRecord;
use super::messages::Submission;
use crate::error::Error;
use crate::idmap::IdMap;
use crate::store::{Store, WriteBatch};
use crate::transaction::TxId;

/// Metadata prefix of transaction records.
pub const RECORDS: &str = "sbac/record/";
/// Metadata prefix of the votes given.
pub const VOTES: &str = "sbac/vote/";
/// Metadata prefix of refused retries.
pub const REFUSED: &str = "sbac/refused/";

/// What the engine keeps besides objects.
#[derive(Default)]
pub(crate) struct EngineState {
    pub records: IdMap<TxId, TxRecord>,
    pub votes: IdMap<TxId, (u64, bool)>,
    pub refused: IdMap<TxId, Submission>,
}

fn key(prefix: &str, tx: &TxId) -> String {
    let mut key = String::with_capacity(prefix.len() + 64);
    key.push_str(prefix);
    tx.0.write_hex(&mut key);
    key
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Records, votes and submissions are plain data: encoding cannot fail.
    postcard::to_allocvec(value).unwrap_or_default()
}

fn load_map<T: DeserializeOwned>(store: &dyn Store, prefix: &str) -> Result<IdMap<TxId, T>, Error> {
    let bad = |key: &str, why: String| Error::Store {
        reason: format!("unreadable S-BAC state under {key:?}: {why}"),
    };
    let mut out = IdMap::new();
    for (k, v) in store.meta_with_prefix(prefix)? {
        let hex = &k[prefix.len()..];
        let tx = crate::crypto::Digest::from_hex(hex).map_err(|e| bad(&k, e.to_string()))?;
        let value = postcard::from_bytes(&v).map_err(|e| bad(&k, e.to_string()))?;
        out.insert(TxId(tx), value);
    }
    Ok(out)
}

impl EngineState {
    /// Read the state a store holds (empty for a new store).
    pub fn load(store: &dyn Store) -> Result<Self, Error> {
        Ok(EngineState {
            records: load_map(store, RECORDS)?,
            votes: load_map(store, VOTES)?,
            refused: load_map(store, REFUSED)?,
        })
    }

    /// Add the writes that replace everything on disk with this state.
    pub fn replace_all(
        &self,
        store: &dyn Store,
        mut batch: WriteBatch,
    ) -> Result<WriteBatch, Error> {
        for prefix in [RECORDS, VOTES, REFUSED] {
            for (k, _) in store.meta_with_prefix(prefix)? {
                batch = batch.delete_meta(k);
            }
        }
        for (tx, r) in &self.records {
            batch = put_record(batch, tx, r);
        }
        for (tx, v) in &self.votes {
            batch = put_vote(batch, tx, *v);
        }
        for (tx, s) in &self.refused {
            batch = put_refused(batch, tx, s);
        }
        Ok(batch)
    }
}

/// Write `tx`'s record.
pub(crate) fn put_record(batch: WriteBatch, tx: &TxId, record: &TxRecord) -> WriteBatch {
    batch.put_meta(key(RECORDS, tx), encode(record))
}

/// Write the vote given for `tx`.
pub(crate) fn put_vote(batch: WriteBatch, tx: &TxId, vote: (u64, bool)) -> WriteBatch {
    batch.put_meta(key(VOTES, tx), encode(&vote))
}

/// Write a refused retry of `tx`.
pub(crate) fn put_refused(batch: WriteBatch, tx: &TxId, sub: &Submission) -> WriteBatch {
    batch.put_meta(key(REFUSED, tx), encode(sub))
}

/// Forget the refused retry of `tx`.
pub(crate) fn delete_refused(batch: WriteBatch, tx: &TxId) -> WriteBatch {
    batch.delete_meta(key(REFUSED, tx))
}
