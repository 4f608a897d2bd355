//! A process-wide record of signatures already verified.
//!
//! Whether `(key, domain, message, signature)` verifies is a fact about those bytes, not
//! about who asks, so it need be established once per process. A replica meets the same
//! signature twice in S-BAC (a vote when it arrives, then inside the certificate that the
//! shard orders), and in the simulator the replicas of a whole deployment share one
//! process and each check every vote and certificate: remembering the outcome roughly
//! halves the CPU a simulated deployment spends on signatures, with no change to what is
//! accepted. Only successes are remembered (a failure is cheap to repeat and rare), keyed
//! by the SHA-256 of everything verified (and how: see [`Mode`]), so a hit cannot be
//! forged without a collision.
//!
//! Memory is bounded: two generations of at most [`GENERATION`] entries; when the current
//! one fills up it becomes the old one and the previous old one is dropped, so recently
//! verified signatures stay found.

use std::sync::{LazyLock, Mutex};

use super::{Digest, DigestSet, PublicKey, Signature, sha256_parts};

/// Entries per generation (two generations are kept: about 4 MiB at most).
pub const GENERATION: usize = 1 << 16;

#[derive(Default)]
struct Generations {
    current: DigestSet,
    old: DigestSet,
}

static VERIFIED: LazyLock<Mutex<Generations>> = LazyLock::new(Mutex::default);

/// How a signature was verified. Batch verification accepts every signature that
/// strict single verification accepts, but not only those (ed25519-dalek documents the
/// difference), so the two are remembered apart: a strict check is answered only by a
/// strict success, a batch check by either.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    Strict = 1,
    Batch = 2,
}

/// The cache key of one verification.
pub(crate) fn key(
    mode: Mode,
    public: &PublicKey,
    domain: &[u8],
    message: &[u8],
    sig: &Signature,
) -> Digest {
    let len = (message.len() as u64).to_le_bytes();
    let tag = [mode as u8];
    sha256_parts(&[b"chainspace/verified", &tag, public.as_bytes(), &sig.0, domain, &len, message])
}

/// Whether `key` was verified before in this process.
pub(crate) fn contains(key: &Digest) -> bool {
    match VERIFIED.lock() {
        Ok(g) => g.current.contains(key) || g.old.contains(key),
        Err(_) => false,
    }
}

/// Remember that `keys` verified.
pub(crate) fn insert(keys: impl IntoIterator<Item = Digest>) {
    let Ok(mut g) = VERIFIED.lock() else { return };
    g.insert(keys);
}

impl Generations {
    fn insert(&mut self, keys: impl IntoIterator<Item = Digest>) {
        for k in keys {
            if self.current.len() >= GENERATION {
                self.old = std::mem::take(&mut self.current);
            }
            self.current.insert(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Keypair, verify_batch};

    #[test]
    fn successes_are_remembered_failures_are_not() {
        let k = Keypair::from_label("verified-cache-test");
        let sig = k.sign(b"d", b"message one");
        assert!(k.public().verify(b"d", b"message one", &sig));
        assert!(contains(&key(Mode::Strict, &k.public(), b"d", b"message one", &sig)));
        // The same signature over other bytes, domain or key is not a hit.
        assert!(!k.public().verify(b"d", b"message two", &sig));
        assert!(!k.public().verify(b"e", b"message one", &sig));
        let other = Keypair::from_label("verified-cache-other");
        assert!(!other.public().verify(b"d", b"message one", &sig));
        let mut bad = sig;
        bad.0[5] ^= 1;
        assert!(!k.public().verify(b"d", b"message one", &bad));
        assert!(!contains(&key(Mode::Strict, &k.public(), b"d", b"message one", &bad)));
    }

    #[test]
    fn a_batch_with_one_bad_signature_fails_even_if_the_rest_were_seen() {
        let keys: Vec<Keypair> =
            (0..4).map(|i| Keypair::from_label(&format!("verified-batch-{i}"))).collect();
        let msgs: Vec<Vec<u8>> = (0..4).map(|i| format!("vote {i}").into_bytes()).collect();
        let mut items: Vec<(PublicKey, &[u8], Signature)> = keys
            .iter()
            .zip(&msgs)
            .map(|(k, m)| (k.public(), m.as_slice(), k.sign(b"v", m)))
            .collect();
        assert!(verify_batch(b"v", &items));
        assert!(verify_batch(b"v", &items), "all remembered");
        items[2].2.0[0] ^= 1;
        assert!(!verify_batch(b"v", &items));
        // A batch success does not answer a strict check.
        items[2].2.0[0] ^= 1;
        let (k, m, s) = &items[3];
        assert!(!contains(&key(Mode::Strict, k, b"v", m, s)));
        assert!(k.verify(b"v", m, s));
    }

    #[test]
    fn memory_is_bounded_by_two_generations() {
        let fill: Vec<Digest> =
            (0..(2 * GENERATION + 10) as u64).map(|i| sha256_parts(&[&i.to_le_bytes()])).collect();
        let mut g = Generations::default();
        g.insert(fill.iter().copied());
        assert!(g.current.len() <= GENERATION && g.old.len() <= GENERATION);
        assert!(g.current.contains(fill.last().unwrap()));
        assert!(!g.current.contains(&fill[0]) && !g.old.contains(&fill[0]));
    }
}
