//! The scenarios run against a network of processes, each a function of the API's base
//! URL, so that one network serves several of them in turn.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chainspace_contracts::dummy;
use serde_json::{Value, json};

use crate::harness::{Http, shard_of_hex};

// The test vectors of DESIGN.md ("Compatibility with the original Chainspace").
pub const INIT_TX: &str = "f0f110bd77f6b3603c8386b02a866dbc10d26b2ae75c371fe268dc20ee3a57ff";
pub const COUNTER: &str = "a9bde7fac83d70a4c6811d74d3cb218abc6c0f69e0dc5a77f0097be61faf79c7";
pub const INCREMENT_TX: &str = "f7f147b2c2e6506e1e26b0b3186de9e859c7db60efcc3c80dfe9e312ae26cfcd";
pub const NEXT: &str = "404d5c43cf0f34857b65405cb2cdcf015cbe792ee0327157f1cd66ea8b340411";

/// A transaction as the original's Python client writes it.
fn tx(contract: &str, method: &str, inputs: &[&str], params: Value, outputs: &[&str]) -> Value {
    json!({
        "contractID": contract,
        "methodID": method,
        "inputIDs": inputs,
        "referenceInputIDs": [],
        "parameters": params,
        "outputs": outputs,
        "returns": [],
        "dependencies": [],
    })
}

/// The increment walkthrough of the original's README, over HTTP only: init, read,
/// increment, read both, spend the consumed counter again (refused with a reason), read
/// the transactions. Returns the init, increment and refused-spend latencies.
pub async fn walkthrough(http: &Http, shards: u32) -> [Duration; 3] {
    let (code, index) = http.get("/api/1.0/").await;
    assert_eq!(code, 200, "{index}");
    assert_eq!(index["service"], "chainspace");
    assert_eq!(index["committee"]["shards"], shards);

    let init = tx("addition", "init", &[], json!([]), &["0"]);
    let start = Instant::now();
    let (code, body) = http.process(init, json!({})).await;
    let t_init = start.elapsed();
    assert_eq!(code, 200, "init: {body}");
    assert_eq!(body["success"], "True", "{body}");
    assert_eq!(body["outcome"], "accepted_t_commit", "{body}");
    assert_eq!(body["transactionID"], INIT_TX, "{body}");
    assert_eq!(body["outputs"], json!([COUNTER]), "{body}");

    let counter = http.object_becomes(COUNTER, "active").await;
    assert_eq!(counter["value"], "0");
    assert_eq!(counter["objectID"], COUNTER);
    assert_eq!(counter["shard"], shard_of_hex(COUNTER, shards));
    assert_eq!(counter["lockedBy"], Value::Null);

    let increment = tx("addition", "increment", &[COUNTER], json!([]), &["1"]);
    let start = Instant::now();
    let (code, body) = http.process(increment, json!({ COUNTER: "0" })).await;
    let t_inc = start.elapsed();
    assert_eq!(code, 200, "increment: {body}");
    assert_eq!(body["success"], "True", "{body}");
    assert_eq!(body["outcome"], "accepted_t_commit", "{body}");
    assert_eq!(body["transactionID"], INCREMENT_TX, "{body}");
    assert_eq!(body["outputs"], json!([NEXT]), "{body}");

    let next = http.object_becomes(NEXT, "active").await;
    assert_eq!(next["value"], "1");
    assert_eq!(next["shard"], shard_of_hex(NEXT, shards));
    let consumed = http.object_becomes(COUNTER, "inactive").await;
    assert_eq!(consumed["value"], "0");

    // Another transaction spending the consumed counter (it differs from the increment by
    // a parameter, so it is not the same transaction posted again): refused, with a reason.
    let again = tx("addition", "increment", &[COUNTER], json!(["second spend"]), &["1"]);
    let start = Instant::now();
    let (code, body) = http.process(again, json!({ COUNTER: "0" })).await;
    let t_abort = start.elapsed();
    assert!(!(200..300).contains(&code), "a second spend must be refused: {code} {body}");
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["success"], "False", "{body}");
    let outcome = body["outcome"].as_str().unwrap_or_default();
    assert!(outcome == "prepared_t_abort" || outcome == "accepted_t_abort", "{body}");
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("inactive"), "the reason names the consumed input: {body}");
    let refused = body["transactionID"].as_str().expect("an id").to_string();
    // Nothing changed: the counter stays consumed, its successor active.
    assert_eq!(http.get(&format!("/api/1.0/objects/{COUNTER}")).await.1["status"], "inactive");
    assert_eq!(http.get(&format!("/api/1.0/objects/{NEXT}")).await.1["status"], "active");

    // The transactions, as their shards recorded them and as the API timed them.
    let (c, n) = (u64::from(shard_of_hex(COUNTER, shards)), u64::from(shard_of_hex(NEXT, shards)));
    let mut increment_shards = vec![c, n];
    increment_shards.dedup();
    for (id, want) in [(INIT_TX, vec![c]), (INCREMENT_TX, increment_shards)] {
        let (code, body) = http.get(&format!("/api/1.0/transactions/{id}")).await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["transactionID"], id);
        assert_eq!(body["outcome"], "accepted_t_commit", "{body}");
        assert_eq!(committed_on(&body), want, "{body}");
        assert_eq!(body["timings"]["outcome"], "accepted_t_commit", "{body}");
        assert!(body["timings"]["latencyMs"].as_f64().is_some_and(|l| l > 0.0), "{body}");
    }
    let (code, body) = http.get(&format!("/api/1.0/transactions/{refused}")).await;
    assert_eq!(code, 200, "{body}");
    assert!(body["outcome"].as_str().is_some_and(|o| o.ends_with("abort")), "{body}");
    [t_init, t_inc, t_abort]
}

