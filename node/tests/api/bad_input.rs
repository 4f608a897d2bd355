//! Bad requests get the right status and a JSON message, never a 500 or a hang; a request
//! the replicas cannot decide in time gets a 504 and is not re-sent for ever.

use std::time::{Duration, Instant};

use chainspace_contracts::{addition, dummy};
use chainspace_core::committee::Committee;
use chainspace_core::transport::MemoryNetwork;
use chainspace_node::api::ApiConfig;
use chainspace_node::{Client, ClientConfig};
use consensus_any::Protocol;
use serde_json::{Value, json};

use crate::common::{self, Api};

const PROCESS: &str = "/api/1.0/transaction/process";

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_else(|| panic!("a message: {body}"))
}

/// The init request's JSON with `edit` applied to its transaction.
fn init_with(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut tx = addition::init().to_json();
    edit(tx.as_object_mut().expect("an object"));
    json!({ "transaction": tx, "store": {} })
}

/// The answer has status `want` and a JSON message mentioning `mentions`.
fn expect((code, body): (u16, Value), want: u16, mentions: &str) {
    assert_eq!(code, want, "{body}");
    assert_eq!(body["success"], "False", "{body}");
    assert!(message(&body).contains(mentions), "{mentions:?} not in {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_4xx_with_a_json_message() {
    let cfg = ApiConfig {
        body_limit: 64 * 1024,
        ..ApiConfig::default().with_contracts(&chainspace_contracts::registry())
    };
    let api = common::start(Protocol::Pbft, false, cfg).await;

    // Not JSON at all, or cut short: 400.
    expect(api.post_raw(PROCESS, "{\"transaction\": ").await, 400, "malformed JSON");
    expect(api.post_raw(PROCESS, "hello").await, 400, "malformed JSON");
    expect(api.post_raw(PROCESS, "").await, 400, "malformed JSON");
    // JSON, but not a transaction request: 422 naming the place.
    let missing = init_with(|t| {
        t.remove("methodID");
    });
    expect(api.post_json(PROCESS, &missing).await, 422, "transaction.methodID");
    let wrong = init_with(|t| {
        t.insert("inputIDs".into(), json!("not a list"));
    });
    expect(api.post_json(PROCESS, &wrong).await, 422, "transaction.inputIDs");
    let bad_id = init_with(|t| {
        t.insert("inputIDs".into(), json!(["ABC"]));
    });
    expect(api.post_json(PROCESS, &bad_id).await, 422, "inputIDs[0]");
    let no_tx = json!({ "store": {} });
    expect(api.post_json(PROCESS, &no_tx).await, 422, "transaction");
    expect(api.post_json(PROCESS, &json!([1, 2])).await, 422, "request");
    let bad_store = json!({ "transaction": addition::init().to_json(), "store": {"x": "1"} });
    expect(api.post_json(PROCESS, &bad_store).await, 422, "store");
    // A contract the node has no checker for: refused before ordering.
    let unknown = init_with(|t| {
        t.insert("contractID".into(), json!("no-such-contract"));
    });
    expect(api.post_json(PROCESS, &unknown).await, 422, "unknown contract");
    // Too big: 413, whether the length is announced or not.
    let big = "x".repeat(100 * 1024);
    expect(api.post_raw(PROCESS, big.clone()).await, 413, "too large");
    let status = chunked_post(&api, PROCESS, big.as_bytes()).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");

    // Reads: malformed IDs are 400, unknown ones 404.
    expect(api.get("/api/1.0/objects/xyz").await, 400, "64-digit");
    let upper = "A9BDE7FAC83D70A4C6811D74D3CB218ABC6C0F69E0DC5A77F0097BE61FAF79C7";
    expect(api.get(&format!("/api/1.0/objects/{upper}")).await, 400, "64-digit");
    expect(api.get("/api/1.0/transactions/12").await, 400, "64-digit");
    let nothing = "00".repeat(32);
    expect(api.get(&format!("/api/1.0/objects/{nothing}")).await, 404, "unknown");
    expect(api.get(&format!("/api/1.0/transactions/{nothing}")).await, 404, "unknown");
    // Unknown routes and wrong methods.
    expect(api.get("/api/2.0/").await, 404, "no route");
    expect(api.get(PROCESS).await, 405, "method");

    // After all that, the API still processes transactions.
    let (code, body) = api.process(dummy::create("after-bad-input", 2), &[]).await;
    assert_eq!(code, 200, "{body}");
    api.stop().await;
}

/// POST `body` in 4 KiB chunks without announcing its length (as a streaming client
/// would) over a raw connection; return the status line of the answer.
async fn chunked_post(api: &Api, path: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = api.base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(host).await.expect("connects");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    let mut request = head.into_bytes();
    for chunk in body.chunks(4096) {
        request.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend(chunk);
        request.extend(b"\r\n");
    }
    request.extend(b"0\r\n\r\n");
    // The server may answer and close before reading everything: a write error is fine.
    let _ = s.write_all(&request).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(common::WAIT, s.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "answered in time");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.contains("application/json"), "{text}");
    text.lines().next().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_known_contracts_the_replicas_refuse_an_unknown_one() {
    let api = common::start(Protocol::Pbft, false, ApiConfig::default()).await;
    let unknown = init_with(|t| {
        t.insert("contractID".into(), json!("no-such-contract"));
    });
    let (code, body) = api.post_json(PROCESS, &unknown).await;
    assert_eq!(code, 409, "{body}");
    assert!(body["reason"].as_str().is_some_and(|r| r.contains("no checker")), "{body}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_outcome_in_time_is_a_504_and_the_client_gives_the_transaction_up() {
    // A client of a committee nobody runs: every message is lost.
    let (committee, _) = Committee::for_test(2, 4);
    let network = MemoryNetwork::new(64);
    let config = ClientConfig {
        retry_after: Duration::from_millis(50),
        read_timeout: Duration::from_millis(300),
    };
    let client = Client::spawn(committee, std::sync::Arc::new(network.client()), config);
    let cfg = ApiConfig { process_timeout: Duration::from_millis(300), ..ApiConfig::default() };
    let api = common::serve(None, client.clone(), cfg).await;

    let start = Instant::now();
    let (code, body) = api.process(addition::init(), &[]).await;
    assert_eq!(code, 504, "{body}");
    assert_eq!(body["outcome"], "timeout");
    assert_eq!(
        body["transactionID"],
        "f0f110bd77f6b3603c8386b02a866dbc10d26b2ae75c371fe268dc20ee3a57ff"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    let object = "a9bde7fac83d70a4c6811d74d3cb218abc6c0f69e0dc5a77f0097be61faf79c7";
    let (code, body) = api.get(&format!("/api/1.0/objects/{object}")).await;
    assert_eq!(code, 504, "{body}");
    assert!(message(&body).contains("matching answers"), "{body}");

    // Nobody waits for the transaction any more: at its next re-send it is forgotten,
    // and the re-sends stop.
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.stats().forgotten == 0 {
        assert!(Instant::now() < deadline, "never forgotten: {:?}", client.stats());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sends = || {
        let s = client.stats();
        s.messages_out + s.send_errors
    };
    let sent = sends();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sends(), sent, "no more re-sends");
    api.stop().await;
}
