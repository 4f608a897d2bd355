//! The addition walkthrough through the API, with reads of its objects and transactions.

use std::time::{Duration, Instant};

use chainspace_contracts::addition;
use chainspace_node::api::ApiConfig;
use consensus_any::Protocol;
use serde_json::{Value, json};

use crate::common::{self, Api, WAIT};

const INIT_TX: &str = "f0f110bd77f6b3603c8386b02a866dbc10d26b2ae75c371fe268dc20ee3a57ff";
const COUNTER: &str = "a9bde7fac83d70a4c6811d74d3cb218abc6c0f69e0dc5a77f0097be61faf79c7";
const INCREMENT_TX: &str = "f7f147b2c2e6506e1e26b0b3186de9e859c7db60efcc3c80dfe9e312ae26cfcd";
const NEXT: &str = "404d5c43cf0f34857b65405cb2cdcf015cbe792ee0327157f1cd66ea8b340411";

/// Poll `GET /api/1.0/objects/{id}` until its status is `status` (a read takes `f + 1`
/// matching answers, which may still be the state before a commit reached every replica).
async fn object_becomes(api: &Api, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let (code, body) = api.get(&format!("/api/1.0/objects/{id}")).await;
        if code == 200 && body["status"] == status {
            return body;
        }
        assert!(Instant::now() < deadline, "{id} never became {status}: {code} {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// init, read, increment, read both, spend again (refused), read the transactions.
/// Returns the three process latencies as the client saw them.
pub async fn addition(api: &Api) -> [Duration; 3] {
    let (code, index) = api.get("/api/1.0/").await;
    assert_eq!(code, 200);
    assert_eq!(index["service"], "chainspace");
    assert_eq!(index["committee"]["shards"], 2);
    assert_eq!(
        index["committee"]["members"][1],
        json!({"shard": 1, "replicas": 4, "faultsTolerated": 1})
    );
    assert!(index["routes"].as_array().is_some_and(|r| r.len() == 4), "{index}");

    let start = Instant::now();
    let (code, body) = api.process(addition::init(), &[]).await;
    let t_init = start.elapsed();
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["success"], "True");
    assert_eq!(body["outcome"], "accepted_t_commit");
    assert_eq!(body["transactionID"], INIT_TX);
    assert_eq!(body["outputs"], json!([COUNTER]));

    let counter = object_becomes(api, COUNTER, "active").await;
    assert_eq!(counter["value"], "0");
    assert_eq!(counter["shard"], 1);
    assert_eq!(counter["lockedBy"], Value::Null);

    let object = addition::init().created_objects().remove(0);
    let increment = addition::increment(&object).expect("a counter");
    let start = Instant::now();
    let (code, body) = api.process(increment.clone(), &[(COUNTER, "0")]).await;
    let t_inc = start.elapsed();
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["outcome"], "accepted_t_commit");
    assert_eq!(body["transactionID"], INCREMENT_TX);
    assert_eq!(body["outputs"], json!([NEXT]));
    assert_eq!(object_becomes(api, NEXT, "active").await["value"], "1");
    object_becomes(api, COUNTER, "inactive").await;

    // A different transaction spending the consumed counter: refused, with a reason.
    let mut again = increment;
    again.parameters = vec![json!("second spend")];
    let start = Instant::now();
    let (code, body) = api.process(again, &[(COUNTER, "0")]).await;
    let t_abort = start.elapsed();
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["success"], "False");
    assert!(
        body["outcome"] == "prepared_t_abort" || body["outcome"] == "accepted_t_abort",
        "{body}"
    );
    assert!(body["reason"].as_str().is_some_and(|r| r.contains("inactive")), "{body}");
    assert!(body["transactionID"].as_str().is_some_and(|t| t.len() == 64), "{body}");

    // The transactions, as their shards recorded them and as this API timed them.
    let (code, body) = api.get(&format!("/api/1.0/transactions/{INIT_TX}")).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["outcome"], "accepted_t_commit");
    let shards = body["shards"].as_array().expect("records");
    assert!(shards.iter().any(|s| s["shard"] == 1 && s["phase"] == "accepted"), "{body}");
    assert_eq!(body["timings"]["outcome"], "accepted_t_commit");
    assert!(body["timings"]["latencyMs"].as_f64().is_some_and(|l| l > 0.0), "{body}");
    let (code, body) = api.get(&format!("/api/1.0/transactions/{INCREMENT_TX}")).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["outcome"], "accepted_t_commit");
    [t_init, t_inc, t_abort]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn addition_walkthrough_over_a_memory_network() {
    let api = common::start(Protocol::Pbft, false, ApiConfig::default()).await;
    addition(&api).await;
    // The same init posted again is the same transaction: answered with its outcome again.
    let (code, body) = api.process(addition::init(), &[]).await;
    assert_eq!((code, &body["outcome"]), (200, &json!("accepted_t_commit")), "{body}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn addition_walkthrough_over_quic_with_hotstuff() {
    let api = common::start(Protocol::HotStuff, true, ApiConfig::default()).await;
    let [init, inc, abort] = addition(&api).await;
    eprintln!(
        "API over QUIC (HotStuff 2x4): init {init:?}, increment {inc:?}, refused spend {abort:?}"
    );
    // A small closed-loop sample: 20 chained increments, each through the API.
    let mut counter = addition::init().created_objects().remove(0);
    counter = addition::increment(&counter).expect("counter").created_objects().remove(0);
    let mut times = Vec::new();
    for _ in 0..20 {
        let tx = addition::increment(&counter).expect("a counter");
        let next = tx.created_objects().remove(0);
        let id = counter.id.to_hex();
        let start = Instant::now();
        let (code, body) = api.process(tx, &[(id.as_str(), counter.value.as_str())]).await;
        times.push(start.elapsed());
        assert_eq!(code, 200, "{body}");
        counter = next;
    }
    times.sort();
    let total: Duration = times.iter().sum();
    eprintln!(
        "API over QUIC: 20 chained increments p50 {:?} max {:?} ({:.1} tx/s closed loop)",
        times[10],
        times[19],
        20.0 / total.as_secs_f64()
    );
    api.stop().await;
}
