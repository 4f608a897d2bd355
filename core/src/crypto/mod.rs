//! Hashes, keys and signatures.
//!
//! SHA-256 names everything (objects, transactions, batches); ed25519 signs what must be a
//! *transferable* proof: PBFT's prepared certificates and checkpoints used in view changes,
//! and S-BAC's votes. Every signature covers a domain tag as well as the message, so a
//! signature made for one purpose can never be replayed as another.

pub mod verified;

use verified::Mode;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use std::fmt;

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Digest(pub [u8; 32]);

/// Hashes as its first eight bytes, one `write_u64`: a SHA-256 output is uniform already,
/// and the derived form (a length, then 32 bytes) cost [`DigestHasher`] five writes and
/// a copy each on the hottest tables of the protocols. Equal digests hash equal, as `Eq`
/// requires; any hasher may take it (SipHash still keys it).
impl std::hash::Hash for Digest {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(first));
    }
}

impl Digest {
    /// Lower-case hex, as the Python framework writes IDs.
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(64);
        self.write_hex(&mut out);
        out
    }
    /// Append the 64 lower-case hex digits to `out` (as [`Digest::to_hex`] gives them).
    pub fn write_hex(&self, out: &mut String) {
        let mut digits = [0u8; 64];
        // 64 digits for 32 bytes: the only way it could fail is a wrong length.
        if hex::encode_to_slice(self.0, &mut digits).is_ok()
            && let Ok(text) = std::str::from_utf8(&digits)
        {
            out.push_str(text);
        }
    }
    /// The first four bytes in hex: enough to tell digests apart in traces and logs.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
    /// Parse 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Self, crate::Error> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)
            .map_err(|_| crate::Error::InvalidHexId { value: s.chars().take(80).collect() })?;
        Ok(Digest(out))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.short())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> Digest {
    Digest(Sha256::digest(bytes).into())
}

/// SHA-256 over several parts, each prefixed by its length so that part boundaries matter.
pub fn sha256_parts(parts: &[&[u8]]) -> Digest {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    Digest(h.finalize().into())
}

/// The digest of a sequence of digests: `sha256_parts` over them, without gathering them
/// first. What consensus batches and blocks agree on: a replica has every command's digest
/// already (computed once, when the command was built or decoded), so covering the
/// digests instead of the bytes hashes each command once, not twice.
pub fn digest_of_digests(digests: impl IntoIterator<Item = Digest>) -> Digest {
    let mut h = Sha256::new();
    for d in digests {
        h.update(32u64.to_le_bytes());
        h.update(d.0);
    }
    Digest(h.finalize().into())
}

/// Lower-case hex SHA-256 of `bytes`, the form the Python framework uses in IDs.
pub fn sha256_hex(bytes: &[u8]) -> String {
    sha256(bytes).to_hex()
}

/// An ed25519 public key, as it appears in committees and on the wire.
///
/// The curve point is decompressed once, when the key is made or decoded: decompression
/// costs about as much as a third of a verification, and a replica verifies with the
/// same few committee keys all the time.
#[derive(Clone, Copy)]
pub struct PublicKey {
    bytes: [u8; 32],
    /// `None` when the bytes are not a valid point: such a key verifies nothing.
    key: Option<VerifyingKey>,
}

impl PublicKey {
    /// A key from its 32 bytes (an invalid point gives a key that verifies nothing).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        PublicKey { bytes, key: VerifyingKey::from_bytes(&bytes).ok() }
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Verify `signature` over `domain || message`. Rejects non-canonical encodings
    /// (`verify_strict`) so that a signature has exactly one valid form.
    ///
    /// Successes are remembered process-wide ([`verified`]), so a signature met again
    /// (a vote, then the certificate holding it) is not verified twice.
    pub fn verify(&self, domain: &[u8], message: &[u8], signature: &Signature) -> bool {
        let Some(key) = &self.key else { return false };
        let cache_key = verified::key(Mode::Strict, self, domain, message, signature);
        if verified::contains(&cache_key) {
            return true;
        }
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        let ok = key.verify_strict(&signed_bytes(domain, message), &sig).is_ok();
        if ok {
            verified::insert([cache_key]);
        }
        ok
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}
impl Eq for PublicKey {}
impl PartialOrd for PublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for PublicKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.bytes.cmp(&other.bytes)
    }
}
impl std::hash::Hash for PublicKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex::encode(&self.bytes[..4]))
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.bytes.serialize(s)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <[u8; 32]>::deserialize(d).map(PublicKey::from_bytes)
    }
}

