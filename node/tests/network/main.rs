//! End-to-end tests of the node runtime: whole local networks (over QUIC on 127.0.0.1 and
//! over a memory network) running the `addition` walkthrough, a cross-shard `dummy`
//! consume, and surviving malformed input. Every wait is bounded; every network is shut
//! down at the end.

mod memory;
mod quic;
mod scenario;
