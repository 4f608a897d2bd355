//! Application snapshots in chunks, so that a checkpoint costs what changed since the last
//! one, not the size of the state.
//!
//! Consensus protocols checkpoint every so many sequence numbers: the application hands
//! over its state, replicas agree on its digest, and a replica that fell behind the others'
//! logs installs it. Encoding and hashing the whole state at every checkpoint made each one
//! cost as much as the state is large, and the state of a Chainspace shard only grows
//! (objects are never deleted): long runs slowed down and their memory grew with them.
//!
//! Here a snapshot is a fixed number of chunks (the application decides which part of its
//! state goes in which chunk). The application keeps a [`ChunkTable`] up to date as it
//! writes, re-encoding only the chunks it touched; a [`Snapshot`] shares the chunks' bytes
//! with the table (reference counts, no copy), and its digest is a two-level hash: each
//! chunk's SHA-256, each group of [`GROUP`] chunks hashed from its chunks' digests, the
//! snapshot from its groups' digests. Taking a snapshot re-hashes only the groups that
//! changed. The bytes of the whole snapshot ([`Snapshot::encode`]) are made only when a
//! peer needs them, and a replica that receives them checks them against the digest
//! ([`Snapshot::decode`] recomputes it) before installing them.

use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Serialize};

use crate::crypto::{Digest, sha256, sha256_parts};
use crate::error::Error;

/// Chunks per group: the unit re-hashed when one of its chunks changes.
pub const GROUP: usize = 256;

/// Most chunks a snapshot may have (bounds what a decoded snapshot can make us allocate).
pub const MAX_CHUNKS: usize = 1 << 20;

/// One chunk: its bytes (shared) and their SHA-256.
#[derive(Clone, Debug)]
struct Chunk {
    bytes: Arc<[u8]>,
    digest: Digest,
}

impl Chunk {
    fn new(bytes: Vec<u8>) -> Chunk {
        if bytes.is_empty() {
            return EMPTY_CHUNK.clone();
        }
        Chunk { digest: sha256(&bytes), bytes: bytes.into() }
    }
}

static EMPTY_CHUNK: LazyLock<Chunk> =
    LazyLock::new(|| Chunk { bytes: Arc::from(Vec::new()), digest: sha256(b"") });

/// [`GROUP`] chunks (fewer in a last, partial group) and the digest of their digests.
#[derive(Clone, Debug)]
struct Group {
    chunks: Vec<Chunk>,
    digest: Digest,
}

impl Group {
    fn empty(len: usize) -> Group {
        let mut g = Group { chunks: vec![EMPTY_CHUNK.clone(); len], digest: Digest::default() };
        g.rehash();
        g
    }

    fn rehash(&mut self) {
        let parts: Vec<&[u8]> = self.chunks.iter().map(|c| &c.digest.0[..]).collect();
        self.digest = sha256_parts(&parts);
    }
}

/// The state of an application at one sequence number, in chunks. Cloning is cheap: the
/// chunks are shared with the [`ChunkTable`] it came from.
#[derive(Clone, Debug)]
pub struct Snapshot {
    len: usize,
    groups: Vec<Arc<Group>>,
    digest: Digest,
}

impl PartialEq for Snapshot {
    fn eq(&self, other: &Self) -> bool {
        self.digest == other.digest
    }
}
impl Eq for Snapshot {}

/// How a snapshot travels: its chunk count and its non-empty chunks, by index.
#[derive(Serialize, Deserialize)]
struct Wire {
    len: u32,
    chunks: Vec<(u32, WireBytes)>,
}

