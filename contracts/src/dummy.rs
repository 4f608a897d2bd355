//! `dummy`: the benchmark contract of the Chainspace paper's evaluation (section 6), whose
//! checker does no work of its own, so measurements show the cost of the platform (S-BAC
//! and consensus) rather than of a contract.
//!
//! * `create(label, n)`: no inputs, parameters `[label]`, `n >= 1` outputs, output `i`
//!   being the canonical JSON `{"dummy": label, "index": i}`. The label is the caller's
//!   nonce: two `create` calls with one label and one `n` are the same transaction, hence
//!   create the same objects, so a workload gives each call its own label.
//! * `consume(inputs, with_output)`: `k >= 1` dummy objects consumed, no parameters, and
//!   zero outputs or one, `{"dummy": "consumed", "index": 0}` (its ID is still unique: it
//!   derives from the transaction, which names the inputs). The paper's workloads vary `k`
//!   and whether the call creates an object.
//!
//! The checker accepts any call of these shapes, with any dependencies (each is checked by
//! its own contract, so a benchmark can measure nested calls with `dummy` as the parent).
//! It does insist that consumed objects are dummy objects: a contract that consumed any
//! object would let anyone destroy other contracts' objects (say, bank accounts), and that
//! its outputs are exactly the values above, so a dummy object can never pass for an
//! object of another contract.

use chainspace_core::checker::{CheckRequest, CheckVerdict};
use chainspace_core::json::to_canonical_string;
use chainspace_core::object::Object;
use chainspace_core::transaction::Transaction;
use serde_json::json;

use crate::NativeContract;
use crate::call::{
    Count, Shape, expect_contract, expect_output, field, fields, parse_canonical, str_of, u64_of,
    unknown_method, verdict,
};
use crate::error::ContractError;

/// The contract ID.
pub const CONTRACT_ID: &str = "dummy";
/// The method creating dummy objects.
pub const CREATE: &str = "create";
/// The method consuming dummy objects.
pub const CONSUME: &str = "consume";
/// The label of the object `consume` creates.
pub const CONSUMED_LABEL: &str = "consumed";

/// The `dummy` contract as a [`NativeContract`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Dummy;

impl NativeContract for Dummy {
    fn id(&self) -> &'static str {
        CONTRACT_ID
    }

    fn check(&self, request: &CheckRequest) -> CheckVerdict {
        check(request)
    }
}

/// The value of dummy object `index` created under `label`.
pub fn object_value(label: &str, index: u64) -> String {
    to_canonical_string(&json!({"dummy": label, "index": index}))
}

/// `create(label, n)`: no inputs, parameters `[label]`, `n` outputs. The checker rejects
/// `n == 0`, which would create nothing.
pub fn create(label: &str, n: usize) -> Transaction {
    Transaction {
        contract_id: CONTRACT_ID.into(),
        method_id: CREATE.into(),
        input_ids: vec![],
        reference_input_ids: vec![],
        parameters: vec![json!(label)],
        outputs: (0..n as u64).map(|i| object_value(label, i)).collect(),
        returns: vec![],
        dependencies: vec![],
    }
}

/// `consume(inputs, with_output)`: consume every object of `inputs` (the checker wants at
/// least one, each a dummy object) and create one object if `with_output`.
pub fn consume(inputs: &[Object], with_output: bool) -> Transaction {
    Transaction {
        contract_id: CONTRACT_ID.into(),
        method_id: CONSUME.into(),
        input_ids: inputs.iter().map(|o| o.id).collect(),
        reference_input_ids: vec![],
        parameters: vec![],
        outputs: if with_output { vec![object_value(CONSUMED_LABEL, 0)] } else { vec![] },
        returns: vec![],
        dependencies: vec![],
    }
}

/// The checker: accept `request` if it has the shape of a `create` or `consume` call.
pub fn check(request: &CheckRequest) -> CheckVerdict {
    verdict(validate(request))
}

/// [`check`], with the broken rule as a structured error.
pub fn validate(request: &CheckRequest) -> Result<(), ContractError> {
    let call = &request.call;
    expect_contract(call, CONTRACT_ID)?;
    match call.method_id.as_str() {
        CREATE => {
            Shape::method(CREATE)
                .parameters(Count::Exactly(1))
                .outputs(Count::AtLeast(1))
                .any_dependencies()
                .check(request)?;
            let label = str_of(&call.parameters[0], "parameters[0] (label)")?;
            for index in 0..call.outputs.len() {
                expect_output(call, index, &object_value(label, index as u64))?;
            }
            Ok(())
        }
        CONSUME => {
            Shape::method(CONSUME)
                .inputs(Count::AtLeast(1))
                .outputs(Count::Between(0, 1))
                .any_dependencies()
                .check(request)?;
            for (i, input) in call.inputs.iter().enumerate() {
                parse_object(input, &format!("inputs[{i}]"))?;
            }
            if !call.outputs.is_empty() {
                expect_output(call, 0, &object_value(CONSUMED_LABEL, 0))?;
            }
            Ok(())
        }
        _ => Err(unknown_method(CONTRACT_ID, call)),
    }
}

/// Read a dummy object's value: its label and index.
pub fn parse_object(value: &str, what: &str) -> Result<(String, u64), ContractError> {
    let parsed = parse_canonical(value, what)?;
    let map = fields(&parsed, what, &["dummy", "index"])?;
    let label = str_of(field(map, "dummy"), &format!("{what}.dummy"))?;
    let index = u64_of(field(map, "index"), &format!("{what}.index"))?;
    Ok((label.to_string(), index))
}

#[cfg(test)]
mod tests;