/// Verify many signatures at once (about twice as fast as one by one). All must be valid.
pub fn verify_batch(domain: &[u8], items: &[(PublicKey, &[u8], Signature)]) -> bool {
    if items.is_empty() {
        return true;
    }
    // Only signatures not verified before in this process are checked (see [`verified`]).
    let mut todo = Vec::new();
    let mut cache_keys = Vec::new();
    for (i, (k, m, s)) in items.iter().enumerate() {
        let strict = verified::key(Mode::Strict, k, domain, m, s);
        let batch = verified::key(Mode::Batch, k, domain, m, s);
        if !verified::contains(&strict) && !verified::contains(&batch) {
            todo.push(i);
            cache_keys.push(batch);
        }
    }
    let items: Vec<&(PublicKey, &[u8], Signature)> = todo.iter().map(|i| &items[*i]).collect();
    if items.is_empty() {
        return true;
    }
    if items.len() == 1 {
        let (k, m, s) = items[0];
        return k.verify(domain, m, s);
    }
    let mut keys = Vec::with_capacity(items.len());
    for (k, _, _) in &items {
        match k.key {
            Some(k) if !k.is_weak() => keys.push(k),
            _ => return false,
        }
    }
    let messages: Vec<Vec<u8>> = items.iter().map(|(_, m, _)| signed_bytes(domain, m)).collect();
    let refs: Vec<&[u8]> = messages.iter().map(|m| m.as_slice()).collect();
    let sigs: Vec<ed25519_dalek::Signature> =
        items.iter().map(|(_, _, s)| ed25519_dalek::Signature::from_bytes(&s.0)).collect();
    let ok = ed25519_dalek::verify_batch(&refs, &sigs, &keys).is_ok();
    if ok {
        verified::insert(cache_keys);
    }
    ok
}

fn signed_bytes(domain: &[u8], message: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(domain.len() + 1 + message.len());
    v.extend_from_slice(domain);
    v.push(0);
    v.extend_from_slice(message);
    v
}

/// An ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sig({})", hex::encode(&self.0[..4]))
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Signature;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("64 signature bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Signature, E> {
                let arr: [u8; 64] = v.try_into().map_err(|_| E::invalid_length(v.len(), &self))?;
                Ok(Signature(arr))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Signature, A::Error> {
                let mut arr = [0u8; 64];
                for (i, b) in arr.iter_mut().enumerate() {
                    *b = a
                        .next_element()?
                        .ok_or_else(|| serde::de::Error::invalid_length(i, &self))?;
                }
                Ok(Signature(arr))
            }
        }
        d.deserialize_bytes(V)
    }
}

/// A replica's (or client's) signing key.
#[derive(Clone)]
pub struct Keypair {
    key: SigningKey,
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({:?})", self.public())
    }
}