/// The shards whose record of a transaction (`GET /api/1.0/transactions/{id}`) is an
/// accepted commit, sorted.
pub fn committed_on(body: &Value) -> Vec<u64> {
    let mut shards: Vec<u64> = body["shards"]
        .as_array()
        .map(|records| {
            records
                .iter()
                .filter(|r| r["phase"] == "accepted" && r["commit"] == true)
                .filter_map(|r| r["shard"].as_u64())
                .collect()
        })
        .unwrap_or_default();
    shards.sort();
    shards
}

/// Create dummy objects on both shards, consume one of each in one transaction: commits
/// through S-BAC across the two shards; both inputs end up inactive on their shards.
pub async fn cross_shard(http: &Http) -> Duration {
    let create = dummy::create("e2e-cross-shard", 8).to_json();
    let (code, body) = http.process(create, json!({})).await;
    assert_eq!(code, 200, "create: {body}");
    let outputs: Vec<String> = body["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .map(|o| o.as_str().unwrap().into())
        .collect();
    assert_eq!(outputs.len(), 8);
    let values: Vec<String> = (0..8).map(|i| dummy::object_value("e2e-cross-shard", i)).collect();
    let on =
        |shard| outputs.iter().position(|o| shard_of_hex(o, 2) == shard).expect("one per shard");
    let (a, b) = (on(0), on(1));

    // The API places each where the original would.
    for i in [a, b] {
        let body = http.object_becomes(&outputs[i], "active").await;
        assert_eq!(body["shard"], shard_of_hex(&outputs[i], 2), "{body}");
        assert_eq!(body["value"], values[i], "{body}");
    }

    let consume = tx("dummy", "consume", &[&outputs[a], &outputs[b]], json!([]), &[]);
    // A claimed input value that is not the stored one: refused (the original took the
    // client's word), and the objects stay usable. (Another transaction than the one that
    // commits below, with an output: see `forged_value_then_true_value` for why.)
    let forged = tx(
        "dummy",
        "consume",
        &[&outputs[a], &outputs[b]],
        json!([]),
        &[&dummy::object_value(dummy::CONSUMED_LABEL, 0)],
    );
    let lie = json!({ &outputs[a]: values[a], &outputs[b]: dummy::object_value("forged", 0) });
    let (code, body) = http.process(forged, lie).await;
    assert_eq!(code, 409, "a forged input value is refused: {body}");
    assert!(body["reason"].as_str().is_some_and(|r| r.contains("not the stored one")), "{body}");
    for i in [a, b] {
        http.object_becomes(&outputs[i], "active").await;
    }
    let store = json!({ &outputs[a]: values[a], &outputs[b]: values[b] });
    let start = Instant::now();
    let (code, body) = http.process(consume, store.clone()).await;
    let took = start.elapsed();
    assert_eq!(code, 200, "cross-shard consume: {body}");
    assert_eq!(body["outcome"], "accepted_t_commit", "{body}");
    assert_eq!(body["shards"], json!([0, 1]), "{body}");
    let id = body["transactionID"].as_str().expect("an id").to_string();
    http.object_becomes(&outputs[a], "inactive").await;
    http.object_becomes(&outputs[b], "inactive").await;
    let (code, body) = http.get(&format!("/api/1.0/transactions/{id}")).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["outcome"], "accepted_t_commit", "{body}");
    assert_eq!(committed_on(&body), [0, 1], "both shards accepted the commit: {body}");

    // The other objects were untouched; spending the pair again (in the other order, so it
    // is another transaction) is refused because they are consumed.
    let others = (0..8).filter(|i| *i != a && *i != b);
    for i in others {
        assert_eq!(
            http.get(&format!("/api/1.0/objects/{}", outputs[i])).await.1["status"],
            "active"
        );
    }
    let again = tx("dummy", "consume", &[&outputs[b], &outputs[a]], json!([]), &[]);
    let (code, body) = http.process(again, store).await;
    assert_eq!(code, 409, "a second spend across shards is refused: {body}");
    assert!(body["reason"].as_str().is_some_and(|r| r.contains("inactive")), "{body}");
    took
}

