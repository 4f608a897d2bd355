//! Contract checkers: the pure functions that decide whether a transaction is valid
//! (Chainspace paper, section 3.2: "checkers").
//!
//! A checker sees the call as the original Java node sent it to the Python checker
//! services (DESIGN.md, "Checker call"): input and reference *values* rather than IDs,
//! parameters, outputs, returns, and each dependency inlined the same way without a
//! `dependencies` key of its own. The original always sent `[]` for dependencies, so
//! nested calls never passed; here they are sent properly, and each dependency is also
//! checked on its own by its own contract ([`CheckRequest::for_all_calls`]).
//!
//! The trait is async and object-safe because a checker may be a remote HTTP service,
//! chosen per run by configuration; replicas ask for checks as effects so that a slow
//! checker never blocks ordering.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::Error;
use crate::object::ObjectId;
use crate::transaction::Transaction;

/// One contract call with its objects resolved to their values: the checker-call body
/// without `dependencies`, which is how a dependency appears inside its parent's call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckCall {
    /// The contract called (`contractID`).
    pub contract_id: String,
    /// The method called (`methodID`).
    pub method_id: String,
    /// The values of the consumed objects, in `inputIDs` order (`inputs`).
    pub inputs: Vec<String>,
    /// The values of the read objects, in `referenceInputIDs` order (`referenceInputs`).
    pub reference_inputs: Vec<String>,
    /// The call's arguments (`parameters`).
    pub parameters: Vec<Value>,
    /// The values of the objects the call creates (`outputs`).
    pub outputs: Vec<String>,
    /// What the call returns (`returns`).
    pub returns: Vec<Value>,
}

impl CheckCall {
    /// Resolve the objects of one call (ignoring its dependencies) with `lookup`, which
    /// gives the value of an object the replica holds or has verified.
    pub fn resolve(
        tx: &Transaction,
        lookup: &dyn Fn(&ObjectId) -> Option<String>,
    ) -> Result<CheckCall, Error> {
        let values = |ids: &[ObjectId]| -> Result<Vec<String>, Error> {
            ids.iter()
                .map(|id| lookup(id).ok_or_else(|| Error::ObjectNotFound { id: id.to_hex() }))
                .collect()
        };
        Ok(CheckCall {
            contract_id: tx.contract_id.clone(),
            method_id: tx.method_id.clone(),
            inputs: values(&tx.input_ids)?,
            reference_inputs: values(&tx.reference_input_ids)?,
            parameters: tx.parameters.clone(),
            outputs: tx.outputs.clone(),
            returns: tx.returns.clone(),
        })
    }

    /// The call as a JSON object with the seven keys of a nested call.
    pub fn to_json(&self) -> Value {
        let strings = |v: &[String]| Value::Array(v.iter().cloned().map(Value::String).collect());
        let mut m = Map::new();
        m.insert("contractID".into(), Value::String(self.contract_id.clone()));
        m.insert("methodID".into(), Value::String(self.method_id.clone()));
        m.insert("inputs".into(), strings(&self.inputs));
        m.insert("referenceInputs".into(), strings(&self.reference_inputs));
        m.insert("parameters".into(), Value::Array(self.parameters.clone()));
        m.insert("outputs".into(), strings(&self.outputs));
        m.insert("returns".into(), Value::Array(self.returns.clone()));
        Value::Object(m)
    }
}

/// What a checker is asked: one call and its direct dependencies, each inlined as a
/// [`CheckCall`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckRequest {
    /// The call to check.
    pub call: CheckCall,
    /// Its direct dependencies, resolved the same way (their own dependencies are checked
    /// when each dependency is checked as a call of its own).
    pub dependencies: Vec<CheckCall>,
}

impl CheckRequest {
    /// The request for the top-level call of `tx`, objects resolved with `lookup`. An
    /// object `lookup` does not know is [`Error::ObjectNotFound`].
    pub fn from_transaction(
        tx: &Transaction,
        lookup: &dyn Fn(&ObjectId) -> Option<String>,
    ) -> Result<CheckRequest, Error> {
        Ok(CheckRequest {
            call: CheckCall::resolve(tx, lookup)?,
            dependencies: tx
                .dependencies
                .iter()
                .map(|dep| CheckCall::resolve(dep, lookup))
                .collect::<Result<_, _>>()?,
        })
    }

    /// One request per call of `tx` (the top level first, then every dependency, depth
    /// first): all must be accepted for `tx` to commit.
    pub fn for_all_calls(
        tx: &Transaction,
        lookup: &dyn Fn(&ObjectId) -> Option<String>,
    ) -> Result<Vec<CheckRequest>, Error> {
        tx.calls().into_iter().map(|call| Self::from_transaction(call, lookup)).collect()
    }

    /// The exact JSON body of the checker call
    /// `POST http://host:port/<contractID>/<methodID>`.
    pub fn to_json(&self) -> Value {
        let mut body = self.call.to_json();
        if let Value::Object(m) = &mut body {
            let deps = self.dependencies.iter().map(CheckCall::to_json).collect();
            m.insert("dependencies".into(), Value::Array(deps));
        }
        body
    }
}

/// A checker's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckVerdict {
    /// Whether the contract accepts the call (`{"success": true}`).
    pub accepted: bool,
    /// Why not, when the checker says; it ends up in the `prepared_t_abort` outcome.
    pub reason: Option<String>,
}

impl CheckVerdict {
    /// The call is valid.
    pub fn accept() -> Self {
        CheckVerdict { accepted: true, reason: None }
    }

    /// The call is invalid, for `reason`.
    pub fn reject(reason: impl Into<String>) -> Self {
        CheckVerdict { accepted: false, reason: Some(reason.into()) }
    }
}

