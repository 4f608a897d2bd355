use super::*;
use crate::testutil::{Ledger, assert_accepted, assert_rejected};
use serde_json::json;

const INIT_TX: &str = "f0f110bd77f6b3603c8386b02a866dbc10d26b2ae75c371fe268dc20ee3a57ff";
const ZERO: &str = "a9bde7fac83d70a4c6811d74d3cb218abc6c0f69e0dc5a77f0097be61faf79c7";
const INCREMENT_TX: &str = "f7f147b2c2e6506e1e26b0b3186de9e859c7db60efcc3c80dfe9e312ae26cfcd";
const ONE: &str = "404d5c43cf0f34857b65405cb2cdcf015cbe792ee0327157f1cd66ea8b340411";

/// A ledger holding the counter `init` creates, and that counter.
fn zero() -> (Ledger, Object) {
    let mut ledger = Ledger::default();
    let created = ledger.commit(&init());
    (ledger, created[0].clone())
}

#[test]
fn methods_reproduce_the_design_vectors() {
    let tx = init();
    assert_eq!(tx.digest().to_hex(), INIT_TX);
    let zero = &tx.created_objects()[0];
    assert_eq!(zero.id.to_hex(), ZERO);
    assert_eq!(zero.value, "0");

    let tx = increment(zero).expect("0 is a counter");
    assert_eq!(tx.digest().to_hex(), INCREMENT_TX);
    let one = &tx.created_objects()[0];
    assert_eq!(one.id.to_hex(), ONE);
    assert_eq!(one.value, "1");
}

#[test]
fn valid_calls_are_accepted() {
    let (mut ledger, zero) = zero();
    assert_accepted(check(&ledger.request(&init())));
    let tx = increment(&zero).expect("counter");
    assert_accepted(check(&ledger.request(&tx)));
    let one = ledger.commit(&tx).remove(0);
    let tx = increment(&one).expect("counter");
    assert_eq!(tx.outputs, ["2"]);
    assert_accepted(check(&ledger.request(&tx)));
    assert_accepted(Addition.check(&ledger.request(&tx)));
}

#[test]
fn init_must_create_exactly_zero() {
    let (ledger, zero) = zero();
    let tampered = Transaction { outputs: vec!["1".into()], ..init() };
    assert_rejected(check(&ledger.request(&tampered)), "outputs[0] is 1, expected 0");
    let two = Transaction { outputs: vec!["0".into(), "0".into()], ..init() };
    assert_rejected(check(&ledger.request(&two)), "init: expected exactly 1 outputs, got 2");
    let with_input = Transaction { input_ids: vec![zero.id], ..init() };
    assert_rejected(check(&ledger.request(&with_input)), "expected exactly 0 inputs, got 1");
    let with_param = Transaction { parameters: vec![json!(1)], ..init() };
    assert_rejected(check(&ledger.request(&with_param)), "exactly 0 parameters, got 1");
    let with_return = Transaction { returns: vec![json!(0)], ..init() };
    assert_rejected(check(&ledger.request(&with_return)), "exactly 0 returns, got 1");
    let with_ref = Transaction { reference_input_ids: vec![zero.id], ..init() };
    assert_rejected(check(&ledger.request(&with_ref)), "exactly 0 reference inputs, got 1");
    let with_dep = Transaction { dependencies: vec![init()], ..init() };
    assert_rejected(check(&ledger.request(&with_dep)), "exactly 0 dependencies, got 1");
}

#[test]
fn increment_must_add_exactly_one() {
    let (ledger, zero) = zero();
    let good = increment(&zero).expect("counter");
    for bad in ["2", "0", "01", " 1", "1.0", ""] {
        let tampered = Transaction { outputs: vec![bad.into()], ..good.clone() };
        assert_rejected(check(&ledger.request(&tampered)), "outputs[0] is");
    }
    let none = Transaction { outputs: vec![], ..good.clone() };
    assert_rejected(check(&ledger.request(&none)), "increment: expected exactly 1 outputs, got 0");
    let no_input = Transaction { input_ids: vec![], ..good.clone() };
    assert_rejected(check(&ledger.request(&no_input)), "exactly 1 inputs, got 0");
    let two_inputs = Transaction { input_ids: vec![zero.id, zero.id], ..good.clone() };
    assert_rejected(check(&ledger.request(&two_inputs)), "exactly 1 inputs, got 2");
    let param = Transaction { parameters: vec![json!(1)], ..good };
    assert_rejected(check(&ledger.request(&param)), "exactly 0 parameters, got 1");
}

#[test]
fn increment_rejects_inputs_that_are_not_counters() {
    let mut ledger = Ledger::default();
    for (i, bad) in ["-1", "1.5", "abc", "007", "", " 3", "1e3", "\"1\"", "[1]", "{\"n\":1}"]
        .into_iter()
        .enumerate()
    {
        let object = ledger.forge(&format!("bad{i}"), bad);
        let tx = Transaction { input_ids: vec![object.id], ..init() };
        let tx = Transaction { method_id: INCREMENT.into(), outputs: vec!["1".into()], ..tx };
        assert_rejected(check(&ledger.request(&tx)), "inputs[0] is invalid");
        assert!(increment(&object).is_err(), "{bad}");
    }
}

#[test]
fn increment_rejects_overflow() {
    let mut ledger = Ledger::default();
    let max = ledger.forge("max", &u64::MAX.to_string());
    assert_eq!(increment(&max), Err(ContractError::Overflow { what: "counter + 1".into() }));
    let tx = Transaction {
        method_id: INCREMENT.into(),
        input_ids: vec![max.id],
        outputs: vec!["18446744073709551616".into()],
        ..init()
    };
    assert_rejected(check(&ledger.request(&tx)), "overflows");
    let huge = ledger.forge("huge", &"9".repeat(100));
    let tx = Transaction { input_ids: vec![huge.id], ..tx };
    assert_rejected(check(&ledger.request(&tx)), "inputs[0] overflows");
}

#[test]
fn other_contracts_and_methods_are_rejected() {
    let (ledger, _) = zero();
    let other = Transaction { contract_id: "bank".into(), ..init() };
    assert_rejected(check(&ledger.request(&other)), "not \"addition\"");
    let method = Transaction { method_id: "decrement".into(), ..init() };
    assert_rejected(check(&ledger.request(&method)), "has no method \"decrement\"");
}
