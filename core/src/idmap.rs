//! [`IdMap`]: an ordered map keyed by hash IDs (objects, transactions), split into buckets
//! by the IDs' leading bits.
//!
//! A replica's state is a few such maps of tens or hundreds of thousands of entries (the
//! store's objects, the engine's records and votes), read and written for every
//! transaction. In one ordered tree of that size a lookup walks five levels and compares a
//! 32-byte key at each step, most of them cache misses; profiles of a loaded 2x4 cluster
//! put such walks at several percent of its CPU. IDs are hashes, so they spread evenly
//! over the buckets: a lookup indexes its bucket and searches a few dozen keys. Order is
//! kept (buckets are ordered by the leading bits, and each is a `BTreeMap`), so iteration
//! and range reads (a snapshot chunk, [`crate::sbac::engine`]) work as on one tree.

use std::collections::BTreeMap;
use std::fmt;

use crate::crypto::Digest;
use crate::object::ObjectId;
use crate::transaction::TxId;

/// A key that is (or wraps) a hash: its leading bits choose the bucket.
pub trait HashKey: Copy + Ord {
    /// The key's digest.
    fn hash_bytes(&self) -> &[u8; 32];
}

impl HashKey for Digest {
    fn hash_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl HashKey for ObjectId {
    fn hash_bytes(&self) -> &[u8; 32] {
        &self.0.0
    }
}

impl HashKey for TxId {
    fn hash_bytes(&self) -> &[u8; 32] {
        &self.0.0
    }
}

/// Leading bits that choose a bucket: 4,096 buckets (96 KiB of empty trees), a few dozen
/// entries each at a hundred thousand.
const BITS: u32 = 12;
const BUCKETS: usize = 1 << BITS;

fn bucket<K: HashKey>(key: &K) -> usize {
    let b = key.hash_bytes();
    usize::from(u16::from_be_bytes([b[0], b[1]]) >> (16 - BITS))
}

/// An ordered map from hash IDs to `V`; see the module docs.
#[derive(Clone, PartialEq, Eq)]
pub struct IdMap<K, V> {
    buckets: Vec<BTreeMap<K, V>>,
    len: usize,
}

impl<K: HashKey, V> Default for IdMap<K, V> {
    fn default() -> Self {
        IdMap { buckets: (0..BUCKETS).map(|_| BTreeMap::new()).collect(), len: 0 }
    }
}

impl<K: HashKey, V> IdMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value under `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.buckets[bucket(key)].get(key)
    }

    /// The value under `key`, to change it.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.buckets[bucket(key)].get_mut(key)
    }

    /// Whether `key` has a value.
    pub fn contains_key(&self, key: &K) -> bool {
        self.buckets[bucket(key)].contains_key(key)
    }

    /// Put `value` under `key`; returns the value it replaces.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let old = self.buckets[bucket(&key)].insert(key, value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Take the value under `key` out.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let old = self.buckets[bucket(key)].remove(key);
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.buckets.iter().flatten()
    }

    /// Every value, in key order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }

    /// The entries with keys from `first` to `last`, both included, in key order.
    pub fn range(&self, first: K, last: K) -> impl Iterator<Item = (&K, &V)> {
        // An empty slice when `first > last` (where `BTreeMap::range` would panic).
        let buckets: &[BTreeMap<K, V>] =
            if first <= last { &self.buckets[bucket(&first)..=bucket(&last)] } else { &[] };
        buckets.iter().flat_map(move |b| b.range(first..=last))
    }
}

impl<K: HashKey + fmt::Debug, V: fmt::Debug> fmt::Debug for IdMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: HashKey, V> Extend<(K, V)> for IdMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, entries: I) {
        for (k, v) in entries {
            self.insert(k, v);
        }
    }
}

impl<K: HashKey, V> FromIterator<(K, V)> for IdMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Self {
        let mut map = IdMap::new();
        map.extend(entries);
        map
    }
}

impl<'a, K: HashKey, V> IntoIterator for &'a IdMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, BTreeMap<K, V>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.buckets.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::sha256;

    fn key(n: u32) -> Digest {
        sha256(&n.to_be_bytes())
    }

    /// Keys with chosen leading bytes, to land in chosen buckets and at their edges.
    fn at(lead: [u8; 2], fill: u8) -> Digest {
        let mut d = [fill; 32];
        d[..2].copy_from_slice(&lead);
        Digest(d)
    }

    #[test]
    fn behaves_as_one_ordered_map() {
        let mut map = IdMap::new();
        let mut reference = BTreeMap::new();
        for n in 0..3000u32 {
            let k = key(n % 2000);
            assert_eq!(map.insert(k, n), reference.insert(k, n));
            if n % 7 == 0 {
                let gone = key(n / 3);
                assert_eq!(map.remove(&gone), reference.remove(&gone));
            }
        }
        assert_eq!(map.len(), reference.len());
        assert!(map.iter().eq(reference.iter()), "same entries, same order");
        for n in 0..2100 {
            assert_eq!(map.get(&key(n)), reference.get(&key(n)));
            assert_eq!(map.contains_key(&key(n)), reference.contains_key(&key(n)));
        }
        if let (Some(a), Some(b)) = (map.get_mut(&key(5)), reference.get_mut(&key(5))) {
            (*a, *b) = (0, 0);
        }
        assert!(map.values().eq(reference.values()));
        let collected: IdMap<Digest, u32> = reference.clone().into_iter().collect();
        assert_eq!(collected, map);
        assert_eq!(format!("{map:?}"), format!("{reference:?}"));
    }

    #[test]
    fn ranges_cross_buckets_and_keep_both_ends() {
        let keys = [
            at([0x00, 0x00], 0x00),
            at([0x12, 0x34], 0x00),
            at([0x12, 0x34], 0xff),
            at([0x12, 0x3f], 0x80),
            at([0x12, 0x40], 0x00),
            at([0xab, 0xcd], 0x11),
            at([0xff, 0xff], 0xff),
        ];
        let map: IdMap<Digest, usize> = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
        let reference: BTreeMap<Digest, usize> = map.iter().map(|(k, v)| (*k, *v)).collect();
        let bounds = [
            (at([0x12, 0x34], 0x00), at([0x12, 0x34], 0xff)),
            (at([0x12, 0x30], 0x00), at([0x12, 0x4f], 0xff)),
            (at([0x00, 0x00], 0x00), at([0xff, 0xff], 0xff)),
            (at([0x12, 0x35], 0x00), at([0x12, 0x3e], 0xff)),
            (at([0x50, 0x00], 0x00), at([0x10, 0x00], 0x00)),
        ];
        for (first, last) in bounds {
            let want: Vec<_> =
                if first <= last { reference.range(first..=last).collect() } else { Vec::new() };
            assert_eq!(map.range(first, last).collect::<Vec<_>>(), want, "{first:?}..={last:?}");
        }
        assert_eq!(map.range(keys[0], keys[6]).count(), keys.len());
    }
}
