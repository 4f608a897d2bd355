//! The crate's one error type.
//!
//! Variants keep what went wrong structured (which URL, which status, which log file) so
//! that an operator reading a `prepared_t_abort` reason or a startup error knows where to
//! look. At the [`Checker`](chainspace_core::checker::Checker) boundary every variant
//! becomes [`chainspace_core::Error::Checker`]: "the checker could not answer", which the
//! node counts apart from a rejection.

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

/// Everything that can go wrong reaching, running or configuring an HTTP checker.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckerHttpError {
    /// A checker URL could not be parsed or is not `http://`.
    #[error("invalid checker URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given (truncated).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built (a TLS or resolver backend failed to start).
    #[error("cannot build the HTTP client: {reason}")]
    Client {
        /// The underlying error.
        reason: String,
    },
    /// No connection could be made (nothing listening, connection reset before an
    /// answer), after every retry.
    #[error("cannot reach the checker at {url} after {attempts} attempt(s): {reason}")]
    Connect {
        /// The URL called.
        url: String,
        /// How many times it was tried.
        attempts: u32,
        /// The last connection error.
        reason: String,
    },
    /// The checker did not answer within the per-call timeout.
    #[error("no answer from the checker at {url} within {timeout:?}")]
    Timeout {
        /// The URL called.
        url: String,
        /// The per-call timeout.
        timeout: Duration,
    },
    /// The checker answered with an HTTP status that is not a verdict.
    #[error("the checker at {url} answered HTTP {status}: {body}")]
    Status {
        /// The URL called.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the answer's body, for the operator.
        body: String,
    },
    /// The checker answered 2xx, but not with `{"success": bool}`.
    #[error("the checker at {url} gave a malformed answer: {reason}")]
    BadAnswer {
        /// The URL called.
        url: String,
        /// What is wrong with the answer (and its start).
        reason: String,
    },
    /// A checker process could not be started.
    #[error("cannot start the checker {name} ({command}): {reason}")]
    Spawn {
        /// The checker's name (its contract ID).
        name: String,
        /// The command line.
        command: String,
        /// Why it did not start (with the end of its log, if it wrote one).
        reason: String,
    },
    /// A log directory or file could not be created.
    #[error("cannot write the checker log {path}: {reason}")]
    Log {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// A registry asked for a native checker of a contract that has none.
    #[error("no native checker for contract {contract:?} (native: {known})")]
    UnknownNative {
        /// The contract asked for.
        contract: String,
        /// The native contracts there are, comma-separated.
        known: String,
    },
    /// A managed checker's process is not running (it starts on the first call).
    #[error("the checker {name} is not running")]
    NotRunning {
        /// The checker's name.
        name: String,
    },
    /// The checker was shut down and is not restarted.
    #[error("the checker {name} has been shut down")]
    ShutDown {
        /// The checker's name.
        name: String,
    },
}

impl CheckerHttpError {
    /// The error as the [`Checker`](chainspace_core::checker::Checker) trait reports it:
    /// the checker of `contract` could not answer.
    pub fn into_core(self, contract: &str) -> chainspace_core::Error {
        chainspace_core::Error::Checker { contract: clip(contract, 80), reason: self.to_string() }
    }

    /// Whether nothing was listening or the connection broke before any answer: for a
    /// managed checker, the sign that its process may have died.
    pub fn is_connect(&self) -> bool {
        matches!(self, CheckerHttpError::Connect { .. })
    }
}

/// At most `max` characters of `text`, with an ellipsis if cut: remote answers and
/// client-chosen IDs end up in logs and abort reasons, which must stay small.
pub(crate) fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => format!("{}...", &text[..end]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_text_and_cuts_long_text_on_a_char_boundary() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcd", 3), "abc...");
        assert_eq!(clip("ééé", 2), "éé...");
    }

    #[test]
    fn core_error_names_the_contract_and_the_cause() {
        let e =
            CheckerHttpError::Timeout { url: "http://x/".into(), timeout: Duration::from_secs(1) };
        let core = e.into_core("addition");
        let chainspace_core::Error::Checker { contract, reason } = core else {
            panic!("not a checker error: {core:?}")
        };
        assert_eq!(contract, "addition");
        assert!(reason.contains("within 1s"), "{reason}");
    }
}
