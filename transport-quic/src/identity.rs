//! A replica's or client's TLS identity: a self-signed certificate carrying its ed25519
//! key, and the way back from a peer's certificate to its key (DESIGN.md, "Replica
//! identity on QUIC").
//!
//! No certificate authority is involved: a certificate is only a container for the key,
//! and what proves possession of the key is the TLS 1.3 handshake signature, which the
//! verifiers check against exactly the key read here.

use chainspace_core::crypto::{Keypair, PublicKey};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest as _, Sha256};

use crate::QuicError;

/// The DNS name in every certificate, and the server name every dial uses. Peers are
/// pinned by key, not by name, so one constant name serves all.
pub const SERVER_NAME: &str = "chainspace";

/// DER of an ed25519 SubjectPublicKeyInfo up to the key (RFC 8410): SEQUENCE { SEQUENCE {
/// OID 1.3.101.112 }, BIT STRING (0 unused bits) <32 bytes> }.
const ED25519_SPKI_PREFIX: [u8; 12] =
    [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// A certificate and private key for TLS, made from an ed25519 keypair.
///
/// Each identity gets a certificate of its own, with a random serial number, even for
/// the same key: the certificate a replica shows names the process as well as the key.
/// That is how a peer tells a replica that restarted (a new certificate on its new
/// connection) from one that only reconnected (the certificate it already knows), and
/// drops its own connection to the dead process at once instead of writing into it until
/// the idle timeout.
#[derive(Debug)]
pub struct Identity {
    /// The self-signed certificate carrying `public`.
    pub certificate: CertificateDer<'static>,
    /// The private key in PKCS#8, as rustls loads it.
    key: PrivatePkcs8KeyDer<'static>,
    /// The key the certificate carries.
    pub public: PublicKey,
}

impl Identity {
    /// The identity of `keypair`: its key exported as PKCS#8, loaded by rcgen, and a
    /// certificate self-signed with it, its serial number random.
    pub fn new(keypair: &Keypair) -> Result<Self, QuicError> {
        let err = |reason: String| QuicError::Identity { reason };
        let signing = ed25519_dalek::SigningKey::from_bytes(&keypair.secret());
        let pkcs8 = signing.to_pkcs8_der().map_err(|e| err(e.to_string()))?;
        let pkcs8 = pkcs8.as_bytes().to_vec();
        let key_pair =
            rcgen::KeyPair::try_from(pkcs8.as_slice()).map_err(|e| err(e.to_string()))?;
        let mut params = rcgen::CertificateParams::new(vec![SERVER_NAME.to_string()])
            .map_err(|e| err(e.to_string()))?;
        let mut serial = [0u8; 16];
        crate::tls::provider()
            .secure_random
            .fill(&mut serial)
            .map_err(|_| err("no randomness for the serial number".into()))?;
        serial[0] = (serial[0] & 0x7f) | 0x40; // positive, and 16 bytes long in DER
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        let cert = params.self_signed(&key_pair).map_err(|e| err(e.to_string()))?;
        let public = keypair.public();
        if certificate_key(cert.der()) != Some(public) {
            return Err(err("the certificate does not carry the key".into()));
        }
        Ok(Identity { certificate: cert.der().clone(), key: pkcs8.into(), public })
    }

    /// The private key, for rustls.
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }
}

/// The ed25519 key in a certificate's SubjectPublicKeyInfo, or `None` if the DER is not
/// a certificate or its key is not ed25519. Walks the DER itself (the seventh element of
/// the TBSCertificate, after an optional version) rather than searching for the key's
/// prefix, so bytes planted elsewhere in the certificate (an extension) are never read as
/// the key.
pub fn certificate_key(der: &[u8]) -> Option<PublicKey> {
    let (cert, _) = element(der, 0x30)?;
    let (tbs, _) = element(cert, 0x30)?;
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = element(rest, 0xa0)?.1;
    }
    rest = element(rest, 0x02)?.1; // serial number
    for _ in 0..4 {
        rest = element(rest, 0x30)?.1; // signature algorithm, issuer, validity, subject
    }
    let spki = rest.get(..ED25519_SPKI_PREFIX.len() + 32)?;
    let (prefix, key) = spki.split_at(ED25519_SPKI_PREFIX.len());
    if prefix != ED25519_SPKI_PREFIX {
        return None;
    }
    Some(PublicKey::from_bytes(key.try_into().ok()?))
}

/// The SubjectPublicKeyInfo DER of an ed25519 key, for verifying signatures with it.
pub fn spki(key: &PublicKey) -> Vec<u8> {
    let mut out = ED25519_SPKI_PREFIX.to_vec();
    out.extend_from_slice(key.as_bytes());
    out
}

/// The number a replica reports a client by ([`Addr::Client`](chainspace_core::replica::Addr)):
/// the first eight bytes of the SHA-256 of its key. Derived from the key, so it is the
/// same at every replica and across reconnections, and no client can take another's
/// number without finding a 64-bit second preimage.
pub fn client_number(key: &PublicKey) -> u64 {
    let digest = Sha256::digest(key.as_bytes());
    let mut n = [0u8; 8];
    n.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(n)
}

/// One DER element with tag `tag` at the start of `input`: its contents and what follows.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, after) = rest.split_at_checked(n)?;
        rest = after;
        bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize)
    };
    let (contents, after) = rest.split_at_checked(len)?;
    Some((contents, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_carries_its_key_and_garbage_carries_none() {
        let keypair = Keypair::from_label("identity");
        let id = Identity::new(&keypair).expect("identity");
        assert_eq!(certificate_key(&id.certificate), Some(keypair.public()));
        assert_eq!(certificate_key(&[]), None);
        assert_eq!(certificate_key(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        for cut in 0..id.certificate.len() {
            let _ = certificate_key(&id.certificate[..cut]);
        }
        assert_eq!(spki(&keypair.public()).len(), 44);
    }

    #[test]
    fn each_identity_has_a_certificate_of_its_own() {
        let keypair = Keypair::from_label("restarted");
        let first = Identity::new(&keypair).expect("identity");
        let second = Identity::new(&keypair).expect("identity");
        assert_ne!(first.certificate, second.certificate, "a restart shows a new certificate");
        assert_eq!(certificate_key(&second.certificate), Some(keypair.public()));
    }

    #[test]
    fn client_numbers_follow_keys() {
        let a = Keypair::from_label("a").public();
        let b = Keypair::from_label("b").public();
        assert_eq!(client_number(&a), client_number(&a));
        assert_ne!(client_number(&a), client_number(&b));
    }
}
