//! The engine's snapshots, in chunks ([`crate::snapshot`]): chunk `k` holds the objects
//! whose IDs, and the records, votes and refused retries whose transaction IDs, start with
//! the two bytes of `k`. IDs are hashes, so the state spreads evenly over [`CHUNKS`]
//! chunks; every write marks the chunks of what it wrote, and a snapshot re-encodes those
//! only. With 65,536 chunks a checkpoint that follows ten thousand writes re-encodes about
//! a seventh of a large state, and a state of a few thousand entries takes microseconds.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::*;
use crate::crypto::Digest;
use crate::snapshot::{ChunkTable, Snapshot};
use crate::types::encode_with_capacity;

/// Chunks of an engine's snapshot.
pub const CHUNKS: usize = 1 << 16;

/// The chunk of an object or transaction ID.
fn chunk_of(id: &Digest) -> u16 {
    u16::from_be_bytes([id.0[0], id.0[1]])
}

/// The first and last IDs of chunk `k`.
fn bounds(k: u16) -> (Digest, Digest) {
    let [a, b] = k.to_be_bytes();
    let mut first = [0u8; 32];
    let mut last = [0xffu8; 32];
    (first[0], first[1], last[0], last[1]) = (a, b, a, b);
    (Digest(first), Digest(last))
}

/// The engine's chunks and which of them writes made stale.
pub(super) struct StateChunks {
    table: ChunkTable,
    dirty: BTreeSet<u16>,
    /// Every chunk is stale: the engine opened a store that held state, or installed one.
    all_dirty: bool,
}

impl StateChunks {
    /// Chunks of an empty state (`all_dirty = false`) or of state yet to be read.
    pub(super) fn new(all_dirty: bool) -> Self {
        StateChunks { table: ChunkTable::new(CHUNKS), dirty: BTreeSet::new(), all_dirty }
    }
}

/// One chunk's part of the state, borrowed to encode it.
#[derive(Serialize, Default)]
struct ChunkRef<'a> {
    objects: Vec<&'a Object>,
    records: Vec<(&'a TxId, &'a TxRecord)>,
    votes: Vec<(&'a TxId, &'a (u64, bool))>,
    refused: Vec<(&'a TxId, &'a Submission)>,
}

impl ChunkRef<'_> {
    fn is_empty(&self) -> bool {
        self.objects.is_empty()
            && self.records.is_empty()
            && self.votes.is_empty()
            && self.refused.is_empty()
    }

    /// The chunk's bytes: none for an empty chunk (every empty chunk is the same).
    fn encode(&self) -> Result<Vec<u8>, Error> {
        if self.is_empty() {
            return Ok(Vec::new());
        }
        let guess = 128 * (self.objects.len() + self.records.len()) + 64;
        encode_with_capacity(self, guess)
            .map_err(|e| Error::InvalidSnapshot { reason: e.to_string() })
    }
}

/// One chunk decoded.
#[derive(Deserialize)]
struct ChunkOwned {
    objects: Vec<Object>,
    records: Vec<(TxId, TxRecord)>,
    votes: Vec<(TxId, (u64, bool))>,
    refused: Vec<(TxId, Submission)>,
}

impl SbacEngine {
    /// Apply `batch`, written for transaction `tx`, marking what it touches as stale in
    /// the snapshot's chunks (its objects, and `tx`'s record, vote and refused retry).
    pub(super) fn write(&mut self, tx: &TxId, batch: WriteBatch) -> Result<(), Error> {
        let chunks = &mut self.chunks;
        chunks.dirty.insert(chunk_of(&tx.0));
        chunks.dirty.extend(batch.objects.iter().map(|o| chunk_of(&o.id.0)));
        self.store.apply(batch)
    }

    /// The state as a snapshot: the chunks written since the last one are re-encoded,
    /// the others shared with it.
    pub fn snapshot(&mut self) -> Result<Snapshot, Error> {
        if self.chunks.all_dirty {
            self.encode_all()?;
        } else {
            let dirty: Vec<u16> = std::mem::take(&mut self.chunks.dirty).into_iter().collect();
            for (k, bytes) in dirty.iter().zip(self.encode_chunks(&dirty)?) {
                self.chunks.table.set(usize::from(*k), bytes);
            }
        }
        Ok(self.chunks.table.snapshot())
    }

