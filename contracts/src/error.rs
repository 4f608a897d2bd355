//! The error type of the contracts crate.
//!
//! One enum serves both sides of a contract: a method builder returns it when the objects
//! or arguments it is given cannot make a valid call, and a checker turns it into the
//! `reason` of a rejecting [`chainspace_core::checker::CheckVerdict`], which ends up in the
//! `prepared_t_abort` outcome the submitter sees. Variants are structured so tests can
//! match the exact rule that was broken; text that comes from the call (values, method
//! names) is clipped so a hostile call cannot make a reason arbitrarily long.

use thiserror::Error;

/// Why a call is invalid, or why a method cannot build one.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContractError {
    /// The call names another contract (a registry routed it wrongly, or a simulator
    /// called the wrong checker).
    #[error("call is for contract {got:?}, not {expected:?}")]
    WrongContract {
        /// The contract whose checker was asked.
        expected: &'static str,
        /// The contract the call names (clipped).
        got: String,
    },
    /// The contract has no such method.
    #[error("contract {contract:?} has no method {method:?}")]
    UnknownMethod {
        /// The contract asked.
        contract: &'static str,
        /// The method the call names (clipped).
        method: String,
    },
    /// A list of the call has the wrong length for its method.
    #[error("{method}: expected {expected} {what}, got {got}")]
    WrongCount {
        /// The method called.
        method: &'static str,
        /// Which list: `inputs`, `reference inputs`, `parameters`, `outputs`, `returns`,
        /// `dependencies`.
        what: &'static str,
        /// What the method allows, e.g. `exactly 2` or `at least 1`.
        expected: String,
        /// How many the call has.
        got: usize,
    },
    /// A value (object value, parameter, return) does not parse or has the wrong shape.
    #[error("{what} is invalid: {reason}")]
    InvalidValue {
        /// Where the value is, e.g. `inputs[0]` or `parameters[1] (amount)`.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Arithmetic the method needs would leave the 64-bit range.
    #[error("{what} overflows a 64-bit integer")]
    Overflow {
        /// The quantity that overflows.
        what: String,
    },
    /// A value differs from the one the method computes (a tampered output or return).
    #[error("{what} is {got}, expected {expected}")]
    Mismatch {
        /// Where the value is, e.g. `outputs[0]`.
        what: String,
        /// What the method computes (clipped).
        expected: String,
        /// What the call holds (clipped).
        got: String,
    },
    /// A transfer would leave a negative balance.
    #[error("insufficient funds: balance {balance} is less than amount {amount}")]
    InsufficientFunds {
        /// The paying account's balance.
        balance: u64,
        /// The amount to transfer.
        amount: u64,
    },
    /// A signature does not verify for the key, domain and message the method requires.
    #[error("invalid signature: {what}")]
    BadSignature {
        /// Whose signature, over what.
        what: String,
    },
    /// A voter who is not on the election's list tried to vote.
    #[error("voter {voter} is not allowed to vote in this election")]
    UnknownVoter {
        /// The voter's public key in hex.
        voter: String,
    },
    /// A voter tried to vote a second time.
    #[error("voter {voter} has already voted")]
    AlreadyVoted {
        /// The voter's public key in hex.
        voter: String,
    },
    /// A vote names an option the election does not have.
    #[error("option {index} is out of range: the election has {count} options")]
    OptionOutOfRange {
        /// The option index given.
        index: u64,
        /// How many options there are.
        count: usize,
    },
}

/// At most 80 characters of `s`, for error messages about values from a call.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_text_and_cuts_long_text() {
        assert_eq!(clip("abc"), "abc");
        let long = "é".repeat(200);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), 83);
        assert!(clipped.ends_with("..."));
    }

    #[test]
    fn messages_name_the_broken_rule() {
        let e = ContractError::WrongCount {
            method: "transfer",
            what: "inputs",
            expected: "exactly 2".into(),
            got: 1,
        };
        assert_eq!(e.to_string(), "transfer: expected exactly 2 inputs, got 1");
        let e = ContractError::InsufficientFunds { balance: 3, amount: 5 };
        assert_eq!(e.to_string(), "insufficient funds: balance 3 is less than amount 5");
    }
}
