use super::*;
use crate::testutil::{Ledger, assert_accepted, assert_rejected};
use crate::{addition, bank};
use chainspace_core::crypto::Keypair;

/// A ledger with `n` dummy objects created under `label`, and those objects.
fn objects(label: &str, n: usize) -> (Ledger, Vec<Object>) {
    let mut ledger = Ledger::default();
    let created = ledger.commit(&create(label, n));
    (ledger, created)
}

#[test]
fn create_makes_distinct_objects_per_label() {
    let tx = create("run-1/client-3/42", 3);
    assert_eq!(tx.outputs.len(), 3);
    assert_eq!(tx.outputs[2], r#"{"dummy":"run-1/client-3/42","index":2}"#);
    let ids = tx.output_ids();
    assert!(ids[0] != ids[1] && ids[1] != ids[2]);
    assert!(create("other", 3).output_ids().iter().all(|id| !ids.contains(id)));
    assert_accepted(check(&Ledger::default().request(&tx)));
    assert_accepted(Dummy.check(&Ledger::default().request(&create("x", 1))));
}

#[test]
fn consume_accepts_any_number_of_inputs_with_or_without_output() {
    let (mut ledger, created) = objects("c", 5);
    for k in 1..=5 {
        for with_output in [false, true] {
            let tx = consume(&created[..k], with_output);
            assert_eq!(tx.input_ids.len(), k);
            assert_eq!(tx.outputs.len(), usize::from(with_output));
            assert_accepted(check(&ledger.request(&tx)));
        }
    }
    // The object consume creates is a dummy object too, and can be consumed in turn.
    let out = ledger.commit(&consume(&created[..2], true));
    assert_accepted(check(&ledger.request(&consume(&out, false))));
}

#[test]
fn dependencies_are_allowed() {
    let (ledger, created) = objects("d", 1);
    let tx = Transaction { dependencies: vec![addition::init()], ..consume(&created, true) };
    assert_accepted(check(&ledger.request(&tx)));
    let tx = Transaction { dependencies: vec![addition::init()], ..create("d2", 1) };
    assert_accepted(check(&ledger.request(&tx)));
}

#[test]
fn wrong_shapes_are_rejected() {
    let (ledger, created) = objects("s", 2);
    let empty = create("s", 0);
    assert_rejected(check(&ledger.request(&empty)), "create: expected at least 1 outputs, got 0");
    let with_input = Transaction { input_ids: vec![created[0].id], ..create("s", 1) };
    assert_rejected(check(&ledger.request(&with_input)), "exactly 0 inputs, got 1");
    let no_label = Transaction { parameters: vec![], ..create("s", 1) };
    assert_rejected(check(&ledger.request(&no_label)), "exactly 1 parameters, got 0");
    let number_label = Transaction { parameters: vec![json!(7)], ..create("s", 1) };
    assert_rejected(check(&ledger.request(&number_label)), "parameters[0] (label) is invalid");

    let nothing = consume(&[], true);
    assert_rejected(check(&ledger.request(&nothing)), "consume: expected at least 1 inputs, got 0");
    let two = Transaction {
        outputs: vec![object_value(CONSUMED_LABEL, 0); 2],
        ..consume(&created, true)
    };
    assert_rejected(check(&ledger.request(&two)), "between 0 and 1 outputs, got 2");
    let param = Transaction { parameters: vec![json!(1)], ..consume(&created, false) };
    assert_rejected(check(&ledger.request(&param)), "exactly 0 parameters, got 1");
    let refs =
        Transaction { reference_input_ids: vec![created[1].id], ..consume(&created[..1], false) };
    assert_rejected(check(&ledger.request(&refs)), "exactly 0 reference inputs, got 1");
    let returns = Transaction { returns: vec![json!(1)], ..consume(&created, false) };
    assert_rejected(check(&ledger.request(&returns)), "exactly 0 returns, got 1");
}

#[test]
fn outputs_must_be_the_values_the_methods_compute() {
    let (ledger, created) = objects("o", 1);
    let mut tx = create("o2", 2);
    tx.outputs[1] = object_value("o2", 5);
    assert_rejected(check(&ledger.request(&tx)), "outputs[1] is");
    // A dummy call may not mint a bank account.
    let forged = bank::Account::new(Keypair::from_label("m").public(), 1 << 60, "m").to_value();
    let tx = Transaction { outputs: vec![forged.clone()], ..create("o3", 1) };
    assert_rejected(check(&ledger.request(&tx)), "outputs[0] is");
    let tx = Transaction { outputs: vec![forged], ..consume(&created, true) };
    assert_rejected(check(&ledger.request(&tx)), "outputs[0] is");
}

#[test]
fn consume_only_takes_dummy_objects() {
    let (mut ledger, created) = objects("t", 1);
    let zero = ledger.commit(&addition::init()).remove(0);
    let account =
        ledger.commit(&bank::create_account(&Keypair::from_label("v").public(), 9, "v")).remove(0);
    for victim in [zero, account] {
        let tx = consume(&[created[0].clone(), victim], false);
        assert_rejected(check(&ledger.request(&tx)), "inputs[1] is invalid");
    }
    for (i, garbage) in [
        "",
        "{",
        r#"{"dummy":"x"}"#,
        r#"{"dummy":1,"index":0}"#,
        r#"{"index":0,"dummy":"x"}"#,
        r#"{"dummy":"x","index":-1}"#,
    ]
    .into_iter()
    .enumerate()
    {
        let object = ledger.forge(&format!("g{i}"), garbage);
        let verdict = check(&ledger.request(&consume(&[object], false)));
        assert_rejected(verdict.clone(), "inputs[0]");
        assert_rejected(verdict, "is invalid");
    }
}

#[test]
fn other_contracts_and_methods_are_rejected() {
    let ledger = Ledger::default();
    let other = Transaction { contract_id: "addition".into(), ..create("x", 1) };
    assert_rejected(check(&ledger.request(&other)), "not \"dummy\"");
    let method = Transaction { method_id: "destroy".into(), ..create("x", 1) };
    assert_rejected(check(&ledger.request(&method)), "has no method \"destroy\"");
}
