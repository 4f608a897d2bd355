//! The object store of a replica: objects and their status, plus the replica's own
//! durable metadata (consensus state, S-BAC progress).
//!
//! One [`WriteBatch`] holds everything one ordered step changes and is applied atomically,
//! so a crash never leaves a transaction half applied (the original wrote state before
//! commit and never rolled it back). Keeping objects and consensus metadata in one batch
//! lets a replica persist "sequence n executed" together with its effects.
//!
//! The trait is synchronous on purpose: redb, the durable backend, is synchronous, and the
//! deterministic simulator drives the very same store with no async runtime at all. A
//! tokio driver calls it from `spawn_blocking` where latency matters.
//!
//! [`conformance`] is the suite every backend must pass.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::Error;
use crate::idmap::IdMap;
use crate::object::{Object, ObjectId};

/// Changes applied all together or not at all by [`Store::apply`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    /// Objects to insert or overwrite (by ID). Objects are never deleted: a consumed object
    /// stays, inactive, so that it can never be consumed again.
    pub objects: Vec<Object>,
    /// Metadata to set, key to bytes (e.g. the consensus log, the last executed sequence).
    pub meta: Vec<(String, Vec<u8>)>,
    /// Metadata keys to remove, applied after `meta` (e.g. log entries below a stable
    /// checkpoint).
    pub meta_deletes: Vec<String>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add an object to insert or overwrite.
    pub fn put(mut self, object: Object) -> Self {
        self.objects.push(object);
        self
    }

    /// Add a metadata entry to set.
    pub fn put_meta(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.meta.push((key.into(), value.into()));
        self
    }

    /// Add a metadata key to remove.
    pub fn delete_meta(mut self, key: impl Into<String>) -> Self {
        self.meta_deletes.push(key.into());
        self
    }

    /// Whether the batch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty() && self.meta.is_empty() && self.meta_deletes.is_empty()
    }
}

/// A replica's storage. Implementations are shared between the replica and its snapshot
/// or API readers, hence `Send + Sync` and `&self` methods with interior mutability.
pub trait Store: Send + Sync {
    /// The object with this ID, if the shard has it.
    fn get(&self, id: &ObjectId) -> Result<Option<Object>, Error>;

    /// Apply every change of `batch` atomically: a reader, or the store reopened after a
    /// crash, sees all of it or none of it. Within a batch, later puts of one key win.
    fn apply(&self, batch: WriteBatch) -> Result<(), Error>;

    /// The metadata stored under `key`.
    fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, Error>;

    /// Every metadata entry whose key starts with `prefix`, sorted by key (e.g. all log
    /// entries to replay after a restart).
    fn meta_with_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, Error>;

    /// Every object, sorted by ID: a consistent view for snapshots and state transfer.
    fn objects(&self) -> Result<Vec<Object>, Error>;

    /// For each range `(first, last)` of `ranges`, in order, call `f` with its index and
    /// the objects whose IDs are in `first..=last` (none if `first` is above `last`),
    /// sorted by ID, all from one consistent view: a snapshot re-encodes only the chunks
    /// (ranges of IDs) written since the last one, or every object at once (one range
    /// from the lowest ID to the highest). Backends lend their objects rather than copy
    /// them where they can: the default reads every object; backends with an ordered
    /// index override it.
    fn with_objects_in(
        &self,
        ranges: &[(ObjectId, ObjectId)],
        f: &mut dyn FnMut(usize, &[&Object]),
    ) -> Result<(), Error> {
        let objects = self.objects()?;
        for (i, (first, last)) in ranges.iter().enumerate() {
            let refs: Vec<&Object> =
                objects.iter().filter(|o| (first..=last).contains(&&o.id)).collect();
            f(i, &refs);
        }
        Ok(())
    }
}

/// A store in memory, for tests, simulations and benchmarks that must not touch a disk.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: RwLock<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    /// In buckets by leading ID bits ([`IdMap`]): a lookup searches a few dozen IDs.
    objects: IdMap<ObjectId, Object>,
    /// Hashed, not ordered: every transaction writes its record here under a hex key, and
    /// an ordered map compares tens of those keys per insert (a few percent of a loaded
    /// replica's CPU), while prefix reads happen only when a replica opens or installs a
    /// state, and sort what they find.
    meta: HashMap<String, Vec<u8>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, MemoryState>, Error> {
        self.state.read().map_err(|_| poisoned())
    }
}

/// A panic while holding the lock may have left a batch half applied: refuse to go on.
fn poisoned() -> Error {
    Error::Store { reason: "memory store lock poisoned by a panic".into() }
}

impl Store for MemoryStore {
    fn get(&self, id: &ObjectId) -> Result<Option<Object>, Error> {
        Ok(self.read()?.objects.get(id).cloned())
    }

    fn apply(&self, batch: WriteBatch) -> Result<(), Error> {
        let mut state = self.state.write().map_err(|_| poisoned())?;
        for object in batch.objects {
            state.objects.insert(object.id, object);
        }
        for (key, value) in batch.meta {
            state.meta.insert(key, value);
        }
        for key in batch.meta_deletes {
            state.meta.remove(&key);
        }
        Ok(())
    }

    fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.read()?.meta.get(key).cloned())
    }

    fn meta_with_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let state = self.read()?;
        let mut entries: Vec<(String, Vec<u8>)> = state
            .meta
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(entries)
    }

    fn objects(&self) -> Result<Vec<Object>, Error> {
        Ok(self.read()?.objects.values().cloned().collect())
    }

    fn with_objects_in(
        &self,
        ranges: &[(ObjectId, ObjectId)],
        f: &mut dyn FnMut(usize, &[&Object]),
    ) -> Result<(), Error> {
        let state = self.read()?;
        let mut refs: Vec<&Object> = Vec::new();
        for (i, (first, last)) in ranges.iter().enumerate() {
            refs.clear();
            if first <= last {
                refs.extend(state.objects.range(*first, *last).map(|(_, o)| o));
            }
            f(i, &refs);
        }
        Ok(())
    }
}

/// The behaviour every [`Store`] backend must show. Backends call [`conformance::run_all`]
/// from their tests with a factory of empty stores; durable ones also call
/// [`conformance::survives_reopen`]. The checks panic, like assertions, on the first
/// deviation.
pub mod conformance {
    use super::{Store, WriteBatch};
    use crate::crypto::{Digest, sha256};
    use crate::object::{Object, ObjectId, ObjectStatus};
    use crate::transaction::TxId;

    fn id(n: u32) -> ObjectId {
        ObjectId(sha256(&n.to_be_bytes()))
    }

    fn object(n: u32, value: &str) -> Object {
        Object::new(id(n), value)
    }

    /// Run every check, each on a fresh store from `make`.
    pub fn run_all<S: Store>(make: impl Fn() -> S) {
        empty_store_has_nothing(&make());
        puts_are_visible_and_overwrite(&make());
        objects_are_listed_sorted_by_id(&make());
        objects_are_lent_whole_or_by_range(&make());
        metadata_puts_deletes_and_prefixes(&make());
        later_puts_in_a_batch_win(&make());
        batches_are_atomic_for_readers(&make());
    }

    /// `with_objects_in` lends the parts of what `objects` lists in ranges of IDs, both
    /// ends included, range by range (a range over every ID lends it all).
    pub fn objects_are_lent_whole_or_by_range<S: Store>(store: &S) {
        let objects: Vec<Object> = (0..200).map(|n| object(n, &n.to_string())).collect();
        store.apply(WriteBatch { objects: objects.clone(), ..WriteBatch::new() }).expect("apply");
        let all = store.objects().expect("objects");
        let bound = |b: u8| ObjectId(Digest([b; 32]));
        let one = all[17].id;
        let ranges: Vec<(ObjectId, ObjectId)> =
            [(0x00, 0xff), (0x40, 0x7f), (0x80, 0x80), (0x90, 0x10)]
                .iter()
                .map(|(a, b)| (bound(*a), bound(*b)))
                .chain([(one, one)])
                .collect();
        let mut got: Vec<(usize, Vec<Object>)> = Vec::new();
        store
            .with_objects_in(&ranges, &mut |i, os| {
                got.push((i, os.iter().map(|o| (*o).clone()).collect()))
            })
            .expect("ranges");
        let expected: Vec<(usize, Vec<Object>)> = ranges
            .iter()
            .enumerate()
            .map(|(i, (first, last))| {
                (i, all.iter().filter(|o| *first <= o.id && o.id <= *last).cloned().collect())
            })
            .collect();
        assert_eq!(got, expected);
        assert_eq!(got[0].1, all, "a range over every ID lends every object");
        assert_eq!(got[4].1.len(), 1, "both ends are included");
        assert!(got[3].1.is_empty(), "a range whose first is above its last is empty");
    }

    /// A new store has no object and no metadata.
    pub fn empty_store_has_nothing<S: Store>(store: &S) {
        assert_eq!(store.get(&id(1)).expect("get"), None);
        assert_eq!(store.get_meta("k").expect("get_meta"), None);
        assert!(store.objects().expect("objects").is_empty());
        assert!(store.meta_with_prefix("").expect("prefix").is_empty());
        store.apply(WriteBatch::new()).expect("an empty batch applies");
    }

    /// Applied objects can be read back, with their status, and a put overwrites.
    pub fn puts_are_visible_and_overwrite<S: Store>(store: &S) {
        let locked = Object {
            status: ObjectStatus::Locked { tx: TxId(Digest([7; 32])), instance: 2 },
            ..object(1, "one")
        };
        store.apply(WriteBatch::new().put(locked.clone()).put(object(2, "two"))).expect("apply");
        assert_eq!(store.get(&id(1)).expect("get"), Some(locked));
        assert_eq!(store.get(&id(2)).expect("get"), Some(object(2, "two")));
        let inactive = Object { status: ObjectStatus::Inactive, ..object(1, "one") };
        store.apply(WriteBatch::new().put(inactive.clone())).expect("apply");
        assert_eq!(store.get(&id(1)).expect("get"), Some(inactive));
        assert_eq!(store.get(&id(3)).expect("get"), None);
    }

