//! HotStuff's parameters.

use std::time::Duration;

use crate::error::HotStuffError;
use crate::message::BatchLimits;

/// Parameters of a HotStuff replica. Every replica of a shard must use the same values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HotStuffConfig {
    /// Most commands in one block.
    pub max_batch: usize,
    /// Most bytes of commands in one block. Counting commands alone lets a block of large
    /// commands (creates of hundreds of objects are tens of KB each) grow to many MB: it
    /// takes long to send, verify and execute, trips round timeouts, and every fetch and
    /// retransmission carries it again. A command larger than this still goes, alone in
    /// its block.
    pub max_batch_bytes: usize,
    /// How long a leader with a partial batch and nothing else to drive waits to fill it.
    /// With uncommitted blocks to push through the three-chain it proposes at once.
    pub max_batch_delay: Duration,
    /// A round's timeout before back-off.
    pub round_timeout: Duration,
    /// The timeout doubles with every round in a row entered by a timeout certificate, up
    /// to `round_timeout * 2^max_backoff_exponent`.
    pub max_backoff_exponent: u32,
    /// Take a checkpoint every this many committed blocks (PBFT's K).
    pub checkpoint_interval: u64,
    /// A command delivered within this many sequence numbers is not delivered again.
    pub dedup_window: u64,
    /// Most blocks sent in one reply to a block request.
    pub fetch_blocks: usize,
    /// How long to wait for requested blocks before asking again (another peer).
    pub fetch_retry: Duration,
    /// An idle replica broadcasts its status at least every this many firings of its
    /// round timer, even when nothing changed: a replica partitioned while the others
    /// moved on, then healed into an idle shard, hears nothing and would otherwise never
    /// learn it is behind (nor would its peers).
    pub status_interval_ticks: u64,
    /// Whether a leader's proposals name their commands by digest
    /// ([`DigestProposal`](crate::message::DigestProposal)) instead of carrying them:
    /// clients send every command to every replica, so the others hold the bytes
    /// already, and decoding and hashing every command a second time on every replica
    /// is what it saves. A replica that lacks some asks the leader for the full proposal.
    pub proposal_digests: bool,
}

impl Default for HotStuffConfig {
    fn default() -> Self {
        HotStuffConfig {
            max_batch: 400,
            max_batch_bytes: 1 << 20,
            max_batch_delay: Duration::from_millis(2),
            round_timeout: Duration::from_millis(500),
            max_backoff_exponent: 6,
            checkpoint_interval: 128,
            dedup_window: 1024,
            fetch_blocks: 64,
            fetch_retry: Duration::from_millis(100),
            status_interval_ticks: 4,
            proposal_digests: true,
        }
    }
}

impl HotStuffConfig {
    /// The batch limits a replica checks received blocks against.
    pub fn batch_limits(&self) -> BatchLimits {
        BatchLimits { max_batch: self.max_batch, max_batch_bytes: self.max_batch_bytes }
    }

    /// Check that the values can work together.
    pub fn validate(&self) -> Result<(), HotStuffError> {
        let err = |key, reason: &str| Err(HotStuffError::Config { key, reason: reason.into() });
        if self.max_batch == 0 {
            return err("max_batch", "must be at least 1");
        }
        if self.max_batch_bytes == 0 {
            return err("max_batch_bytes", "must be at least 1");
        }
        if self.round_timeout.is_zero() {
            return err("round_timeout", "must be positive");
        }
        if self.max_backoff_exponent > 20 {
            return err("max_backoff_exponent", "must be at most 20");
        }
        if self.checkpoint_interval == 0 {
            return err("checkpoint_interval", "must be at least 1");
        }
        if self.fetch_blocks == 0 {
            return err("fetch_blocks", "must be at least 1");
        }
        if self.fetch_retry.is_zero() {
            return err("fetch_retry", "must be positive");
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
        HotStuffConfig::default().validate().unwrap();
        let bad = HotStuffConfig { max_batch: 0, ..HotStuffConfig::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("max_batch"));
        let bad = HotStuffConfig { max_batch_bytes: 0, ..HotStuffConfig::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("max_batch_bytes"));
        let bad = HotStuffConfig { round_timeout: Duration::ZERO, ..HotStuffConfig::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("round_timeout"));
    }
}
