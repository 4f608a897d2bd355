//! Building a [`CheckerRegistry`] where each contract's checker is native, a managed
//! process, or a service at a URL: the choice is per run and per contract (a
//! configuration matter), so one cluster can compare a Python checker against the Rust
//! one, or use a contract that only exists in Python.

use std::collections::BTreeMap;
use std::sync::Arc;

use chainspace_contracts::Native;
use chainspace_core::checker::CheckerRegistry;

use crate::error::CheckerHttpError;
use crate::http::{HttpChecker, HttpConfig};
use crate::managed::{ManagedChecker, ManagedConfig};

/// Where the checker of one contract comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckerChoice {
    /// The Rust checker of `chainspace_contracts` with that contract ID.
    Native,
    /// A checker process this replica starts, restarts and stops itself.
    Managed(Box<ManagedConfig>),
    /// A checker service run by someone else, at this base URL (`http://host:port`).
    Url(String),
}

/// A registry and the managed checkers in it, so that their processes can be started
/// eagerly and stopped on shutdown (dropping the last reference also stops them).
#[derive(Clone, Debug, Default)]
pub struct Checkers {
    /// Every contract's checker.
    pub registry: CheckerRegistry,
    /// The managed ones, by contract ID.
    pub managed: BTreeMap<String, Arc<ManagedChecker>>,
}

impl Checkers {
    /// Start every managed process now rather than on its first call, so a broken
    /// command shows at startup.
    pub async fn start_all(&self) -> Result<(), CheckerHttpError> {
        for checker in self.managed.values() {
            checker.start().await?;
        }
        Ok(())
    }

    /// Stop every managed process and wait for each.
    pub async fn shutdown_all(&self) {
        for checker in self.managed.values() {
            checker.shutdown().await;
        }
    }
}

/// The registry of `choices` (contract ID, choice), HTTP checkers using the default
/// [`HttpConfig`].
pub fn registry(
    choices: impl IntoIterator<Item = (String, CheckerChoice)>,
) -> Result<CheckerRegistry, CheckerHttpError> {
    Ok(build(choices, &HttpConfig::default())?.registry)
}

/// The checkers of `choices` (contract ID, choice). `Url` checkers use `http`; managed
/// ones their own [`ManagedConfig::http`]; all share one connection pool. Fails on a
/// native choice for a contract without a native checker, or an invalid URL; nothing
/// is started yet.
pub fn build(
    choices: impl IntoIterator<Item = (String, CheckerChoice)>,
    http: &HttpConfig,
) -> Result<Checkers, CheckerHttpError> {
    let client = http.client()?;
    let mut checkers = Checkers::default();
    for (contract, choice) in choices {
        match choice {
            CheckerChoice::Native => {
                let native = chainspace_contracts::native(&contract).ok_or_else(|| {
                    let known: Vec<_> =
                        chainspace_contracts::all().iter().map(|c| c.id()).collect();
                    CheckerHttpError::UnknownNative {
                        contract: contract.clone(),
                        known: known.join(", "),
                    }
                })?;
                checkers.registry.register(contract, Arc::new(Native(native)));
            }
            CheckerChoice::Managed(config) => {
                let checker = Arc::new(ManagedChecker::with_client(client.clone(), *config));
                checkers.managed.insert(contract.clone(), checker.clone());
                checkers.registry.register(contract, checker);
            }
            CheckerChoice::Url(url) => {
                let checker = HttpChecker::with_client(client.clone(), &url, http.clone())?;
                checkers.registry.register(contract, Arc::new(checker));
            }
        }
    }
    Ok(checkers)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn choices_become_checkers_and_bad_choices_are_errors() {
        let managed = ManagedConfig::python(Path::new("/repo"), "vote", "/tmp/logs");
        let checkers = build(
            [
                ("addition".to_string(), CheckerChoice::Native),
                ("vote".to_string(), CheckerChoice::Managed(Box::new(managed))),
                ("bank".to_string(), CheckerChoice::Url("http://127.0.0.1:5002".into())),
            ],
            &HttpConfig::default(),
        )
        .expect("valid choices");
        assert_eq!(checkers.registry.contracts().collect::<Vec<_>>(), ["addition", "bank", "vote"]);
        assert_eq!(checkers.managed.keys().collect::<Vec<_>>(), ["vote"]);

        let e =
            registry([("nope".to_string(), CheckerChoice::Native)]).expect_err("no native nope");
        assert!(e.to_string().contains("addition"), "{e}");
        let e = registry([("x".to_string(), CheckerChoice::Url("ftp://h".into()))])
            .expect_err("not http");
        assert!(matches!(e, CheckerHttpError::InvalidUrl { .. }), "{e}");
    }
}
