//! Tunables of the QUIC transport.

use std::time::Duration;

/// How a QUIC endpoint (replica or client) behaves. The defaults suit a LAN or WAN
/// deployment; tests shrink the limits.
#[derive(Clone, Debug)]
pub struct QuicConfig {
    /// The largest message (frame payload) sent or accepted. A peer that announces a
    /// larger frame has that stream stopped: the frame is never buffered.
    pub max_message: usize,
    /// Capacity, in messages, of each receive queue (one for replicas, one for clients)
    /// and of each peer's send queue. Past it, messages are dropped and counted, so a slow
    /// or dead peer costs bounded memory and never blocks the sender.
    pub queue_capacity: usize,
    /// Capacity, in bytes of messages, of the same queues. A count alone bounds nothing
    /// when messages are large: 4,096 consensus batches or view changes of several MB
    /// each is tens of GB per queue. Past it, messages are dropped and counted just as
    /// past `queue_capacity`. A message is taken into an empty queue whatever its size
    /// (up to `max_message`), so a queue never refuses everything.
    pub queue_bytes: usize,
    /// Whether a replica endpoint accepts client connections. Without them its TLS
    /// verifier admits committee keys only, so a stranger fails in the handshake.
    pub accept_clients: bool,
    /// How many clients may be connected to a replica at once; more are refused, so
    /// connections (each with its own send queue) cannot exhaust memory.
    pub max_clients: usize,
    /// First wait before redialling a peer that could not be reached.
    pub backoff_min: Duration,
    /// Longest wait between redials: the back-off doubles up to this.
    pub backoff_max: Duration,
    /// How long one dial (handshake included) may take.
    pub connect_timeout: Duration,
    /// A connection silent this long is dead (how a peer that vanished is noticed). A
    /// replica that crashed and restarted is noticed sooner: its new process resets the
    /// old connections as soon as their packets reach it, and its new connections show a
    /// new certificate, upon which peers drop theirs to the dead process and redial.
    pub idle_timeout: Duration,
    /// Keep-alive interval, well under `idle_timeout`, so idle but live links stay up.
    pub keep_alive: Duration,
    /// The largest UDP payload, in bytes, this endpoint accepts and searches for with MTU
    /// discovery (1,200 to 65,527). Connections start at QUIC's safe 1,200 and probe
    /// upwards, so a high bound is safe on any path (a probe too big is lost and the
    /// search stops below it); what it buys is fewer packets where the path allows large
    /// ones, as loopback (MTU 65,536) and jumbo-frame LANs do: quinn's work, and the
    /// kernel's, is per packet more than per byte. What it costs is memory: quinn sizes
    /// a replica's receive buffers at 2,048 times this (64 segments x 32 datagrams per
    /// system call), and a loaded replica touches much of them. The default, 4,096, was
    /// measured best of 1,452 / 4,096 / 16,384 / 65,527 (BENCHMARKS.md, fifth round): the
    /// consensus-only run on loopback ordered 39,000-50,000 commands per second against
    /// 38,000-39,000 at 1,452, and 16,384 added ~30 MiB to each replica process.
    pub max_udp_payload: u16,
}

/// The lowest [`QuicConfig::max_udp_payload`]: what every QUIC path must carry.
pub const MIN_UDP_PAYLOAD: u16 = 1200;
/// The highest [`QuicConfig::max_udp_payload`]: the largest UDP payload over IPv6.
pub const MAX_UDP_PAYLOAD: u16 = 65_527;

impl Default for QuicConfig {
    fn default() -> Self {
        QuicConfig {
            max_message: 32 << 20,
            queue_capacity: 4096,
            queue_bytes: 64 << 20,
            accept_clients: true,
            max_clients: 10_000,
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(15),
            keep_alive: Duration::from_secs(3),
            max_udp_payload: 4096,
        }
    }
}
