//! What every checker does before its own rules: check the shape of the call (how many
//! inputs, references, parameters, outputs, returns and dependencies its method takes)
//! and read values strictly.
//!
//! A checker is a pure function over untrusted data (Chainspace paper, section 3.2: "the
//! checker ... must be a pure function"): anything in a call may be garbage, so every
//! reader here returns a [`ContractError`] naming the offending place instead of
//! panicking, and object values must be *canonical* JSON
//! ([`chainspace_core::json::to_canonical_string`]) so that one state of an object has
//! exactly one spelling, and every party computes the same value, hence the same ID.

use chainspace_core::checker::{CheckCall, CheckRequest, CheckVerdict};
use chainspace_core::crypto::{PublicKey, Signature};
use chainspace_core::json::to_canonical_string;
use serde_json::{Map, Value};

use crate::error::{ContractError, clip};

/// How many items of one list a method allows.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Count {
    /// Exactly this many.
    Exactly(usize),
    /// This many or more.
    AtLeast(usize),
    /// Between the two bounds, inclusive.
    Between(usize, usize),
}

impl Count {
    fn allows(self, n: usize) -> bool {
        match self {
            Count::Exactly(k) => n == k,
            Count::AtLeast(k) => n >= k,
            Count::Between(lo, hi) => (lo..=hi).contains(&n),
        }
    }

    fn describe(self) -> String {
        match self {
            Count::Exactly(k) => format!("exactly {k}"),
            Count::AtLeast(k) => format!("at least {k}"),
            Count::Between(lo, hi) => format!("between {lo} and {hi}"),
        }
    }
}

/// The shape of one method's calls. Everything defaults to "none", so a method states only
/// what it takes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    method: &'static str,
    inputs: Count,
    references: Count,
    parameters: Count,
    outputs: Count,
    returns: Count,
    /// `None` when the method does not care about nested calls (each dependency is checked
    /// by its own contract anyway).
    dependencies: Option<Count>,
}

impl Shape {
    /// A method that takes nothing, returns nothing and calls no other contract.
    pub(crate) fn method(method: &'static str) -> Self {
        Shape {
            method,
            inputs: Count::Exactly(0),
            references: Count::Exactly(0),
            parameters: Count::Exactly(0),
            outputs: Count::Exactly(0),
            returns: Count::Exactly(0),
            dependencies: Some(Count::Exactly(0)),
        }
    }

    /// How many objects the method consumes.
    pub(crate) fn inputs(self, inputs: Count) -> Self {
        Shape { inputs, ..self }
    }

    /// How many objects the method reads without consuming them.
    pub(crate) fn references(self, references: Count) -> Self {
        Shape { references, ..self }
    }

    /// How many parameters the method takes.
    pub(crate) fn parameters(self, parameters: Count) -> Self {
        Shape { parameters, ..self }
    }

    /// How many objects the method creates.
    pub(crate) fn outputs(self, outputs: Count) -> Self {
        Shape { outputs, ..self }
    }

    /// How many values the method returns.
    pub(crate) fn returns(self, returns: Count) -> Self {
        Shape { returns, ..self }
    }

    /// Let the call carry any nested calls.
    pub(crate) fn any_dependencies(self) -> Self {
        Shape { dependencies: None, ..self }
    }

    /// Check every list of `request` against the shape, inputs first.
    pub(crate) fn check(&self, request: &CheckRequest) -> Result<(), ContractError> {
        let call = &request.call;
        let lists = [
            ("inputs", self.inputs, call.inputs.len()),
            ("reference inputs", self.references, call.reference_inputs.len()),
            ("parameters", self.parameters, call.parameters.len()),
            ("outputs", self.outputs, call.outputs.len()),
            ("returns", self.returns, call.returns.len()),
        ];
        for (what, count, got) in lists {
            if !count.allows(got) {
                return Err(self.wrong(what, count, got));
            }
        }
        match self.dependencies {
            Some(count) if !count.allows(request.dependencies.len()) => {
                Err(self.wrong("dependencies", count, request.dependencies.len()))
            }
            _ => Ok(()),
        }
    }