#[derive(Serialize, Deserialize)]
struct WireBytes(#[serde(with = "crate::types::serde_bytes_vec")] Vec<u8>);

impl Snapshot {
    /// A snapshot of one chunk holding `bytes`: for applications whose state is small.
    pub fn single(bytes: Vec<u8>) -> Snapshot {
        let mut table = ChunkTable::new(1);
        table.set(0, bytes);
        table.snapshot()
    }

    /// The digest replicas agree on at a checkpoint.
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// How many chunks it has (empty ones included).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no chunks at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes of chunk `index` (empty if out of range).
    pub fn chunk(&self, index: usize) -> &[u8] {
        self.groups
            .get(index / GROUP)
            .and_then(|g| g.chunks.get(index % GROUP))
            .map_or(&[][..], |c| &c.bytes)
    }

    /// The non-empty chunks, by index, in order.
    pub fn chunks(&self) -> impl Iterator<Item = (usize, &[u8])> {
        self.groups.iter().enumerate().flat_map(|(g, group)| {
            group
                .chunks
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.bytes.is_empty())
                .map(move |(i, c)| (g * GROUP + i, &c.bytes[..]))
        })
    }

    /// Total bytes of its chunks.
    pub fn byte_len(&self) -> usize {
        self.chunks().map(|(_, b)| b.len()).sum()
    }

    /// The whole snapshot as bytes, for a peer that needs it (costs the state's size).
    pub fn encode(&self) -> Vec<u8> {
        let wire = Wire {
            len: self.len as u32,
            chunks: self.chunks().map(|(i, b)| (i as u32, WireBytes(b.to_vec()))).collect(),
        };
        crate::types::encode_with_capacity(&wire, self.byte_len() + 8 * self.len.min(1 << 16))
            .expect("encoding to a Vec cannot fail")
    }

    /// Bytes from [`Snapshot::encode`], with the digest recomputed from them: the caller
    /// compares it with the digest its peers agreed on before trusting the snapshot.
    pub fn decode(bytes: &[u8]) -> Result<Snapshot, Error> {
        let bad = |reason: String| Error::InvalidSnapshot { reason };
        let wire: Wire = postcard::from_bytes(bytes).map_err(|e| bad(e.to_string()))?;
        let len = wire.len as usize;
        if len > MAX_CHUNKS {
            return Err(bad(format!("{len} chunks, more than {MAX_CHUNKS}")));
        }
        let mut table = ChunkTable::new(len);
        let mut last = None;
        for (index, WireBytes(chunk)) in wire.chunks {
            let index = index as usize;
            if index >= len || last.is_some_and(|l| l >= index) {
                return Err(bad(format!("chunk {index} out of order or range (of {len})")));
            }
            last = Some(index);
            table.set(index, chunk);
        }
        Ok(table.snapshot())
    }
}

/// The chunks of an application's state, kept up to date as it writes: [`ChunkTable::set`]
/// replaces a chunk, [`ChunkTable::snapshot`] re-hashes the groups that changed and shares
/// everything with the snapshot it returns (a later `set` copies the group it writes to
/// if a snapshot still holds it, not the chunks' bytes).
#[derive(Clone, Debug)]
pub struct ChunkTable {
    len: usize,
    groups: Vec<Arc<Group>>,
    dirty: Vec<usize>,
    digest: Option<Digest>,
}

static EMPTY_GROUP: LazyLock<Arc<Group>> = LazyLock::new(|| Arc::new(Group::empty(GROUP)));

impl ChunkTable {
    /// `len` empty chunks.
    pub fn new(len: usize) -> ChunkTable {
        let groups = (0..len.div_ceil(GROUP))
            .map(|g| {
                let size = GROUP.min(len - g * GROUP);
                if size == GROUP { EMPTY_GROUP.clone() } else { Arc::new(Group::empty(size)) }
            })
            .collect();
        ChunkTable { len, groups, dirty: Vec::new(), digest: None }
    }

    /// The table a snapshot was made from (to go on from an installed snapshot).
    pub fn from_snapshot(snapshot: &Snapshot) -> ChunkTable {
        ChunkTable {
            len: snapshot.len,
            groups: snapshot.groups.clone(),
            dirty: Vec::new(),
            digest: Some(snapshot.digest),
        }
    }

    /// How many chunks.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no chunks.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Make chunk `index` hold `bytes`. Panics if `index` is out of range (the
    /// application chose the count).
    pub fn set(&mut self, index: usize, bytes: Vec<u8>) {
        assert!(index < self.len, "chunk {index} of {}", self.len);
        let group = Arc::make_mut(&mut self.groups[index / GROUP]);
        group.chunks[index % GROUP] = Chunk::new(bytes);
        self.dirty.push(index / GROUP);
        self.digest = None;
    }

