//! TLS and QUIC configurations: TLS 1.3 only, the ring provider chosen explicitly (an
//! implicit provider panics when aws-lc is linked too), ed25519 certificates pinned by
//! [`PeerVerifier`], and an ALPN that says whether a connection speaks as a replica or as
//! a client.

use std::sync::Arc;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::crypto::CryptoProvider;

use crate::QuicError;
use crate::config::{MAX_UDP_PAYLOAD, MIN_UDP_PAYLOAD, QuicConfig};
use crate::identity::Identity;
use crate::verify::PeerVerifier;

/// ALPN of a connection from a replica: admitted only with a committee key.
pub const ALPN_REPLICA: &[u8] = b"chainspace-replica/1";
/// ALPN of a connection from a client: any key, trusted with nothing.
pub const ALPN_CLIENT: &[u8] = b"chainspace-client/1";

/// The ring provider, named explicitly.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// QUIC transport parameters from `config`: idle timeout and keep-alive (how dead peers
/// are noticed), few streams per connection (each peer needs one per direction; the
/// limit bounds what one peer can make a replica hold), and MTU discovery up to
/// `max_udp_payload` (from QUIC's 1,200).
pub fn transport_config(config: &QuicConfig) -> Result<Arc<quinn::TransportConfig>, QuicError> {
    let idle = quinn::IdleTimeout::try_from(config.idle_timeout)
        .map_err(|e| QuicError::Config { reason: e.to_string() })?;
    check_udp_payload(config)?;
    let mut mtu = quinn::MtuDiscoveryConfig::default();
    mtu.upper_bound(config.max_udp_payload);
    let mut t = quinn::TransportConfig::default();
    t.max_idle_timeout(Some(idle))
        .keep_alive_interval(Some(config.keep_alive))
        .max_concurrent_uni_streams(16u32.into())
        .max_concurrent_bidi_streams(0u32.into())
        .mtu_discovery_config(Some(mtu));
    Ok(Arc::new(t))
}

/// The endpoint's own limit on the datagrams it accepts: `max_udp_payload`, which it also
/// announces to peers (so they never send larger). quinn refuses a value out of range.
pub(crate) fn endpoint_config(
    mut base: quinn::EndpointConfig,
    config: &QuicConfig,
) -> Result<quinn::EndpointConfig, QuicError> {
    base.max_udp_payload_size(config.max_udp_payload)
        .map_err(|e| QuicError::Config { reason: format!("max_udp_payload: {e}") })?;
    Ok(base)
}

fn check_udp_payload(config: &QuicConfig) -> Result<(), QuicError> {
    if !(MIN_UDP_PAYLOAD..=MAX_UDP_PAYLOAD).contains(&config.max_udp_payload) {
        return Err(QuicError::Config {
            reason: format!(
                "max_udp_payload {} is outside {MIN_UDP_PAYLOAD}..={MAX_UDP_PAYLOAD}",
                config.max_udp_payload
            ),
        });
    }
    Ok(())
}

/// The server side of a replica: its certificate, client certificates required and
/// checked by `verifier`, and the ALPNs it serves.
pub fn server_config(
    identity: &Identity,
    verifier: PeerVerifier,
    alpns: &[&[u8]],
    transport: Arc<quinn::TransportConfig>,
) -> Result<quinn::ServerConfig, QuicError> {
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(vec![identity.certificate.clone()], identity.private_key())?;
    tls.alpn_protocols = alpns.iter().map(|a| a.to_vec()).collect();
    let quic =
        QuicServerConfig::try_from(tls).map_err(|e| QuicError::Config { reason: e.to_string() })?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(quic));
    config.transport_config(transport);
    Ok(config)
}

/// The client side of a dial to a peer whose key must be `expected`, presenting
/// `identity` and speaking `alpn`.
pub fn client_config(
    identity: &Identity,
    expected: chainspace_core::crypto::PublicKey,
    alpn: &[u8],
    transport: Arc<quinn::TransportConfig>,
) -> Result<quinn::ClientConfig, QuicError> {
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PeerVerifier::exactly(expected)))
        .with_client_auth_cert(vec![identity.certificate.clone()], identity.private_key())?;
    tls.alpn_protocols = vec![alpn.to_vec()];
    quic_client_config(tls, transport)
}

/// Wrap a rustls client configuration for quinn (tests use it to build hostile peers).
pub fn quic_client_config(
    tls: rustls::ClientConfig,
    transport: Arc<quinn::TransportConfig>,
) -> Result<quinn::ClientConfig, QuicError> {
    let quic =
        QuicClientConfig::try_from(tls).map_err(|e| QuicError::Config { reason: e.to_string() })?;
    let mut config = quinn::ClientConfig::new(Arc::new(quic));
    config.transport_config(transport);
    Ok(config)
}
