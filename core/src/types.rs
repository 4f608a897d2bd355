//! Identifiers of shards and replicas, and the opaque command that consensus orders.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

use crate::crypto::{Digest, sha256};

/// Index of a shard, `0..num_shards`. Objects map to shards by `int(id, 16) mod num_shards`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ShardId(pub u32);

/// Index of a replica inside its shard, `0..n`. Consensus protocols only know this index:
/// a shard's consensus never talks to another shard.
pub type ReplicaIndex = u32;

/// A replica's global identity: its shard and its index in that shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ReplicaId {
    /// The shard the replica belongs to.
    pub shard: ShardId,
    /// The replica's index inside the shard.
    pub index: ReplicaIndex,
}

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}", self.0)
    }
}

impl fmt::Display for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}r{}", self.shard, self.index)
    }
}

/// An opaque command for a shard's consensus to order. Consensus never looks inside; the
/// replica above it (S-BAC) gives it meaning. Two commands with the same bytes are the same
/// command: consensus orders it once.
///
/// The bytes are shared (`Arc`), so the many copies a batch goes through (pending queue,
/// pre-prepare, log, delivery) cost a reference count, not an allocation; and the digest
/// is computed once, when the command is made or decoded, since every protocol step keys
/// on it. Equality and hashing go by the digest (SHA-256: equal digests mean equal bytes).
#[derive(Clone)]
pub struct Command {
    bytes: Arc<[u8]>,
    digest: Digest,
}

impl Command {
    /// Wrap raw bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        let bytes: Vec<u8> = bytes.into();
        let digest = sha256(&bytes);
        Command { bytes: bytes.into(), digest }
    }
    /// The command whose bytes are `parts` one after the other, written straight into
    /// its shared buffer: one allocation and one copy, where [`Command::new`] of a
    /// gathered `Vec` makes two of each (the `Vec`, then the `Arc`).
    pub fn from_parts(parts: &[&[u8]]) -> Self {
        let len = parts.iter().map(|p| p.len()).sum();
        let mut bytes: Arc<[u8]> = std::iter::repeat_n(0u8, len).collect();
        let buf = Arc::get_mut(&mut bytes).expect("a new Arc is not shared");
        let mut at = 0;
        for p in parts {
            buf[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        let digest = sha256(&bytes);
        Command { bytes, digest }
    }
    /// The bytes of the command.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
    /// Whether the command has no bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    /// The SHA-256 of the command's bytes: its identity for deduplication.
    pub fn digest(&self) -> Digest {
        self.digest
    }
}

impl PartialEq for Command {
    fn eq(&self, other: &Self) -> bool {
        self.digest == other.digest
    }
}
impl Eq for Command {}

impl std::hash::Hash for Command {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.digest.hash(state);
    }
}

impl PartialOrd for Command {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Command {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.bytes.cmp(&other.bytes)
    }
}

impl Serialize for Command {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde_bytes_vec::serialize(&self.bytes, s)
    }
}

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_bytes_vec::deserialize(d).map(Command::new)
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.bytes) {
            Ok(s) if s.len() <= 32 => write!(f, "Command({s:?})"),
            _ => write!(f, "Command({} bytes, {})", self.bytes.len(), self.digest.short()),
        }
    }
}

/// Append postcard's unsigned varint: seven bits a byte, least significant first.
pub fn encode_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Encode `value` with postcard into a buffer of `capacity` bytes made beforehand.
/// Postcard's own output starts empty and doubles as it grows, copying everything written
/// so far each time: for a snapshot of many MB, taken at every checkpoint, those copies
/// cost more than the encoding. A good guess (the last size) avoids all of them.
pub fn encode_with_capacity<T: Serialize + ?Sized>(
    value: &T,
    capacity: usize,
) -> postcard::Result<Vec<u8>> {
    postcard::serialize_with_flavor(value, SizedVec(Vec::with_capacity(capacity)))
}

