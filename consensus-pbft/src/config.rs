//! PBFT's parameters, with defaults close to BFT-SMaRt's.

use std::time::Duration;

use crate::error::PbftError;
use crate::message::BatchLimits;

/// Parameters of a PBFT replica. Every replica of a shard must use the same values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PbftConfig {
    /// Most commands in one batch (BFT-SMaRt's `system.totalordermulticast.maxbatchsize`,
    /// 400 by default there too).
    pub max_batch: usize,
    /// Most bytes of commands in one batch. Counting commands alone lets a batch of large
    /// commands (creates of hundreds of objects are tens of KB each) grow to many MB: it
    /// takes long to send, verify and execute, trips request timeouts, and every view
    /// change, catch-up reply and retransmission carries it again. A command larger than
    /// this still goes, alone in its batch.
    pub max_batch_bytes: usize,
    /// How long the primary waits to fill a batch while earlier batches are in flight.
    /// With nothing in flight it proposes at once, so light load sees no added latency.
    pub batch_timeout: Duration,
    /// Batches the primary keeps in flight at once (pipelining).
    pub max_in_flight: u64,
    /// Take a checkpoint every this many sequence numbers (PBFT's K).
    pub checkpoint_interval: u64,
    /// Log size L: sequence numbers above the stable checkpoint a replica accepts. Must be
    /// at least `2 * checkpoint_interval` so ordering goes on while a checkpoint
    /// stabilises.
    pub window: u64,
    /// Period of the replica's housekeeping tick (request ages, catch-up).
    pub tick: Duration,
    /// A request not ordered after this many ticks is forwarded to the primary; after
    /// twice as many the replica asks for a view change (BFT-SMaRt's two-stage timeout).
    pub request_timeout_ticks: u64,
    /// How long a replica waits for a new view once a quorum asked for it; doubles with
    /// every further view change in a row.
    pub view_change_timeout: Duration,
    /// A command delivered within this many sequence numbers is not delivered again.
    pub dedup_window: u64,
    /// Most decided batches sent in one catch-up reply.
    pub catch_up_batches: usize,
    /// Every this many ticks a replica broadcasts its status even when it sees no sign
    /// of being behind. A replica that was partitioned while the others moved on, and
    /// then hears nothing because the shard has gone idle, learns of it this way (and
    /// peers learn of it): without it, it would stay behind until the next request.
    pub status_interval_ticks: u64,
    /// Whether the primary's pre-prepares name requests by digest instead of carrying
    /// them ([`crate::message::DigestPrePrepare`]): clients send every request to every
    /// replica, so backups hold the bytes already, and a backup that lacks some asks the
    /// primary for the full pre-prepare. Backups accept both forms whatever this says.
    pub request_digests: bool,
}

impl Default for PbftConfig {
    fn default() -> Self {
        PbftConfig {
            max_batch: 400,
            max_batch_bytes: 1 << 20,
            batch_timeout: Duration::from_millis(2),
            max_in_flight: 4,
            checkpoint_interval: 128,
            window: 256,
            tick: Duration::from_millis(100),
            request_timeout_ticks: 5,
            view_change_timeout: Duration::from_millis(500),
            dedup_window: 1024,
            catch_up_batches: 64,
            status_interval_ticks: 10,
            request_digests: true,
        }
    }
}

impl PbftConfig {
    /// The batch limits a replica checks received batches against.
    pub fn batch_limits(&self) -> BatchLimits {
        BatchLimits { max_batch: self.max_batch, max_batch_bytes: self.max_batch_bytes }
    }

    /// Check that the values can work together.
    pub fn validate(&self) -> Result<(), PbftError> {
        let err = |key, reason: &str| Err(PbftError::Config { key, reason: reason.into() });
        if self.max_batch == 0 {
            return err("max_batch", "must be at least 1");
        }
        if self.max_batch_bytes == 0 {
            return err("max_batch_bytes", "must be at least 1");
        }
        if self.checkpoint_interval == 0 {
            return err("checkpoint_interval", "must be at least 1");
        }
        if self.window < 2 * self.checkpoint_interval {
            return err("window", "must be at least twice checkpoint_interval");
        }
        if self.max_in_flight == 0 || self.max_in_flight > self.window {
            return err("max_in_flight", "must be between 1 and window");
        }
        if self.tick.is_zero() {
            return err("tick", "must be positive");
        }
        if self.request_timeout_ticks == 0 {
            return err("request_timeout_ticks", "must be at least 1");
        }
        if self.view_change_timeout.is_zero() {
            return err("view_change_timeout", "must be positive");
        }
        if self.catch_up_batches == 0 {
            return err("catch_up_batches", "must be at least 1");
        }
        if self.status_interval_ticks == 0 {
            return err("status_interval_ticks", "must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_bad_values_name_their_key() {
        PbftConfig::default().validate().unwrap();
        let bad = PbftConfig { window: 10, checkpoint_interval: 8, ..PbftConfig::default() };
        let e = bad.validate().unwrap_err();
        assert!(e.to_string().contains("window"), "{e}");
        let bad = PbftConfig { max_batch: 0, ..PbftConfig::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("max_batch"));
        let bad = PbftConfig { max_batch_bytes: 0, ..PbftConfig::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("max_batch_bytes"));
        let bad = PbftConfig { max_in_flight: 0, ..PbftConfig::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("max_in_flight"));
    }
}