    fn wrong(&self, what: &'static str, count: Count, got: usize) -> ContractError {
        ContractError::WrongCount { method: self.method, what, expected: count.describe(), got }
    }
}

/// The verdict for the outcome of a checker's validation.
pub(crate) fn verdict(result: Result<(), ContractError>) -> CheckVerdict {
    match result {
        Ok(()) => CheckVerdict::accept(),
        Err(e) => CheckVerdict::reject(e.to_string()),
    }
}

/// Reject a call addressed to another contract.
pub(crate) fn expect_contract(
    call: &CheckCall,
    contract: &'static str,
) -> Result<(), ContractError> {
    if call.contract_id == contract {
        Ok(())
    } else {
        Err(ContractError::WrongContract { expected: contract, got: clip(&call.contract_id) })
    }
}

/// The error for a method the contract does not have.
pub(crate) fn unknown_method(contract: &'static str, call: &CheckCall) -> ContractError {
    ContractError::UnknownMethod { contract, method: clip(&call.method_id) }
}

/// `what` is invalid for `reason`.
pub(crate) fn invalid(what: &str, reason: impl Into<String>) -> ContractError {
    ContractError::InvalidValue { what: what.to_string(), reason: reason.into() }
}

/// Compare output `index` of `call` with the value the method computes.
pub(crate) fn expect_output(
    call: &CheckCall,
    index: usize,
    expected: &str,
) -> Result<(), ContractError> {
    let got = call.outputs.get(index).map(String::as_str).unwrap_or_default();
    if got == expected {
        Ok(())
    } else {
        Err(ContractError::Mismatch {
            what: format!("outputs[{index}]"),
            expected: clip(expected),
            got: clip(got),
        })
    }
}

/// Parse an object value that must be canonical JSON.
pub(crate) fn parse_canonical(text: &str, what: &str) -> Result<Value, ContractError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| invalid(what, format!("not JSON ({e}): {}", clip(text))))?;
    let canonical = to_canonical_string(&value);
    if canonical != text {
        return Err(invalid(
            what,
            format!("not canonical JSON: {} (canonical: {})", clip(text), clip(&canonical)),
        ));
    }
    Ok(value)
}

/// The fields of a JSON object that must have exactly the keys `keys`.
pub(crate) fn fields<'a>(
    value: &'a Value,
    what: &str,
    keys: &[&str],
) -> Result<&'a Map<String, Value>, ContractError> {
    let map = value.as_object().ok_or_else(|| invalid(what, "expected a JSON object"))?;
    if let Some(key) = map.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(invalid(what, format!("unknown key {:?}", clip(key))));
    }
    if let Some(key) = keys.iter().find(|k| !map.contains_key(**k)) {
        return Err(invalid(what, format!("missing key {key:?}")));
    }
    Ok(map)
}

/// Field `key` of `map`, which [`fields`] has checked is there.
pub(crate) fn field<'a>(map: &'a Map<String, Value>, key: &str) -> &'a Value {
    map.get(key).unwrap_or(&Value::Null)
}

/// A JSON integer in `0..2^64`.
pub(crate) fn u64_of(value: &Value, what: &str) -> Result<u64, ContractError> {
    match value {
        Value::Number(n) => n.as_u64().ok_or_else(|| {
            invalid(what, format!("expected an integer in 0..2^64, got {}", clip(&n.to_string())))
        }),
        other => Err(invalid(what, format!("expected an integer, got {}", kind(other)))),
    }
}

/// A JSON string.
pub(crate) fn str_of<'a>(value: &'a Value, what: &str) -> Result<&'a str, ContractError> {
    value.as_str().ok_or_else(|| invalid(what, format!("expected a string, got {}", kind(value))))
}

