//! `addition`: the original prototype's first example contract, a counter.
//!
//! `init` creates a counter whose value is `"0"`; `increment` consumes a counter `n` and
//! creates `n + 1`. Values are the integer's decimal text, exactly as the Python framework
//! writes `json.dumps(0)`, so these calls reproduce the DESIGN.md test vectors (transaction
//! `f0f110bd...` creating object `a9bde7fa...`, then `f7f147b2...` creating `404d5c43...`).
//!
//! Counters are unsigned 64-bit integers: the contract only counts up from zero, and an
//! increment that would pass `u64::MAX` is rejected rather than wrapped.

use chainspace_core::checker::{CheckRequest, CheckVerdict};
use chainspace_core::object::Object;
use chainspace_core::transaction::Transaction;

use crate::NativeContract;
use crate::call::{Count, Shape, expect_contract, expect_output, invalid, unknown_method, verdict};
use crate::error::{ContractError, clip};

/// The contract ID.
pub const CONTRACT_ID: &str = "addition";
/// The method creating a counter at zero.
pub const INIT: &str = "init";
/// The method adding one to a counter.
pub const INCREMENT: &str = "increment";

/// The `addition` contract as a [`NativeContract`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Addition;

impl NativeContract for Addition {
    fn id(&self) -> &'static str {
        CONTRACT_ID
    }

    fn check(&self, request: &CheckRequest) -> CheckVerdict {
        check(request)
    }
}

/// `init()`: no inputs, one output `"0"`. Every `init` is the same transaction, hence
/// creates the same object, as in the original.
pub fn init() -> Transaction {
    Transaction {
        contract_id: CONTRACT_ID.into(),
        method_id: INIT.into(),
        input_ids: vec![],
        reference_input_ids: vec![],
        parameters: vec![],
        outputs: vec!["0".into()],
        returns: vec![],
        dependencies: vec![],
    }
}

/// `increment(counter)`: consume `counter` (value `n`) and create `n + 1`. Fails if the
/// value is not a counter or is `u64::MAX`.
pub fn increment(counter: &Object) -> Result<Transaction, ContractError> {
    let next = incremented(parse_counter(&counter.value, "counter")?)?;
    Ok(Transaction {
        contract_id: CONTRACT_ID.into(),
        method_id: INCREMENT.into(),
        input_ids: vec![counter.id],
        reference_input_ids: vec![],
        parameters: vec![],
        outputs: vec![next.to_string()],
        returns: vec![],
        dependencies: vec![],
    })
}

/// The checker: accept `request` if it is exactly a call `init` or `increment` makes.
pub fn check(request: &CheckRequest) -> CheckVerdict {
    verdict(validate(request))
}

/// [`check`], with the broken rule as a structured error.
pub fn validate(request: &CheckRequest) -> Result<(), ContractError> {
    let call = &request.call;
    expect_contract(call, CONTRACT_ID)?;
    match call.method_id.as_str() {
        INIT => {
            Shape::method(INIT).outputs(Count::Exactly(1)).check(request)?;
            expect_output(call, 0, "0")
        }
        INCREMENT => {
            Shape::method(INCREMENT)
                .inputs(Count::Exactly(1))
                .outputs(Count::Exactly(1))
                .check(request)?;
            let n = parse_counter(&call.inputs[0], "inputs[0]")?;
            expect_output(call, 0, &incremented(n)?.to_string())
        }
        _ => Err(unknown_method(CONTRACT_ID, call)),
    }
}

/// `n + 1`, or an error at `u64::MAX`.
fn incremented(n: u64) -> Result<u64, ContractError> {
    n.checked_add(1).ok_or_else(|| ContractError::Overflow { what: "counter + 1".into() })
}

/// A counter value: the decimal text of an integer in `0..2^64`, written as Python's
/// `json.dumps` writes it (no sign, no leading zeros, no spaces), so that one count has
/// one value.
pub fn parse_counter(value: &str, what: &str) -> Result<u64, ContractError> {
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    if !digits || (value.len() > 1 && value.starts_with('0')) {
        return Err(invalid(
            what,
            format!("expected a non-negative integer in canonical form, got {:?}", clip(value)),
        ));
    }
    value.parse::<u64>().map_err(|_| ContractError::Overflow { what: what.to_string() })
}

#[cfg(test)]
mod tests;