/// `n` HTTP clients at once, each with its own create: every one answered 200 within
/// `bound`. Returns the wall time and the latencies, sorted.
pub async fn concurrent_creates(
    http: &Http,
    n: usize,
    bound: Duration,
) -> (Duration, Vec<Duration>) {
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        // Each client its own connection pool: n distinct HTTP clients, as in the brief.
        let http = Http::new(http.base.clone());
        tasks.spawn(async move {
            let create = dummy::create(&format!("e2e-concurrent-{i}"), 2);
            let want: Vec<String> = create.output_ids().iter().map(|o| o.to_hex()).collect();
            let sent = Instant::now();
            let (code, body) = http.process(create.to_json(), json!({})).await;
            let took = sent.elapsed();
            assert_eq!(code, 200, "client {i}: {body}");
            assert_eq!(body["outcome"], "accepted_t_commit", "client {i}: {body}");
            assert_eq!(body["outputs"], json!(want), "client {i}: {body}");
            took
        });
    }
    let mut times = Vec::with_capacity(n);
    let all = tokio::time::timeout(bound, async {
        while let Some(r) = tasks.join_next().await {
            times.push(r.expect("a client"));
        }
    })
    .await;
    assert!(all.is_ok(), "only {} of {n} clients answered within {bound:?}", times.len());
    times.sort();
    (start.elapsed(), times)
}

/// A transaction refused because the client gave a wrong value for an input, posted
/// again with the true value. The transaction ID does not cover the `store` values, so it
/// is the same transaction; its first attempt aborted for a cause that is gone, so it
/// should be processed again (S-BAC's instances exist for such retries) and commit.
pub async fn forged_value_then_true_value(http: &Http) -> (u16, Value) {
    let label = "e2e-retry";
    let create = dummy::create(label, 1);
    let (code, body) = http.process(create.to_json(), json!({})).await;
    assert_eq!(code, 200, "create: {body}");
    let object = create.created_objects().remove(0);
    let id = object.id.to_hex();
    let consume = dummy::consume(std::slice::from_ref(&object), false).to_json();
    let (code, body) =
        http.process(consume.clone(), json!({ &id: dummy::object_value("forged", 0) })).await;
    assert_eq!(code, 409, "a forged input value is refused: {body}");
    http.object_becomes(&id, "active").await;
    http.process(consume, json!({ &id: object.value })).await
}

/// 24 concurrent HTTP clients, each spending the same two objects (one per shard) in a
/// transaction of its own (with a third object of its own, in either order, with or
/// without an output): at most one commits (S-BAC's safety), every other is refused with a
/// reason, and afterwards no lock is left: the pair and the winner's third object are
/// inactive if one committed, every other object is active. Returns how many committed.
pub async fn conflicting_spends(http: &Http) -> usize {
    const CLIENTS: usize = 24;
    let label = "e2e-conflict";
    let create = dummy::create(label, 8);
    let (code, body) = http.process(create.to_json(), json!({})).await;
    assert_eq!(code, 200, "create: {body}");
    let mut objects = create.created_objects();
    let mut take = |shard| {
        let i = objects.iter().position(|o| shard_of_hex(&o.id.to_hex(), 2) == shard);
        objects.remove(i.expect("one per shard"))
    };
    let pair = [take(0), take(1)];
    let extras = objects; // six more
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..CLIENTS {
        let http = Http::new(http.base.clone());
        let extra = &extras[i % extras.len()];
        let mut inputs = [&pair[0], &pair[1], extra];
        if (i / extras.len()) % 2 == 1 {
            inputs.reverse();
        }
        let with_output = (i / (2 * extras.len())) % 2 == 1;
        let consume =
            dummy::consume(&inputs.iter().map(|o| (*o).clone()).collect::<Vec<_>>(), with_output);
        let store: serde_json::Map<String, Value> =
            inputs.iter().map(|o| (o.id.to_hex(), Value::String(o.value.clone()))).collect();
        let extra = extra.id.to_hex();
        tasks.spawn(async move {
            let id = consume.digest().to_hex();
            (id, extra, http.process(consume.to_json(), Value::Object(store)).await)
        });
    }
    let mut sent = BTreeSet::new();
    let mut committed = Vec::new();
    let mut refused = 0;
    while let Some(r) = tasks.join_next().await {
        let (tx, extra, (code, body)) = r.expect("a client");
        sent.insert(tx.clone());
        match code {
            200 => committed.push((tx, extra)),
            409 => {
                assert!(body["reason"].as_str().is_some_and(|r| !r.is_empty()), "{body}");
                refused += 1;
            }
            _ => panic!("{tx}: {code} {body}"),
        }
    }
    assert_eq!(sent.len(), CLIENTS, "distinct transactions");
    assert!(committed.len() <= 1, "the pair was spent by {committed:?}");
    let spent = |id: &str| {
        committed.iter().any(|(_, extra)| extra == id)
            || (!committed.is_empty() && pair.iter().any(|o| o.id.to_hex() == id))
    };
    for o in pair.iter().chain(&extras) {
        let id = o.id.to_hex();
        http.object_becomes(&id, if spent(&id) { "inactive" } else { "active" }).await;
    }
    eprintln!(
        "[e2e] {CLIENTS} conflicting spends at once: {} committed, {refused} refused",
        committed.len()
    );
    committed.len()
}