    /// The current chunks as a snapshot.
    pub fn snapshot(&mut self) -> Snapshot {
        self.dirty.sort_unstable();
        self.dirty.dedup();
        for g in self.dirty.drain(..) {
            Arc::make_mut(&mut self.groups[g]).rehash();
        }
        let digest = *self.digest.get_or_insert_with(|| {
            let len = (self.len as u64).to_le_bytes();
            let mut parts: Vec<&[u8]> = vec![&len];
            parts.extend(self.groups.iter().map(|g| &g.digest.0[..]));
            sha256_parts(&parts)
        });
        Snapshot { len: self.len, groups: self.groups.clone(), digest }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_with(len: usize, chunks: &[(usize, &str)]) -> ChunkTable {
        let mut t = ChunkTable::new(len);
        for (i, s) in chunks {
            t.set(*i, s.as_bytes().to_vec());
        }
        t
    }

    #[test]
    fn the_digest_depends_on_every_chunk_and_its_place_only() {
        let a = table_with(1000, &[(3, "x"), (700, "y")]).snapshot();
        let same = table_with(1000, &[(700, "y"), (3, "x")]).snapshot();
        assert_eq!(a.digest(), same.digest());
        let moved = table_with(1000, &[(4, "x"), (700, "y")]).snapshot();
        let changed = table_with(1000, &[(3, "x"), (700, "z")]).snapshot();
        let longer = table_with(1001, &[(3, "x"), (700, "y")]).snapshot();
        for other in [&moved, &changed, &longer] {
            assert_ne!(a.digest(), other.digest());
        }
    }

    #[test]
    fn a_table_rehashes_what_changed_and_equals_one_built_afresh() {
        let mut t = table_with(70_000, &[(1, "a"), (65_000, "b")]);
        let before = t.snapshot();
        t.set(300, b"c".to_vec());
        t.set(1, Vec::new());
        let after = t.snapshot();
        assert_eq!(
            after.digest(),
            table_with(70_000, &[(300, "c"), (65_000, "b")]).snapshot().digest()
        );
        // The earlier snapshot is untouched by later writes.
        assert_eq!(before.chunk(1), b"a");
        assert_eq!(before.chunk(300), b"");
        assert_eq!(after.chunk(300), b"c");
        assert_eq!(after.chunks().map(|(i, _)| i).collect::<Vec<_>>(), vec![300, 65_000]);
    }

    #[test]
    fn encoded_snapshots_decode_to_the_same_digest_and_bad_ones_are_refused() {
        let s = table_with(5000, &[(0, "first"), (4999, "last"), (2500, "middle")]).snapshot();
        let bytes = s.encode();
        let back = Snapshot::decode(&bytes).expect("decode");
        assert_eq!(back.digest(), s.digest());
        assert_eq!(back.chunk(2500), b"middle");
        assert_eq!(ChunkTable::from_snapshot(&back).snapshot().digest(), s.digest());

        let wire = |len: u32, chunks: Vec<(u32, &str)>| {
            let chunks = chunks.into_iter().map(|(i, c)| (i, WireBytes(c.into()))).collect();
            postcard::to_allocvec(&Wire { len, chunks }).unwrap()
        };
        assert!(Snapshot::decode(&wire(10, vec![(10, "x")])).is_err(), "out of range");
        assert!(Snapshot::decode(&wire(10, vec![(5, "x"), (5, "y")])).is_err(), "repeated");
        assert!(Snapshot::decode(&wire(10, vec![(6, "x"), (5, "y")])).is_err(), "unordered");
        assert!(Snapshot::decode(&wire(u32::MAX, vec![])).is_err(), "too many chunks");
        assert!(Snapshot::decode(&[0xff, 0xff]).is_err(), "garbage");
        // A tampered chunk decodes, to another digest: the caller's comparison catches it.
        let tampered =
            Snapshot::decode(&wire(5000, vec![(0, "first"), (2500, "middle!"), (4999, "last")]));
        assert_ne!(tampered.expect("decodes").digest(), s.digest());
    }

    #[test]
    fn a_single_chunk_snapshot_holds_its_bytes() {
        let s = Snapshot::single(b"state".to_vec());
        assert_eq!(s.len(), 1);
        assert_eq!(s.chunk(0), b"state");
        assert_ne!(s.digest(), Snapshot::single(b"other".to_vec()).digest());
    }
}
