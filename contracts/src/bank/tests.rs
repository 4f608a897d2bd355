use super::*;
use crate::testutil::{Ledger, assert_accepted, assert_rejected};
use serde_json::Value;

fn alice() -> Keypair {
    Keypair::from_label("alice")
}

fn bob() -> Keypair {
    Keypair::from_label("bob")
}

/// A ledger with Alice's account (100) and Bob's (50).
fn accounts() -> (Ledger, Object, Object) {
    let mut ledger = Ledger::default();
    let a = ledger.commit(&create_account(&alice().public(), 100, "a")).remove(0);
    let b = ledger.commit(&create_account(&bob().public(), 50, "b")).remove(0);
    (ledger, a, b)
}

/// `tx` with its signature parameter replaced by `signature`.
fn resigned(tx: &Transaction, signature: &chainspace_core::crypto::Signature) -> Transaction {
    let mut tx = tx.clone();
    tx.parameters[1] = json!(signature_hex(signature));
    tx
}

#[test]
fn accounts_are_canonical_json_with_the_documented_keys() {
    let a = Account::new(alice().public(), 7, "x");
    let value = a.to_value();
    assert_eq!(
        value,
        format!(
            r#"{{"balance":7,"label":"x","nonce":0,"owner":"{}"}}"#,
            key_hex(&alice().public())
        )
    );
    assert_eq!(Account::parse(&value), Ok(a));
}

#[test]
fn create_account_is_an_open_faucet() {
    let ledger = Ledger::default();
    for balance in [0, 1, u64::MAX] {
        let tx = create_account(&alice().public(), balance, "faucet");
        assert_accepted(check(&ledger.request(&tx)));
    }
    assert_ne!(
        create_account(&alice().public(), 5, "one").output_ids(),
        create_account(&alice().public(), 5, "two").output_ids(),
        "labels tell apart accounts of one owner with one balance"
    );
}

#[test]
fn create_account_rejects_tampering_and_bad_parameters() {
    let (ledger, a, _) = accounts();
    let good = create_account(&alice().public(), 10, "c");
    let richer = Account::new(alice().public(), 11, "c").to_value();
    let tampered = Transaction { outputs: vec![richer], ..good.clone() };
    assert_rejected(check(&ledger.request(&tampered)), "outputs[0] is");
    let stolen = Account::new(bob().public(), 10, "c").to_value();
    let tampered = Transaction { outputs: vec![stolen], ..good.clone() };
    assert_rejected(check(&ledger.request(&tampered)), "outputs[0] is");

    let with_input = Transaction { input_ids: vec![a.id], ..good.clone() };
    assert_rejected(check(&ledger.request(&with_input)), "expected exactly 0 inputs, got 1");
    let two_outputs = Transaction { outputs: vec![good.outputs[0].clone(); 2], ..good.clone() };
    assert_rejected(check(&ledger.request(&two_outputs)), "exactly 1 outputs, got 2");
    let short = Transaction { parameters: good.parameters[..2].to_vec(), ..good.clone() };
    assert_rejected(check(&ledger.request(&short)), "exactly 3 parameters, got 2");

    let bad_params = [
        (0, json!("ABCD"), "parameters[0] (owner) is invalid"),
        (0, json!(key_hex(&alice().public()).to_uppercase()), "lower-case hex"),
        (0, json!(1), "expected a string, got a number"),
        (1, json!(-10), "parameters[1] (initial balance) is invalid"),
        (1, json!(10.0), "expected an integer in 0..2^64"),
        (1, json!("10"), "expected an integer, got a string"),
        (1, serde_json::from_str::<Value>("1".repeat(40).as_str()).expect("json"), "0..2^64"),
        (2, json!(["c"]), "parameters[2] (label) is invalid"),
    ];
    for (i, value, reason) in bad_params {
        let mut tx = good.clone();
        tx.parameters[i] = value;
        assert_rejected(check(&ledger.request(&tx)), reason);
    }
}