    /// The bytes of chunks `ks`, read from one view of the store.
    fn encode_chunks(&self, ks: &[u16]) -> Result<Vec<Vec<u8>>, Error> {
        let ranges: Vec<(ObjectId, ObjectId)> = ks
            .iter()
            .map(|k| {
                let (first, last) = bounds(*k);
                (ObjectId(first), ObjectId(last))
            })
            .collect();
        let mut encoded = Vec::with_capacity(ks.len());
        self.store.with_objects_in(&ranges, &mut |i, objects| {
            let (first, last) = (TxId(ranges[i].0.0), TxId(ranges[i].1.0));
            let chunk = ChunkRef {
                objects: objects.to_vec(),
                records: self.records.range(first, last).collect(),
                votes: self.votes.range(first, last).collect(),
                refused: self.refused.range(first, last).collect(),
            };
            encoded.push(chunk.encode());
        })?;
        if encoded.len() != ks.len() {
            return Err(Error::Store { reason: "the store lent too few ranges".into() });
        }
        encoded.into_iter().collect()
    }

    /// Every chunk afresh, in one pass over the state.
    fn encode_all(&mut self) -> Result<(), Error> {
        let mut table = ChunkTable::new(CHUNKS);
        let mut result = Ok(());
        let every = (ObjectId(Digest([0; 32])), ObjectId(Digest([0xff; 32])));
        self.store.with_objects_in(&[every], &mut |_, objects| {
            let mut chunks: BTreeMap<u16, ChunkRef<'_>> = BTreeMap::new();
            for o in objects {
                chunks.entry(chunk_of(&o.id.0)).or_default().objects.push(o);
            }
            for r in &self.records {
                chunks.entry(chunk_of(&r.0.0)).or_default().records.push(r);
            }
            for v in &self.votes {
                chunks.entry(chunk_of(&v.0.0)).or_default().votes.push(v);
            }
            for s in &self.refused {
                chunks.entry(chunk_of(&s.0.0)).or_default().refused.push(s);
            }
            for (k, chunk) in chunks {
                match chunk.encode() {
                    Ok(bytes) => table.set(usize::from(k), bytes),
                    Err(e) => result = Err(e),
                }
            }
        })?;
        result?;
        self.chunks = StateChunks { table, dirty: BTreeSet::new(), all_dirty: false };
        Ok(())
    }

    /// Replace the state with a snapshot of the same shard, agreed by the shard's
    /// replicas. Objects are never deleted, only moved forward, so writing every object of
    /// the (later) snapshot over the store yields its state.
    pub fn install(&mut self, snapshot: &Snapshot) -> Result<(), Error> {
        let bad = |reason: String| Error::InvalidSnapshot { reason };
        if snapshot.len() != CHUNKS {
            return Err(bad(format!("{} chunks, not {CHUNKS}", snapshot.len())));
        }
        let mut batch = WriteBatch::new();
        let mut state = EngineState::default();
        for (k, bytes) in snapshot.chunks() {
            let chunk: ChunkOwned =
                postcard::from_bytes(bytes).map_err(|e| bad(format!("chunk {k}: {e}")))?;
            for o in chunk.objects {
                batch = batch.put(o);
            }
            state.records.extend(chunk.records);
            state.votes.extend(chunk.votes);
            state.refused.extend(chunk.refused);
        }
        let batch = state.replace_all(self.store.as_ref(), batch)?;
        self.store.apply(batch)?;
        self.records = state.records;
        self.votes = state.votes;
        self.refused = state.refused;
        // The next snapshot reads the state back rather than trusting the store held
        // nothing else: installs are rare, and a replica must not vouch for a state it
        // does not hold.
        self.chunks = StateChunks::new(true);
        Ok(())
    }
}
