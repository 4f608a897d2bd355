//! Why a message or a configuration is rejected.

use chainspace_core::types::ReplicaIndex;
use thiserror::Error;

/// Why a received message was dropped. Counted in the replica's stats; never a panic.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// A field names a replica that is not in the committee.
    #[error("unknown replica {0}")]
    UnknownReplica(ReplicaIndex),
    /// The sender is not the replica the message claims to be from, or may not send it.
    #[error("wrong sender {from} for {what}")]
    WrongSender {
        /// The authenticated sender.
        from: ReplicaIndex,
        /// What it sent.
        what: &'static str,
    },
    /// The batch does not hash to the digest it claims.
    #[error("batch digest mismatch")]
    Digest,
    /// More commands than the configured maximum batch.
    #[error("batch of {len} commands exceeds the maximum of {max}")]
    BatchTooLarge {
        /// Commands in the batch.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// More bytes of commands than the configured maximum batch, in a batch of more than
    /// one command.
    #[error("batch of {bytes} bytes exceeds the maximum of {max}")]
    BatchTooManyBytes {
        /// Bytes of commands in the batch.
        bytes: usize,
        /// The maximum.
        max: usize,
    },
    /// A signature does not verify.
    #[error("bad {0} signature")]
    Signature(&'static str),
    /// A certificate or proof is malformed.
    #[error("bad proof: {0}")]
    Proof(&'static str),
    /// A primary sent two different pre-prepares for one view and sequence number.
    #[error("conflicting pre-prepare for v={view} n={seq}")]
    Equivocation {
        /// View.
        view: u64,
        /// Sequence number.
        seq: u64,
    },
    /// A new-view message does not follow from its view changes.
    #[error("new-view does not match its view changes: {0}")]
    NewView(&'static str),
}

/// A configuration that cannot work.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PbftError {
    /// A configuration value is out of range.
    #[error("invalid PBFT configuration: {key}: {reason}")]
    Config {
        /// The configuration key.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The replica is not in the committee.
    #[error("replica {0} is not in the committee")]
    NotInCommittee(ReplicaIndex),
}
