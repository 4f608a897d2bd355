//! Native Chainspace contracts, written in Rust after the original Python
//! `chainspacecontract` framework (Chainspace paper, section 3.2: "contracts",
//! "checkers").
//!
//! A contract has two halves, as in the original:
//!
//! * **methods** run on the client (the Python `@contract.method`): from the objects a call
//!   consumes or reads and its arguments, they compute the outputs and build the
//!   [`Transaction`](chainspace_core::transaction::Transaction) to submit;
//! * a **checker** runs on every replica of every concerned shard (the Python
//!   `@contract.checker`): a pure, deterministic function of the call (input and reference
//!   *values*, parameters, outputs, returns, dependencies) that accepts or rejects it,
//!   with a reason.
//!
//! The contracts here are [`addition`] (the original example, with the DESIGN.md ID test
//! vectors), [`bank`] (signed transfers between accounts), [`dummy`] (the paper's benchmark
//! contract, section 6) and [`vote`] (signed, one-per-voter ballots with a public tally).
//!
//! Checkers are *synchronous* ([`NativeContract`]) because the deterministic simulator
//! calls them inline, on virtual time, without an async runtime; [`Native`] adapts one to
//! the async [`Checker`] trait that replicas use for any checker (native or HTTP), and
//! [`registry`] registers all four.
//!
//! A checker only sees object *values*, never IDs (that is the checker-call format of the
//! original, DESIGN.md "Checker call"). So where a signature must be bound to the objects it
//! authorises, it signs their exact values, and every value that can be signed carries a
//! field that never repeats along the object's history (a bank account's `nonce`, an
//! election's list of voters who voted): a value therefore names one state of one object,
//! and a signature cannot be replayed onto a later state or onto other objects.
#![deny(missing_docs)]

use std::sync::Arc;

use async_trait::async_trait;
use chainspace_core::Error;
use chainspace_core::checker::{CheckRequest, CheckVerdict, Checker, CheckerRegistry};

pub mod addition;
pub mod bank;
mod call;
pub mod dummy;
pub mod error;
pub mod vote;

#[cfg(test)]
mod testutil;

pub use call::{key_hex, signature_hex};
pub use error::ContractError;

/// A contract whose checker runs in-process. Synchronous and deterministic, so the
/// simulator can call it directly and every replica reaches the same verdict.
pub trait NativeContract: Send + Sync {
    /// The contract ID calls name (`contractID`), which the registry routes by.
    fn id(&self) -> &'static str;

    /// Decide whether `request` is a valid call of this contract. Never panics: any value
    /// in the request may come from a Byzantine client.
    fn check(&self, request: &CheckRequest) -> CheckVerdict;
}

impl<T: NativeContract + ?Sized> NativeContract for Arc<T> {
    fn id(&self) -> &'static str {
        (**self).id()
    }

    fn check(&self, request: &CheckRequest) -> CheckVerdict {
        (**self).check(request)
    }
}

/// A [`NativeContract`] seen as an async [`Checker`], so replicas can mix native and HTTP
/// checkers in one [`CheckerRegistry`]. The future is ready at once: a native check never
/// waits.
#[derive(Clone, Copy, Debug, Default)]
pub struct Native<T>(pub T);

#[async_trait]
impl<T: NativeContract> Checker for Native<T> {
    async fn check(&self, request: &CheckRequest) -> Result<CheckVerdict, Error> {
        Ok(self.0.check(request))
    }
}

/// Every native contract, sorted by ID.
pub fn all() -> Vec<Arc<dyn NativeContract>> {
    vec![
        Arc::new(addition::Addition),
        Arc::new(bank::Bank),
        Arc::new(dummy::Dummy),
        Arc::new(vote::Vote),
    ]
}

/// The native contract with ID `id`, if there is one.
pub fn native(id: &str) -> Option<Arc<dyn NativeContract>> {
    all().into_iter().find(|c| c.id() == id)
}

/// A registry with every native contract, each under its ID.
pub fn registry() -> CheckerRegistry {
    let mut registry = CheckerRegistry::new();
    for contract in all() {
        registry.register(contract.id(), Arc::new(Native(contract)));
    }
    registry
}

#[cfg(test)]
mod tests;