/// Decides whether contract calls are valid. `Err` means the checker could not answer
/// (unreachable, malformed reply), which is not the same as rejecting the call.
#[async_trait]
pub trait Checker: Send + Sync {
    /// Check one call.
    async fn check(&self, call: &CheckRequest) -> Result<CheckVerdict, Error>;
}

/// The checkers of a run, by contract ID. A call to a contract nobody registered is an
/// error ([`Error::UnknownContract`]), never an acceptance.
#[derive(Clone, Default)]
pub struct CheckerRegistry {
    checkers: BTreeMap<String, Arc<dyn Checker>>,
}

impl CheckerRegistry {
    /// A registry with no contract.
    pub fn new() -> Self {
        Self::default()
    }

    /// Route calls to `contract` to `checker`, replacing any earlier checker for it.
    pub fn register(&mut self, contract: impl Into<String>, checker: Arc<dyn Checker>) {
        self.checkers.insert(contract.into(), checker);
    }

    /// The checker of `contract`.
    pub fn get(&self, contract: &str) -> Result<&Arc<dyn Checker>, Error> {
        self.checkers
            .get(contract)
            .ok_or_else(|| Error::UnknownContract { contract: contract.chars().take(80).collect() })
    }

    /// The registered contract IDs, sorted.
    pub fn contracts(&self) -> impl Iterator<Item = &str> {
        self.checkers.keys().map(String::as_str)
    }

    /// Check `call` with the checker of its contract.
    pub async fn check(&self, call: &CheckRequest) -> Result<CheckVerdict, Error> {
        self.get(&call.call.contract_id)?.check(call).await
    }
}

impl fmt::Debug for CheckerRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckerRegistry").field("contracts", &self.checkers.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    /// Poll a future that never waits to completion, without an async runtime.
    fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    fn id(n: u8) -> ObjectId {
        ObjectId(crate::crypto::sha256(&[n]))
    }

    fn lookup(obj: &ObjectId) -> Option<String> {
        (0..4u8).find(|n| id(*n) == *obj).map(|n| format!("value{n}"))
    }

    fn tx(contract: &str, inputs: &[u8], refs: &[u8], deps: Vec<Transaction>) -> Transaction {
        Transaction {
            contract_id: contract.into(),
            method_id: "m".into(),
            input_ids: inputs.iter().map(|n| id(*n)).collect(),
            reference_input_ids: refs.iter().map(|n| id(*n)).collect(),
            parameters: vec![json!(1)],
            outputs: vec!["out".into()],
            returns: vec![json!("r")],
            dependencies: deps,
        }
    }

    #[test]
    fn request_body_has_the_original_shape_with_values_and_inlined_dependencies() {
        let nested = tx("inner", &[3], &[], vec![]);
        let dep = tx("dep", &[2], &[], vec![nested]);
        let top = tx("top", &[0], &[1], vec![dep]);
        let body = CheckRequest::from_transaction(&top, &lookup).expect("resolvable").to_json();
        let call = |c: &str, i: Vec<&str>, r: Vec<&str>| {
            json!({"contractID": c, "methodID": "m", "inputs": i, "referenceInputs": r,
                   "parameters": [1], "outputs": ["out"], "returns": ["r"]})
        };
        let mut expected = call("top", vec!["value0"], vec!["value1"]);
        expected["dependencies"] = json!([call("dep", vec!["value2"], vec![])]);
        assert_eq!(body, expected);

        let all = CheckRequest::for_all_calls(&top, &lookup).expect("resolvable");
        let contracts: Vec<&str> = all.iter().map(|r| r.call.contract_id.as_str()).collect();
        assert_eq!(contracts, ["top", "dep", "inner"]);
        assert_eq!(all[1].dependencies[0].inputs, ["value3"]);
    }

    #[test]
    fn unknown_objects_are_an_error() {
        let top = tx("top", &[0, 9], &[], vec![]);
        let err = CheckRequest::from_transaction(&top, &lookup).expect_err("object 9 unknown");
        assert_eq!(err, Error::ObjectNotFound { id: id(9).to_hex() });
    }

    struct AcceptIfInputs;

    #[async_trait]
    impl Checker for AcceptIfInputs {
        async fn check(&self, call: &CheckRequest) -> Result<CheckVerdict, Error> {
            Ok(if call.call.inputs.is_empty() {
                CheckVerdict::reject("no inputs")
            } else {
                CheckVerdict::accept()
            })
        }
    }

    #[test]
    fn registry_routes_by_contract_and_rejects_unknown_contracts() {
        let mut registry = CheckerRegistry::new();
        registry.register("top", Arc::new(AcceptIfInputs));
        assert_eq!(registry.contracts().collect::<Vec<_>>(), ["top"]);
        let ok = CheckRequest::from_transaction(&tx("top", &[0], &[], vec![]), &lookup);
        let verdict = block_on(registry.check(&ok.expect("resolvable"))).expect("checked");
        assert_eq!(verdict, CheckVerdict::accept());
        let no = CheckRequest::from_transaction(&tx("top", &[], &[], vec![]), &lookup);
        let verdict = block_on(registry.check(&no.expect("resolvable"))).expect("checked");
        assert_eq!(verdict.reason.as_deref(), Some("no inputs"));
        let other = CheckRequest::from_transaction(&tx("other", &[], &[], vec![]), &lookup);
        let err = block_on(registry.check(&other.expect("resolvable"))).expect_err("unknown");
        assert_eq!(err, Error::UnknownContract { contract: "other".into() });
        assert!(format!("{registry:?}").contains("top"));
    }
}
