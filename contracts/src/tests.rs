//! Tests of the crate as a whole: the registry, the async adapter, and that no checker
//! panics on any input.

use super::*;
use crate::testutil::{Ledger, block_on};
use chainspace_core::checker::CheckCall;
use chainspace_core::crypto::Keypair;
use chainspace_core::object::Object;
use chainspace_core::transaction::Transaction;
use serde_json::{Value, json};

/// One valid transaction of every method of every contract (plus one invalid one each),
/// with a ledger that resolves them.
fn sample_calls() -> (Ledger, Vec<Transaction>) {
    let mut ledger = Ledger::default();
    let mut txs = vec![];
    let mut commit = |ledger: &mut Ledger, tx: Transaction| -> Vec<Object> {
        txs.push(tx.clone());
        ledger.commit(&tx)
    };
    let zero = commit(&mut ledger, addition::init()).remove(0);
    commit(&mut ledger, addition::increment(&zero).expect("counter"));

    let (alice, bob) = (Keypair::from_label("alice"), Keypair::from_label("bob"));
    let a = commit(&mut ledger, bank::create_account(&alice.public(), 10, "a")).remove(0);
    let b = commit(&mut ledger, bank::create_account(&bob.public(), 10, "b")).remove(0);
    commit(&mut ledger, bank::transfer(&a, &b, 3, &alice).expect("transfer"));

    let d = commit(&mut ledger, dummy::create("d", 3));
    commit(&mut ledger, dummy::consume(&d, true));

    let voters = [alice.public(), bob.public()];
    let options = ["x".to_string(), "y".to_string()];
    let e = commit(&mut ledger, vote::create(&options, &voters, "v").expect("election")).remove(0);
    let e = commit(&mut ledger, vote::cast(&e, 1, &bob).expect("ballot")).remove(0);
    commit(&mut ledger, vote::tally(&e).expect("tally"));
    (ledger, txs)
}

#[test]
fn all_native_and_registry_agree_on_the_four_contracts() {
    let ids: Vec<&str> = all().iter().map(|c| c.id()).collect();
    assert_eq!(ids, ["addition", "bank", "dummy", "vote"]);
    for id in ids.iter().copied() {
        assert_eq!(native(id).map(|c| c.id()), Some(id));
    }
    assert!(native("nope").is_none());
    assert_eq!(registry().contracts().collect::<Vec<_>>(), ids);
}

#[test]
fn every_method_of_every_contract_is_accepted_by_its_checker_only() {
    let (ledger, txs) = sample_calls();
    assert_eq!(txs.len(), 10);
    for tx in &txs {
        let request = ledger.request(tx);
        for contract in all() {
            let verdict = contract.check(&request);
            assert_eq!(
                verdict.accepted,
                contract.id() == tx.contract_id,
                "{} checking {}.{}: {:?}",
                contract.id(),
                tx.contract_id,
                tx.method_id,
                verdict.reason
            );
        }
    }
}