#[test]
fn signed_transfers_are_accepted_and_move_money() {
    let (mut ledger, a, b) = accounts();
    let tx = transfer(&a, &b, 30, &alice()).expect("valid transfer");
    assert_eq!(tx.input_ids, [a.id, b.id]);
    assert_accepted(check(&ledger.request(&tx)));
    let out = ledger.commit(&tx);
    let (a1, b1) =
        (Account::parse(&out[0].value).expect("a"), Account::parse(&out[1].value).expect("b"));
    assert_eq!((a1.balance, a1.nonce, a1.owner), (70, 1, alice().public()));
    assert_eq!((b1.balance, b1.nonce, b1.owner), (80, 1, bob().public()));

    // Bob pays back, then Alice spends her whole balance.
    let back = transfer(&out[1], &out[0], 30, &bob()).expect("valid transfer");
    assert_accepted(check(&ledger.request(&back)));
    let out = ledger.commit(&back);
    let all = transfer(&out[1], &out[0], 100, &alice()).expect("valid transfer");
    assert_accepted(Bank.check(&ledger.request(&all)));
    assert_eq!(Account::parse(&all.outputs[0]).expect("a").balance, 0);
}

#[test]
fn transfer_shape_is_enforced() {
    let (mut ledger, a, b) = accounts();
    let c = ledger.commit(&create_account(&alice().public(), 1, "c")).remove(0);
    let good = transfer(&a, &b, 10, &alice()).expect("valid");
    let cases = [
        (Transaction { input_ids: vec![a.id], ..good.clone() }, "exactly 2 inputs, got 1"),
        (Transaction { input_ids: vec![a.id, b.id, c.id], ..good.clone() }, "got 3"),
        (Transaction { outputs: good.outputs[..1].to_vec(), ..good.clone() }, "2 outputs, got 1"),
        (
            Transaction { parameters: good.parameters[..1].to_vec(), ..good.clone() },
            "exactly 2 parameters, got 1",
        ),
        (Transaction { returns: vec![json!(1)], ..good.clone() }, "0 returns, got 1"),
        (Transaction { reference_input_ids: vec![c.id], ..good.clone() }, "0 reference inputs"),
        (Transaction { dependencies: vec![good.clone()], ..good.clone() }, "0 dependencies"),
    ];
    for (tx, reason) in cases {
        assert_rejected(check(&ledger.request(&tx)), reason);
    }
}

#[test]
fn amounts_must_be_positive_integers() {
    let (ledger, a, b) = accounts();
    let good = transfer(&a, &b, 10, &alice()).expect("valid");
    for (amount, reason) in [
        (json!(0), "amount is invalid: must be positive"),
        (json!(-10), "parameters[0] (amount) is invalid"),
        (json!(10.5), "0..2^64"),
        (json!("10"), "expected an integer, got a string"),
        (json!(null), "got null"),
    ] {
        let mut tx = good.clone();
        tx.parameters[0] = amount;
        assert_rejected(check(&ledger.request(&tx)), reason);
    }
    assert_eq!(transfer(&a, &b, 0, &alice()), Err(invalid("amount", "must be positive")));
}

#[test]
fn overdrafts_are_rejected() {
    let (ledger, a, b) = accounts();
    assert_eq!(
        transfer(&a, &b, 101, &alice()),
        Err(ContractError::InsufficientFunds { balance: 100, amount: 101 })
    );
    // A client computing its own (negative-free but wrong) outputs is rejected too.
    let from = Account::parse(&a.value).expect("a");
    let to = Account::parse(&b.value).expect("b");
    let message = transfer_message(&a.value, &b.value, 101);
    let tx = Transaction {
        contract_id: CONTRACT_ID.into(),
        method_id: TRANSFER.into(),
        input_ids: vec![a.id, b.id],
        reference_input_ids: vec![],
        parameters: vec![
            json!(101),
            json!(signature_hex(&alice().sign(TRANSFER_DOMAIN, &message))),
        ],
        outputs: vec![
            Account { balance: 0, nonce: 1, ..from }.to_value(),
            Account { balance: 151, nonce: 1, ..to }.to_value(),
        ],
        returns: vec![],
        dependencies: vec![],
    };
    assert_rejected(
        check(&ledger.request(&tx)),
        "insufficient funds: balance 100 is less than amount 101",
    );
}

