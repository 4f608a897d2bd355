//! Properties of transactions over random inputs: reading is a fixed point, the wire and
//! the canonical text lose nothing the digest depends on, and shard sets are well formed.

use chainspace_core::shard::{concerned_shards, involved_shards, output_shards, shard_of};
use chainspace_core::transaction::Transaction;
use proptest::prelude::*;
use serde_json::{Value, json};

/// A JSON number literal as a client might write it: ints of any size, floats in any form.
fn number() -> impl Strategy<Value = Value> {
    let literal = prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        "-?[1-9][0-9]{0,40}",
        any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(|x| format!("{x:e}")),
        any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(|x| format!("{x:?}")),
        (-400i32..400, 1u32..1000).prop_map(|(e, m)| format!("{m}E{e}")),
    ];
    literal.prop_filter_map("a finite JSON number", |text| {
        let finite = text.parse::<f64>().is_ok_and(f64::is_finite);
        finite.then(|| serde_json::from_str(&text).ok()).flatten()
    })
}

fn param() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn ids() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(any::<[u8; 32]>().prop_map(hex::encode), 0..4)
}

fn call() -> impl Strategy<Value = Value> {
    (
        "[a-z_]{1,12}",
        any::<String>(),
        ids(),
        ids(),
        prop::collection::vec(param(), 0..4),
        prop::collection::vec(any::<String>(), 0..4),
        prop::collection::vec(param(), 0..3),
    )
        .prop_map(|(contract, method, inputs, refs, params, outputs, returns)| {
            json!({"contractID": contract, "methodID": method, "inputIDs": inputs,
                   "referenceInputIDs": refs, "parameters": params, "outputs": outputs,
                   "returns": returns, "dependencies": []})
        })
}

fn transaction() -> impl Strategy<Value = Value> {
    (call(), prop::collection::vec(call(), 0..3)).prop_map(|(mut top, deps)| {
        top["dependencies"] = Value::Array(deps);
        top
    })
}

proptest! {
    #[test]
    fn reading_is_a_fixed_point_and_the_wire_is_lossless(v in transaction()) {
        let tx = Transaction::from_json(&v).expect("generated transactions are valid");
        prop_assert_eq!(&Transaction::from_json(&tx.to_json()).expect("valid"), &tx);

        let canonical = tx.canonical_json();
        prop_assert!(canonical.is_ascii());
        let reparsed: Value = serde_json::from_str(&canonical).expect("canonical JSON parses");
        let again = Transaction::from_json(&reparsed).expect("valid");
        prop_assert_eq!(again.canonical_json(), canonical);
        prop_assert_eq!(&again, &tx);

        let bytes = postcard::to_allocvec(&tx).expect("postcard encodes");
        let back: Transaction = postcard::from_bytes(&bytes).expect("postcard decodes");
        prop_assert_eq!(back.digest(), tx.digest());
        prop_assert_eq!(&back, &tx);
    }

    #[test]
    fn shard_sets_are_sorted_nonempty_and_in_range(v in transaction(), n in 1u32..9) {
        let tx = Transaction::from_json(&v).expect("valid");
        let concerned = concerned_shards(&tx, n);
        let involved = involved_shards(&tx, n);
        prop_assert!(!concerned.is_empty());
        for set in [&concerned, &involved, &output_shards(&tx, n)] {
            prop_assert!(set.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(set.iter().all(|s| s.0 < n));
        }
        prop_assert!(concerned.iter().all(|s| involved.contains(s)));
        let created = tx.created_objects();
        prop_assert!(created.iter().all(|o| involved.contains(&shard_of(&o.id, n))));
    }
}
