//! Stateless resets that survive a restart.
//!
//! A replica killed without a word (SIGKILL, a crash, a power cut) sends no
//! CONNECTION_CLOSE, so its peers keep writing into connections nobody holds any more.
//! QUIC's answer is the stateless reset (RFC 9000, section 10.3): an endpoint that gets a
//! packet for a connection it does not know answers with a token that only the endpoint
//! which made the connection could compute, and the peer closes the connection at once.
//! quinn computes the token as an HMAC of the connection id, under a key that by default
//! is random per endpoint, so a restarted process cannot reproduce its predecessor's
//! tokens and its resets are ignored: the peers wait for the idle timeout instead.
//!
//! A replica's key is therefore derived from its committee signing key (hashed under a
//! label of its own, so nothing signed with the key is ever an HMAC key or the reverse):
//! the same replica restarted on the same address resets the old connections the moment
//! their packets reach it. The key never leaves the replica; a token reveals nothing of
//! it, and no one else can make one.
//!
//! quinn's default connection ids carry a check keyed at random per endpoint too, and a
//! packet for an id failing it is dropped without a reset: a restarted process would not
//! even answer. Replicas use plain random ids instead (quinn's other generator, which it
//! cannot name from here), so a packet for any unknown id is answered; quinn still sends
//! at most one reset every 20 ms, each smaller than the packet that caused it.

use std::sync::Arc;

use chainspace_core::crypto::Keypair;
use quinn::crypto::{CryptoError, HmacKey};
use quinn::{ConnectionId, ConnectionIdGenerator};
use sha2::{Digest as _, Sha256};

/// Domain of the reset key's derivation from the signing key.
const LABEL: &[u8] = b"chainspace transport-quic stateless reset key v1\0";

/// HMAC-SHA-256 (RFC 2104) under a 32-byte key.
struct ResetKey([u8; 32]);

impl ResetKey {
    fn of(keypair: &Keypair) -> Self {
        let digest = Sha256::new().chain_update(LABEL).chain_update(keypair.secret()).finalize();
        let mut key = [0u8; 32];
        key.copy_from_slice(&digest);
        ResetKey(key)
    }

    fn mac(&self, data: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.0, data)
    }
}

fn hmac_sha256(key: &[u8; 32], data: &[u8]) -> [u8; 32] {
    let pad = |byte: u8| {
        let mut block = [byte; 64];
        block.iter_mut().zip(key).for_each(|(b, k)| *b ^= k);
        block
    };
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(data).finalize();
    let outer = Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize();
    let mut mac = [0u8; 32];
    mac.copy_from_slice(&outer);
    mac
}

impl HmacKey for ResetKey {
    fn sign(&self, data: &[u8], signature_out: &mut [u8]) {
        let mac = self.mac(data);
        let n = signature_out.len().min(mac.len());
        signature_out[..n].copy_from_slice(&mac[..n]);
    }

    fn signature_len(&self) -> usize {
        32
    }

    fn verify(&self, data: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        let mac = self.mac(data);
        if signature.len() != mac.len() {
            return Err(CryptoError);
        }
        // Constant time: every byte is compared whatever the first difference.
        let diff = mac.iter().zip(signature).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 { Ok(()) } else { Err(CryptoError) }
    }
}

/// Random 8-byte connection ids (quinn's length) that any later process accepts as its
/// own, so that it answers them with a stateless reset.
struct RandomIds;

/// Length of a connection id.
const CID_LEN: usize = 8;

impl ConnectionIdGenerator for RandomIds {
    fn generate_cid(&mut self) -> ConnectionId {
        let mut id = [0u8; CID_LEN];
        if crate::tls::provider().secure_random.fill(&mut id).is_err() {
            // No system randomness at all: fall back on the clock, which still keeps ids
            // apart (quinn redraws an id already in use).
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            let nanos = now.map(|d| d.as_nanos()).unwrap_or_default();
            id.copy_from_slice(&Sha256::digest(nanos.to_le_bytes())[..CID_LEN]);
        }
        ConnectionId::new(&id)
    }

    fn cid_len(&self) -> usize {
        CID_LEN
    }

    fn cid_lifetime(&self) -> Option<std::time::Duration> {
        None
    }
}

/// The endpoint configuration of the replica holding `keypair`: quinn's defaults, with
/// the stateless reset key derived from the replica's key and connection ids a restarted
/// process answers.
pub(crate) fn endpoint_config(keypair: &Keypair) -> quinn::EndpointConfig {
    let mut config = quinn::EndpointConfig::new(Arc::new(ResetKey::of(keypair)));
    config.cid_generator(|| Box::new(RandomIds));
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 of RFC 4231, its key zero-padded to 32 bytes (HMAC pads it anyway).
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let mac = hmac_sha256(&key, b"what do ya want for nothing?");
        assert_eq!(hex(&mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn the_key_follows_the_replica_and_verifies_its_own_tokens() {
        let a = ResetKey::of(&Keypair::from_label("a"));
        let a_again = ResetKey::of(&Keypair::from_label("a"));
        let b = ResetKey::of(&Keypair::from_label("b"));
        let cid = [7u8; 8];
        let mut token = [0u8; 32];
        a.sign(&cid, &mut token);
        let mut again = [0u8; 32];
        a_again.sign(&cid, &mut again);
        assert_eq!(token, again, "a restarted replica makes the same tokens");
        assert!(a_again.verify(&cid, &token).is_ok());
        assert!(b.verify(&cid, &token).is_err(), "another replica's key does not");
        assert!(a.verify(&cid, &token[..16]).is_err());
        assert_ne!(a.0, Keypair::from_label("a").secret(), "the signing key is not used as is");
    }
}
