//! The QUIC transport's tests: the core conformance suite, then what only a real network
//! with real keys can show (identity, hostile peers, restarts, floods).

mod bounds;
mod common;
mod mtu;
mod resilience;
mod restart;
mod security;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_passes_the_transport_conformance_suite() {
    chainspace_core::transport::conformance::run_all(&common::Quic).await;
}