/// A postcard output into a `Vec` made beforehand.
struct SizedVec(Vec<u8>);

impl postcard::ser_flavors::Flavor for SizedVec {
    type Output = Vec<u8>;

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Vec<u8>> {
        Ok(self.0)
    }
}

/// Serialise bytes as a byte string (compact in postcard, unlike a sequence of u8, and
/// copied whole instead of byte by byte). Use as `#[serde(with = ...)]` on a `Vec<u8>`.
/// In postcard a byte string and a sequence of `u8` are the same bytes (a length, then
/// the bytes), so a field can switch to it without changing its encoding.
pub mod serde_bytes_vec {
    use serde::{Deserializer, Serializer};

    /// Write `v` as one byte string.
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    /// Read a byte string (or a sequence of `u8`, as other formats may write it).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::with_capacity(a.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(b) = a.next_element()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_byte_buf(V)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_command_from_parts_is_the_command_of_their_concatenation() {
        let parts: [&[u8]; 4] = [b"ab", b"", &[7; 300], b"z"];
        let joined: Vec<u8> = parts.concat();
        let c = Command::from_parts(&parts);
        assert_eq!(c, Command::new(joined.clone()));
        assert_eq!(c.as_bytes(), &joined[..]);
        assert_eq!(c.digest(), sha256(&joined));
        assert_eq!(Command::from_parts(&[]), Command::new(Vec::new()));
    }

    #[test]
    fn varints_are_encoded_as_postcard_does() {
        for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            encode_varint(&mut out, v);
            assert_eq!(out, postcard::to_allocvec(&v).unwrap(), "{v}");
        }
    }

    use super::*;

    #[test]
    fn encoding_into_a_sized_buffer_gives_postcard_bytes() {
        let value = (vec![1u32, 300, 70_000], "text".to_string(), [9u8; 32], vec![7u8; 1000]);
        let plain = postcard::to_allocvec(&value).unwrap();
        for capacity in [0, 3, plain.len(), 10 * plain.len()] {
            assert_eq!(encode_with_capacity(&value, capacity).unwrap(), plain, "{capacity}");
        }
    }

    #[test]
    fn a_byte_string_is_encoded_as_a_sequence_of_u8() {
        // Snapshots switched their app bytes to `serde_bytes_vec`: checkpoint digests
        // (and anything stored) keep their value only if the encoding is the same.
        #[derive(Serialize, Deserialize)]
        struct Bytes(#[serde(with = "serde_bytes_vec")] Vec<u8>);
        for len in [0usize, 1, 127, 128, 300, 70_000] {
            let v: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let as_seq = postcard::to_allocvec(&v).unwrap();
            assert_eq!(postcard::to_allocvec(&Bytes(v.clone())).unwrap(), as_seq, "{len}");
            let back: Bytes = postcard::from_bytes(&as_seq).unwrap();
            assert_eq!(back.0, v);
        }
    }

    #[test]
    fn command_roundtrips_through_postcard_compactly() {
        let c = Command::new(vec![7u8; 100]);
        let bytes = postcard::to_allocvec(&c).unwrap();
        assert_eq!(bytes.len(), 101, "one length byte and the payload");
        let back: Command = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.digest(), c.digest());
        assert_eq!(back.as_bytes(), c.as_bytes());
    }

    #[test]
    fn commands_are_equal_exactly_when_their_bytes_are() {
        let a = Command::new(b"a".to_vec());
        assert_eq!(a, Command::new(b"a".to_vec()));
        assert_ne!(a, Command::new(b"b".to_vec()));
        assert_eq!(a.digest(), crate::crypto::sha256(b"a"));
        assert!(a < Command::new(b"b".to_vec()));
    }

    #[test]
    fn replica_id_displays_shard_and_index() {
        assert_eq!(ReplicaId { shard: ShardId(1), index: 3 }.to_string(), "s1r3");
    }
}