impl Keypair {
    /// A key from 32 secret bytes.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        Keypair { key: SigningKey::from_bytes(&secret) }
    }

    /// A deterministic key derived from a label: for simulations and tests, never for
    /// deployments (anyone who knows the label knows the key).
    pub fn from_label(label: &str) -> Self {
        Self::from_secret(sha256(label.as_bytes()).0)
    }

    /// The 32 secret bytes (for writing key files).
    pub fn secret(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        let key = self.key.verifying_key();
        PublicKey { bytes: key.to_bytes(), key: Some(key) }
    }

    /// Sign `domain || 0 || message`.
    pub fn sign(&self, domain: &[u8], message: &[u8]) -> Signature {
        Signature(self.key.sign(&signed_bytes(domain, message)).to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_matches_known_value() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn signatures_verify_only_in_their_domain_and_for_their_message() {
        let k = Keypair::from_label("a");
        let s = k.sign(b"prepare", b"m");
        assert!(k.public().verify(b"prepare", b"m", &s));
        assert!(!k.public().verify(b"commit", b"m", &s));
        assert!(!k.public().verify(b"prepare", b"n", &s));
        assert!(!Keypair::from_label("b").public().verify(b"prepare", b"m", &s));
    }

    #[test]
    fn a_digest_hashes_as_its_first_eight_bytes_and_tables_find_it() {
        use std::hash::{BuildHasher, Hash, Hasher};
        let d = sha256(b"x");
        let mut h = DigestHasher::default();
        d.hash(&mut h);
        assert_eq!(h.finish(), u64::from_le_bytes(d.0[..8].try_into().unwrap()));
        assert_eq!(DigestBuildHasher::default().hash_one(d), h.finish());
        let digests: Vec<Digest> = (0..1000u32).map(|i| sha256(&i.to_le_bytes())).collect();
        let set: DigestSet = digests.iter().copied().collect();
        assert_eq!(set.len(), 1000);
        assert!(digests.iter().all(|d| set.contains(d)));
        assert!(!set.contains(&sha256(b"y")));
        // Other keys still hash through `write`.
        let mut a = DigestHasher::default();
        a.write(b"ab");
        let mut b = DigestHasher::default();
        b.write(b"ac");
        assert_ne!(a.finish(), b.finish());
    }

    #[test]
    fn batch_verification_rejects_one_bad_signature() {
        let keys: Vec<Keypair> = (0..4).map(|i| Keypair::from_label(&i.to_string())).collect();
        let msgs: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 10]).collect();
        let mut items: Vec<(PublicKey, &[u8], Signature)> = keys
            .iter()
            .zip(&msgs)
            .map(|(k, m)| (k.public(), m.as_slice(), k.sign(b"d", m)))
            .collect();
        assert!(verify_batch(b"d", &items));
        items[2].2 = items[1].2;
        assert!(!verify_batch(b"d", &items));
    }

    #[test]
    fn digest_maps_find_what_they_hold() {
        let mut m: DigestMap<u32> = DigestMap::default();
        for i in 0..1000u32 {
            m.insert(sha256(&i.to_le_bytes()), i);
        }
        for i in 0..1000u32 {
            assert_eq!(m.get(&sha256(&i.to_le_bytes())), Some(&i));
        }
        assert_eq!(m.len(), 1000);
    }

    #[test]
    fn a_digest_of_digests_is_sha256_parts_over_them() {
        let ds: Vec<Digest> = (0..5u8).map(|i| sha256(&[i; 40])).collect();
        let parts: Vec<&[u8]> = ds.iter().map(|d| d.0.as_slice()).collect();
        assert_eq!(digest_of_digests(ds.iter().copied()), sha256_parts(&parts));
        assert_ne!(digest_of_digests(ds.iter().rev().copied()), sha256_parts(&parts));
        assert_eq!(digest_of_digests([]), sha256_parts(&[]));
    }

    #[test]
    fn signature_roundtrips_through_postcard() {
        let s = Keypair::from_label("x").sign(b"d", b"m");
        let bytes = postcard::to_allocvec(&s).unwrap();
        assert_eq!(postcard::from_bytes::<Signature>(&bytes).unwrap(), s);
    }
}

/// A hasher for maps keyed by [`Digest`] (or by a command, which hashes as its digest).
///
/// A SHA-256 digest is already uniformly distributed, so hashing it again with SipHash
/// (the std default, built to resist chosen keys) is wasted work on the hottest paths of
/// the protocols; this hasher takes eight bytes of it. An attacker cannot choose digests
/// that collide in a table without breaking SHA-256 preimage resistance on 64 bits,
/// which is far beyond a flooding attack's budget.
#[derive(Clone, Copy, Debug, Default)]
pub struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write_u64(&mut self, v: u64) {
        // How a digest arrives: its first eight bytes.
        self.0 = self.0.rotate_left(5) ^ v;
    }
    fn write(&mut self, bytes: &[u8]) {
        // A digest arrives as one `write_u64`; fold anything else in so the hasher
        // stays correct (if slower) for other keys.
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(b);
        }
    }
}

/// Builds [`DigestHasher`]s.
pub type DigestBuildHasher = std::hash::BuildHasherDefault<DigestHasher>;

/// A `HashMap` keyed by digests, with [`DigestHasher`].
pub type DigestMap<V> = std::collections::HashMap<Digest, V, DigestBuildHasher>;

/// A `HashSet` of digests, with [`DigestHasher`].
pub type DigestSet = std::collections::HashSet<Digest, DigestBuildHasher>;