#[test]
fn balances_may_not_overflow() {
    let mut ledger = Ledger::default();
    let a = ledger.commit(&create_account(&alice().public(), 10, "a")).remove(0);
    let rich = ledger.commit(&create_account(&bob().public(), u64::MAX, "rich")).remove(0);
    assert!(matches!(transfer(&a, &rich, 1, &alice()), Err(ContractError::Overflow { .. })));
    let mut tx = transfer(&rich, &a, 1, &bob()).expect("valid the other way");
    tx.input_ids.swap(0, 1);
    assert_rejected(check(&ledger.request(&tx)), "to.balance overflows");
}

#[test]
fn tampered_outputs_are_rejected() {
    let (ledger, a, b) = accounts();
    let good = transfer(&a, &b, 10, &alice()).expect("valid");
    let paid = Account::parse(&good.outputs[0]).expect("a");
    let credited = Account::parse(&good.outputs[1]).expect("b");
    let tampered = [
        vec![Account { balance: 91, ..paid.clone() }.to_value(), good.outputs[1].clone()],
        vec![good.outputs[0].clone(), Account { balance: 61, ..credited.clone() }.to_value()],
        vec![
            good.outputs[0].clone(),
            Account { owner: alice().public(), ..credited.clone() }.to_value(),
        ],
        vec![Account { nonce: 0, ..paid.clone() }.to_value(), good.outputs[1].clone()],
        vec![Account { label: "z".into(), ..paid.clone() }.to_value(), good.outputs[1].clone()],
        vec![good.outputs[1].clone(), good.outputs[0].clone()],
        vec![good.outputs[0].replace("\"balance\":90", "\"balance\": 90"), good.outputs[1].clone()],
    ];
    for outputs in tampered {
        let tx = Transaction { outputs, ..good.clone() };
        assert_rejected(check(&ledger.request(&tx)), "outputs[");
    }
}

#[test]
fn signatures_must_be_by_the_payer_over_these_inputs() {
    let (ledger, a, b) = accounts();
    let good = transfer(&a, &b, 10, &alice()).expect("valid");
    let message = transfer_message(&a.value, &b.value, 10);
    let by_bob = resigned(&good, &bob().sign(TRANSFER_DOMAIN, &message));
    assert_rejected(check(&ledger.request(&by_bob)), "invalid signature");
    let other_domain =
        resigned(&good, &alice().sign(b"chainspace-contracts/vote/cast/v1", &message));
    assert_rejected(check(&ledger.request(&other_domain)), "invalid signature");
    let zero = resigned(&good, &chainspace_core::crypto::Signature([0; 64]));
    assert_rejected(check(&ledger.request(&zero)), "invalid signature");
    let mut not_hex = good.clone();
    not_hex.parameters[1] = json!("zz");
    assert_rejected(check(&ledger.request(&not_hex)), "parameters[1] (signature) is invalid");
    let mut upper = good.clone();
    upper.parameters[1] = json!(good.parameters[1].as_str().expect("hex").to_uppercase());
    assert_rejected(check(&ledger.request(&upper)), "lower-case hex");
    assert!(matches!(transfer(&a, &b, 10, &bob()), Err(ContractError::BadSignature { .. })));
}