/// A JSON array.
pub(crate) fn array_of<'a>(value: &'a Value, what: &str) -> Result<&'a [Value], ContractError> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(invalid(what, format!("expected an array, got {}", kind(other)))),
    }
}

/// Exactly `N` bytes written as `2 * N` lower-case hex digits: the only spelling accepted,
/// so that a key or signature cannot be written two ways (which would give one call two
/// transaction IDs).
fn hex_bytes<const N: usize>(value: &Value, what: &str) -> Result<[u8; N], ContractError> {
    let text = str_of(value, what)?;
    let lower_hex = text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let mut out = [0u8; N];
    if text.len() != 2 * N || !lower_hex || hex::decode_to_slice(text, &mut out).is_err() {
        return Err(invalid(
            what,
            format!("expected {} lower-case hex digits, got {:?}", 2 * N, clip(text)),
        ));
    }
    Ok(out)
}

/// An ed25519 public key in lower-case hex.
pub(crate) fn public_key_of(value: &Value, what: &str) -> Result<PublicKey, ContractError> {
    hex_bytes::<32>(value, what).map(PublicKey::from_bytes)
}

/// An ed25519 signature in lower-case hex.
pub(crate) fn signature_of(value: &Value, what: &str) -> Result<Signature, ContractError> {
    hex_bytes::<64>(value, what).map(Signature)
}

/// A public key as contracts write it in values and parameters.
pub fn key_hex(key: &PublicKey) -> String {
    hex::encode(key.as_bytes())
}

/// A signature as contracts write it in parameters.
pub fn signature_hex(signature: &Signature) -> String {
    hex::encode(signature.0)
}

/// The JSON type of `value`, for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn number(text: &str) -> Value {
        serde_json::from_str(text).expect("test JSON")
    }

    #[test]
    fn integers_must_fit_u64_and_be_integers() {
        assert_eq!(u64_of(&number("18446744073709551615"), "x"), Ok(u64::MAX));
        for bad in ["18446744073709551616", "-1", "1.0", "1e3", "123456789012345678901234567890"] {
            assert!(u64_of(&number(bad), "x").is_err(), "{bad}");
        }
        assert!(u64_of(&json!("1"), "x").is_err());
    }

    #[test]
    fn hex_must_be_lower_case_and_exact_length() {
        let key = "ab".repeat(32);
        assert!(public_key_of(&json!(key), "k").is_ok());
        assert!(public_key_of(&json!(key.to_uppercase()), "k").is_err());
        assert!(public_key_of(&json!(&key[2..]), "k").is_err());
        assert!(public_key_of(&json!(format!("{}zz", &key[2..])), "k").is_err());
        assert!(public_key_of(&json!("é".repeat(32)), "k").is_err());
        assert!(signature_of(&json!(key), "s").is_err());
        assert!(signature_of(&json!("00".repeat(64)), "s").is_ok());
    }

    #[test]
    fn values_must_be_canonical() {
        assert!(parse_canonical(r#"{"a":1,"b":[]}"#, "v").is_ok());
        assert!(parse_canonical(r#"{"b":[],"a":1}"#, "v").is_err());
        assert!(parse_canonical(r#"{"a": 1}"#, "v").is_err());
        assert!(parse_canonical("{", "v").is_err());
        assert!(parse_canonical(&"[".repeat(10_000), "v").is_err());
    }

    #[test]
    fn fields_must_be_exactly_the_keys() {
        let v = json!({"a": 1, "b": 2});
        assert!(fields(&v, "v", &["a", "b"]).is_ok());
        let err = fields(&v, "v", &["a"]).expect_err("extra key");
        assert!(err.to_string().contains("unknown key \"b\""), "{err}");
        let err = fields(&v, "v", &["a", "b", "c"]).expect_err("missing key");
        assert!(err.to_string().contains("missing key \"c\""), "{err}");
        assert!(fields(&json!([]), "v", &[]).is_err());
    }
}