#[test]
fn the_async_adapter_and_the_registry_give_the_sync_verdict() {
    let (ledger, txs) = sample_calls();
    let registry = registry();
    for tx in &txs {
        let mut tampered = tx.clone();
        tampered.returns.push(json!("extra"));
        for tx in [tx, &tampered] {
            let request = ledger.request(tx);
            let sync = native(&tx.contract_id).expect("native").check(&request);
            let adapted =
                block_on(Native(native(&tx.contract_id).expect("native")).check(&request));
            assert_eq!(adapted, Ok(sync.clone()));
            assert_eq!(block_on(registry.check(&request)), Ok(sync));
        }
    }
    let direct = Native(bank::Bank);
    let request = ledger.request(&txs[0]);
    let verdict = block_on(Checker::check(&direct, &request)).expect("answered");
    assert_eq!(verdict.reason.as_deref(), Some(r#"call is for contract "addition", not "bank""#));
}

#[test]
fn requests_from_transaction_json_are_checked_the_same() {
    // A transaction read back from its JSON (as the client API reads it) has normalised
    // numbers; the verdict must not change.
    let (ledger, txs) = sample_calls();
    for tx in &txs {
        let back = Transaction::from_json(&tx.to_json()).expect("valid JSON");
        assert_eq!(back.digest(), tx.digest());
        let contract = native(&tx.contract_id).expect("native");
        assert!(contract.check(&ledger.request(&back)).accepted, "{}", tx.method_id);
    }
}

mod no_panics {
    use super::*;
    use proptest::prelude::*;

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| json!(i)),
            any::<u64>().prop_map(|i| json!(i)),
            any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(|x| json!(x)),
            "-?[0-9]{1,60}(\\.[0-9]{1,5})?(e-?[0-9]{1,3})?"
                .prop_map(|d| { serde_json::from_str::<Value>(&d).unwrap_or(Value::Null) }),
            "[0-9a-f]{0,130}".prop_map(Value::String),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{1,8}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Strings that are sometimes object values of the contracts, sometimes near misses,
    /// sometimes noise.
    fn arb_value_string(samples: Vec<String>) -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(samples.clone()),
            (prop::sample::select(samples), any::<usize>(), any::<char>()).prop_map(
                |(s, at, c)| {
                    let mut chars: Vec<char> = s.chars().collect();
                    if !chars.is_empty() {
                        let at = at % chars.len();
                        chars[at] = c;
                    }
                    chars.into_iter().collect()
                }
            ),
            arb_json().prop_map(|v| chainspace_core::json::to_canonical_string(&v)),
            any::<String>(),
        ]
    }

    fn arb_request() -> impl Strategy<Value = CheckRequest> {
        let (ledger, txs) = sample_calls();
        let requests: Vec<CheckRequest> = txs.iter().map(|tx| ledger.request(tx)).collect();
        let mut values: Vec<String> = txs.iter().flat_map(|tx| tx.outputs.clone()).collect();
        values.push(String::new());
        let params: Vec<Value> = txs.iter().flat_map(|tx| tx.parameters.clone()).collect();
        let methods = [
            "init",
            "increment",
            "create_account",
            "transfer",
            "create",
            "consume",
            "cast",
            "tally",
            "x",
        ];
        let contracts = ["addition", "bank", "dummy", "vote", ""];
        let strings = || prop::collection::vec(arb_value_string(values.clone()), 0..4);
        let jsons = || {
            prop::collection::vec(
                prop_oneof![prop::sample::select(params.clone()), arb_json()],
                0..4,
            )
        };
        let call = (
            prop::sample::select(contracts.to_vec()),
            prop::sample::select(methods.to_vec()),
            strings(),
            strings(),
            jsons(),
            strings(),
            jsons(),
        )
            .prop_map(|(c, m, inputs, reference_inputs, parameters, outputs, returns)| CheckCall {
                contract_id: c.to_string(),
                method_id: m.to_string(),
                inputs,
                reference_inputs,
                parameters,
                outputs,
                returns,
            })
            .boxed();
        prop_oneof![
            // Random calls.
            (call.clone(), prop::collection::vec(call, 0..2))
                .prop_map(|(call, dependencies)| CheckRequest { call, dependencies }),
            // Valid calls with one list replaced.
            (prop::sample::select(requests), 0..5usize, strings(), jsons()).prop_map(
                |(mut request, which, strings, jsons)| {
                    match which {
                        0 => request.call.inputs = strings,
                        1 => request.call.reference_inputs = strings,
                        2 => request.call.parameters = jsons,
                        3 => request.call.outputs = strings,
                        _ => request.call.returns = jsons,
                    }
                    request
                }
            ),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn checkers_never_panic_and_are_deterministic(request in arb_request()) {
            for contract in all() {
                let first = contract.check(&request);
                prop_assert_eq!(contract.check(&request), first.clone());
                prop_assert!(first.accepted || first.reason.is_some());
                prop_assert!(first.reason.map_or(0, |r| r.len()) < 2_000);
            }
        }
    }
}
