//! Certificate verifiers that pin peers by ed25519 key instead of trusting a CA.
//!
//! One type serves both directions. A replica dialling replica `r` accepts only `r`'s
//! committee key ([`PeerVerifier::exactly`]); a replica accepting connections admits the
//! committee's keys ([`PeerVerifier::committee`]), or any ed25519 key when it also serves
//! clients ([`PeerVerifier::any_key`]), in which case a connection asking to be a replica
//! is still refused after the handshake unless its key is in the committee. In every case
//! the handshake signature is checked against exactly the key the certificate carries,
//! with the ring provider's algorithms: that signature, not the certificate's own
//! self-signature, is what proves the peer holds the key.

use std::collections::BTreeSet;
use std::sync::Arc;

use chainspace_core::committee::Committee;
use chainspace_core::crypto::PublicKey;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls13_signature_with_raw_key};
use rustls::pki_types::{CertificateDer, ServerName, SubjectPublicKeyInfoDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};

use crate::identity::{certificate_key, spki};

/// Accepts a certificate only if its ed25519 key is allowed, and checks handshake
/// signatures with that key.
#[derive(Debug, Clone)]
pub struct PeerVerifier {
    /// The keys admitted; `None` admits any ed25519 key (clients).
    allowed: Option<Arc<BTreeSet<PublicKey>>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PeerVerifier {
    fn new(allowed: Option<BTreeSet<PublicKey>>) -> Self {
        let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        PeerVerifier { allowed: allowed.map(Arc::new), algorithms }
    }

    /// Admits exactly `key`: dialling a known replica.
    pub fn exactly(key: PublicKey) -> Self {
        Self::new(Some([key].into()))
    }

    /// Admits every key of the committee: a replica that serves replicas only.
    pub fn committee(committee: &Committee) -> Self {
        Self::new(Some(committee.shards.iter().flat_map(|s| s.members.iter().copied()).collect()))
    }

    /// Admits any ed25519 key: a replica that also serves clients. Who is a replica is
    /// then decided after the handshake, from the committee.
    pub fn any_key() -> Self {
        Self::new(None)
    }

    /// The admitted key of `cert`, or why it is refused.
    fn check(&self, cert: &CertificateDer<'_>) -> Result<PublicKey, Error> {
        let key = certificate_key(cert)
            .ok_or(Error::InvalidCertificate(CertificateError::BadEncoding))?;
        match &self.allowed {
            Some(keys) if !keys.contains(&key) => {
                tracing::debug!(?key, "refused a certificate whose key is not admitted");
                Err(Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure))
            }
            _ => Ok(key),
        }
    }

    fn verify_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let key = self.check(cert)?;
        let spki = spki(&key);
        let spki = SubjectPublicKeyInfoDer::from(spki.as_slice());
        verify_tls13_signature_with_raw_key(message, &spki, dss, &self.algorithms)
    }
}

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        self.check(end_entity).map(|_| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        Err(Error::General("TLS 1.2 is never negotiated".into()))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.verify_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

impl ClientCertVerifier for PeerVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        self.check(end_entity).map(|_| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        Err(Error::General("TLS 1.2 is never negotiated".into()))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.verify_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}