#[test]
fn signatures_cannot_be_replayed_onto_other_inputs_or_amounts() {
    let (mut ledger, a, b) = accounts();
    let c = ledger.commit(&create_account(&bob().public(), 50, "c")).remove(0);
    let first = transfer(&a, &b, 10, &alice()).expect("valid");

    // Onto another payee.
    let mut onto_c = transfer(&a, &c, 10, &alice()).expect("valid");
    onto_c.parameters[1] = first.parameters[1].clone();
    assert_rejected(check(&ledger.request(&onto_c)), "invalid signature");

    // With another amount.
    let mut more = transfer(&a, &b, 20, &alice()).expect("valid");
    more.parameters[1] = first.parameters[1].clone();
    assert_rejected(check(&ledger.request(&more)), "invalid signature");

    // Onto a later state of the same accounts with the very same balances: Alice pays Bob
    // 10, Bob pays 10 back, and the old signature is tried again.
    let out = ledger.commit(&first);
    let back = transfer(&out[1], &out[0], 10, &bob()).expect("valid");
    let out = ledger.commit(&back);
    let (a2, b2) = (&out[1], &out[0]);
    assert_eq!(Account::parse(&a2.value).expect("a").balance, 100);
    assert_eq!(Account::parse(&b2.value).expect("b").balance, 50);
    let mut replay = transfer(a2, b2, 10, &alice()).expect("valid");
    replay.parameters[1] = first.parameters[1].clone();
    assert_rejected(check(&ledger.request(&replay)), "invalid signature");
}

#[test]
fn an_account_cannot_pay_itself() {
    let (ledger, a, _) = accounts();
    let good = transfer(&a, &a, 10, &alice());
    assert!(good.is_err());
    let message = transfer_message(&a.value, &a.value, 10);
    let tx = Transaction {
        contract_id: CONTRACT_ID.into(),
        method_id: TRANSFER.into(),
        input_ids: vec![a.id, a.id],
        reference_input_ids: vec![],
        parameters: vec![json!(10), json!(signature_hex(&alice().sign(TRANSFER_DOMAIN, &message)))],
        outputs: vec![a.value.clone(), a.value.clone()],
        returns: vec![],
        dependencies: vec![],
    };
    assert_rejected(check(&ledger.request(&tx)), "from and to are the same account");
}

#[test]
fn garbage_account_values_are_rejected() {
    let (mut ledger, a, b) = accounts();
    let good = transfer(&a, &b, 10, &alice()).expect("valid");
    let owner = key_hex(&alice().public());
    let garbage = [
        ("not json".to_string(), "not JSON"),
        (r#"{"balance": 100}"#.to_string(), "not canonical JSON"),
        ("[]".to_string(), "expected a JSON object"),
        (r#"{"balance":100}"#.to_string(), "missing key"),
        (format!("{},\"zz\":1}}", &a.value[..a.value.len() - 1]), "unknown key \"zz\""),
        (
            format!(r#"{{"balance":-1,"label":"a","nonce":0,"owner":"{owner}"}}"#),
            "balance is invalid",
        ),
        (
            format!(r#"{{"balance":1.5,"label":"a","nonce":0,"owner":"{owner}"}}"#),
            "balance is invalid",
        ),
        (format!(r#"{{"balance":1,"label":2,"nonce":0,"owner":"{owner}"}}"#), "label is invalid"),
        (
            format!(r#"{{"balance":1,"label":"a","nonce":null,"owner":"{owner}"}}"#),
            "nonce is invalid",
        ),
        (r#"{"balance":1,"label":"a","nonce":0,"owner":"00"}"#.to_string(), "owner is invalid"),
        ("0".to_string(), "expected a JSON object"),
    ];
    for (i, (value, reason)) in garbage.into_iter().enumerate() {
        let forged = ledger.forge(&format!("garbage{i}"), &value);
        let from = Transaction { input_ids: vec![forged.id, b.id], ..good.clone() };
        assert_rejected(check(&ledger.request(&from)), "inputs[0]");
        assert_rejected(check(&ledger.request(&from)), reason);
        let to = Transaction { input_ids: vec![a.id, forged.id], ..good.clone() };
        assert_rejected(check(&ledger.request(&to)), "inputs[1]");
        assert!(transfer(&forged, &b, 10, &alice()).is_err());
    }
}

#[test]
fn other_contracts_and_methods_are_rejected() {
    let (ledger, a, b) = accounts();
    let good = transfer(&a, &b, 10, &alice()).expect("valid");
    let other = Transaction { contract_id: "vote".into(), ..good.clone() };
    assert_rejected(check(&ledger.request(&other)), "not \"bank\"");
    let method = Transaction { method_id: "mint".into(), ..good };
    assert_rejected(check(&ledger.request(&method)), "has no method \"mint\"");
}