    /// `objects` lists everything once, sorted by ID whatever the insertion order.
    pub fn objects_are_listed_sorted_by_id<S: Store>(store: &S) {
        let mut expected: Vec<Object> = (0..50).map(|n| object(n, &n.to_string())).collect();
        for chunk in expected.chunks(7).rev() {
            store
                .apply(WriteBatch { objects: chunk.to_vec(), ..WriteBatch::new() })
                .expect("apply");
        }
        store.apply(WriteBatch::new().put(object(3, "3"))).expect("apply");
        expected.sort_by_key(|o| o.id);
        assert_eq!(store.objects().expect("objects"), expected);
    }

    /// Metadata is set, overwritten, deleted and scanned by prefix in key order.
    pub fn metadata_puts_deletes_and_prefixes<S: Store>(store: &S) {
        let batch = WriteBatch::new()
            .put_meta("log/002", b"b".to_vec())
            .put_meta("log/001", b"a".to_vec())
            .put_meta("log0", b"not in log/".to_vec())
            .put_meta("view", vec![0u8; 3])
            .put_meta("lo", b"short".to_vec());
        store.apply(batch).expect("apply");
        assert_eq!(store.get_meta("view").expect("get_meta"), Some(vec![0u8; 3]));
        let log = store.meta_with_prefix("log/").expect("prefix");
        assert_eq!(log, [("log/001".into(), b"a".to_vec()), ("log/002".into(), b"b".to_vec())]);
        store
            .apply(
                WriteBatch::new()
                    .put_meta("view", vec![1])
                    .delete_meta("log/001")
                    .delete_meta("nope"),
            )
            .expect("apply");
        assert_eq!(store.get_meta("view").expect("get_meta"), Some(vec![1]));
        assert_eq!(store.get_meta("log/001").expect("get_meta"), None);
        assert_eq!(store.meta_with_prefix("log/").expect("prefix").len(), 1);
        assert_eq!(store.meta_with_prefix("").expect("prefix").len(), 4);
        // A delete in the same batch as a put of the same key wins: deletes come last.
        store.apply(WriteBatch::new().put_meta("x", vec![1]).delete_meta("x")).expect("apply");
        assert_eq!(store.get_meta("x").expect("get_meta"), None);
    }

    /// When a batch puts one key twice, the later put is what remains.
    pub fn later_puts_in_a_batch_win<S: Store>(store: &S) {
        let batch = WriteBatch::new()
            .put(object(9, "first"))
            .put(object(9, "second"))
            .put_meta("k", vec![1])
            .put_meta("k", vec![2]);
        store.apply(batch).expect("apply");
        assert_eq!(store.get(&id(9)).expect("get").map(|o| o.value), Some("second".into()));
        assert_eq!(store.get_meta("k").expect("get_meta"), Some(vec![2]));
    }

    /// A reader listing objects while batches are applied sees each batch whole: every
    /// batch rewrites all objects with one value, so a listing must show a single value.
    pub fn batches_are_atomic_for_readers<S: Store>(store: &S) {
        const OBJECTS: u32 = 20;
        const ROUNDS: u32 = 200;
        let batch = |round: u32| WriteBatch {
            objects: (0..OBJECTS).map(|n| object(n, &round.to_string())).collect(),
            ..WriteBatch::new()
        };
        store.apply(batch(0)).expect("apply");
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for round in 1..=ROUNDS {
                    store.apply(batch(round)).expect("apply");
                }
            });
            for _ in 0..ROUNDS {
                let objects = store.objects().expect("objects");
                assert_eq!(objects.len(), OBJECTS as usize);
                assert!(
                    objects.iter().all(|o| o.value == objects[0].value),
                    "a reader saw a batch half applied"
                );
            }
        });
        assert_eq!(store.get(&id(0)).expect("get").map(|o| o.value), Some(ROUNDS.to_string()));
    }

    /// For durable backends: what one store applied, a store reopened by `open` on the same
    /// files still holds. `open` is called twice and must return the same storage.
    pub fn survives_reopen<S: Store>(open: impl Fn() -> S) {
        {
            let store = open();
            let batch = WriteBatch::new().put(object(1, "kept")).put_meta("view", vec![4]);
            store.apply(batch).expect("apply");
        }
        let store = open();
        assert_eq!(store.get(&id(1)).expect("get"), Some(object(1, "kept")));
        assert_eq!(store.get_meta("view").expect("get_meta"), Some(vec![4]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_passes_the_conformance_suite() {
        conformance::run_all(MemoryStore::new);
    }

    #[test]
    fn stores_are_usable_as_trait_objects() {
        let store: Box<dyn Store> = Box::new(MemoryStore::new());
        store.apply(WriteBatch::new().put_meta("k", vec![1])).expect("apply");
        assert_eq!(store.get_meta("k").expect("get_meta"), Some(vec![1]));
    }
}
