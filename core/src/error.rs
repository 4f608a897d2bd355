//! The error type of the core crate.

use thiserror::Error;

/// Everything that can go wrong in the core crate. Variants are structured so callers can
/// turn them into clear messages (an HTTP 400 body, a config error naming the key).
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// An ID was not 64 hex digits.
    #[error("not a 64-digit hex id: {value:?}")]
    InvalidHexId {
        /// The offending text (truncated).
        value: String,
    },
    /// A committee or configuration is inconsistent.
    #[error("invalid committee: {reason}")]
    InvalidCommittee {
        /// What is wrong.
        reason: String,
    },
    /// A JSON document did not have the expected shape.
    #[error("invalid JSON at {path}: {reason}")]
    InvalidJson {
        /// Where in the document (e.g. `transaction.inputIDs[2]`).
        path: String,
        /// What is wrong there.
        reason: String,
    },
    /// A snapshot could not be decoded or does not match its digest.
    #[error("invalid snapshot: {reason}")]
    InvalidSnapshot {
        /// What is wrong.
        reason: String,
    },
    /// The store failed.
    #[error("store error: {reason}")]
    Store {
        /// What failed.
        reason: String,
    },
    /// A checker could not give an answer.
    #[error("checker error for {contract}: {reason}")]
    Checker {
        /// The contract whose checker failed.
        contract: String,
        /// What failed.
        reason: String,
    },
    /// An object a transaction names is not known where it was looked up.
    #[error("unknown object {id}")]
    ObjectNotFound {
        /// The object's ID in hex.
        id: String,
    },
    /// No checker is registered for a contract, so its calls can never be accepted.
    #[error("no checker for contract {contract:?}")]
    UnknownContract {
        /// The contract ID (truncated).
        contract: String,
    },
    /// An S-BAC certificate does not prove what it claims.
    #[error("invalid certificate: {reason}")]
    InvalidCertificate {
        /// What is wrong.
        reason: String,
    },
    /// The transport failed.
    #[error("transport error: {reason}")]
    Transport {
        /// What failed.
        reason: String,
    },
}
