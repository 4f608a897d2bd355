//! Bad HTTP input against the real `chainspace client-api` process: each answered with
//! its status and a JSON `{"success": "False", "message": ...}`.

use chainspace_contracts::dummy;
use serde_json::{Value, json};

use crate::harness::{Http, PROCESS};
use crate::steps::COUNTER;

/// Bad requests against the real process: each answered with its status and a JSON body
/// `{"success": "False", "message": ...}`; and the API still works afterwards.
pub async fn bad_inputs(http: &Http) {
    let (_, index) = http.get("/api/1.0/").await;
    let limit = index["limits"]["bodyBytes"].as_u64().expect("the body limit") as usize;
    let good = || dummy::create("e2e-bad-input", 1).to_json();
    let with = |edit: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut tx = good();
        edit(tx.as_object_mut().unwrap());
        json!({ "transaction": tx, "store": {} }).to_string()
    };
    let nothing = "00".repeat(32);
    let too_big = oversized(limit);

    struct Case {
        name: &'static str,
        method: reqwest::Method,
        path: String,
        body: Option<String>,
        status: u16,
        mentions: &'static str,
    }
    let post = |name, body: String, status, mentions| Case {
        name,
        method: reqwest::Method::POST,
        path: PROCESS.into(),
        body: Some(body),
        status,
        mentions,
    };
    let call = |name, method, path: String, status, mentions| Case {
        name,
        method,
        path,
        body: None,
        status,
        mentions,
    };
    use reqwest::Method;
    let cases = [
        post("malformed JSON", "{\"transaction\": ".into(), 400, "malformed JSON"),
        post("not JSON", "hello".into(), 400, "malformed JSON"),
        post("empty body", String::new(), 400, "malformed JSON"),
        post(
            "missing field",
            with(&|t| {
                t.remove("methodID");
            }),
            422,
            "methodID",
        ),
        post("missing transaction", json!({ "store": {} }).to_string(), 422, "transaction"),
        post(
            "wrong type",
            with(&|t| {
                t.insert("inputIDs".into(), json!("not a list"));
            }),
            422,
            "inputIDs",
        ),
        post(
            "wrong type (parameters)",
            with(&|t| {
                t.insert("parameters".into(), json!(17));
            }),
            422,
            "parameters",
        ),
        post(
            "malformed input id",
            with(&|t| {
                t.insert("inputIDs".into(), json!(["not-hex"]));
            }),
            422,
            "inputIDs[0]",
        ),
        // The API knows the replicas' checkers (from the config): refused before ordering.
        post(
            "unknown contract",
            with(&|t| {
                t.insert("contractID".into(), json!("no-such-contract"));
            }),
            422,
            "unknown contract",
        ),
        call("malformed object id", Method::GET, "/api/1.0/objects/xyz".into(), 400, "64"),
        call(
            "upper-case object id",
            Method::GET,
            format!("/api/1.0/objects/{}", COUNTER.to_uppercase()),
            400,
            "64",
        ),
        call("malformed transaction id", Method::GET, "/api/1.0/transactions/12".into(), 400, "64"),
        call("unknown object", Method::GET, format!("/api/1.0/objects/{nothing}"), 404, "unknown"),
        call(
            "unknown transaction",
            Method::GET,
            format!("/api/1.0/transactions/{nothing}"),
            404,
            "unknown",
        ),
        call("unknown route", Method::GET, "/api/2.0/".into(), 404, "no route"),
        call("wrong method (GET process)", Method::GET, PROCESS.into(), 405, "method"),
        call("wrong method (DELETE process)", Method::DELETE, PROCESS.into(), 405, "method"),
        call(
            "wrong method (POST object)",
            Method::POST,
            format!("/api/1.0/objects/{COUNTER}"),
            405,
            "method",
        ),
        call("wrong method (PUT index)", Method::PUT, "/api/1.0/".into(), 405, "method"),
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let mut request = http.client.request(case.method.clone(), http.url(&case.path));
        if let Some(body) = &case.body {
            request = request.header("content-type", "application/json").body(body.clone());
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let status = response.status().as_u16();
        let json_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let text = response.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let message = body["message"].as_str().unwrap_or_default();
        if status != case.status
            || !json_type
            || body["success"] != "False"
            || !message.to_lowercase().contains(&case.mentions.to_lowercase())
        {
            failures.push(format!(
                "{}: want {} mentioning {:?}, got {status} (JSON: {json_type}) {text:.300}",
                case.name, case.status, case.mentions
            ));
        }
    }
    // Far over the limit (more than the API drains, 16 times the limit): a request that
    // announces such a length is answered 413 at once, before any body is sent. (One
    // merely over the limit is read to its end, then answered: see `oversized_bodies`.)
    let (status, text) = announce_and_read(http, 16 * too_big.len() + 1).await;
    let body: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap_or_default())
        .unwrap_or(Value::Null);
    if status != 413 || body["success"] != "False" || !text.contains("application/json") {
        failures.push(format!("body over the limit: want 413 JSON, got {text:.300}"));
    } else if !body["message"].as_str().is_some_and(|m| m.contains("too large")) {
        failures.push(format!("body over the limit: message {body}"));
    }
    assert!(failures.is_empty(), "bad inputs answered wrongly:\n{}", failures.join("\n"));

    // After all that, the API still processes transactions.
    let (code, body) = http.process(good(), json!({})).await;
    assert_eq!(code, 200, "{body}");
}

/// A valid request padded (in its parameter) to just over `limit` bytes.
pub fn oversized(limit: usize) -> String {
    let mut tx = dummy::create("e2e-bad-input", 1).to_json();
    tx["parameters"] = json!(["x".repeat(limit + 1024)]);
    json!({ "transaction": tx, "store": {} }).to_string()
}

/// Send only the head of a POST announcing `length` bytes of body, then read the answer
/// (the connection closed after it): its status and whole text.
async fn announce_and_read(http: &Http, length: usize) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = http.base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(host).await.expect("connects");
    let head = format!(
        "POST {PROCESS} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n\
         content-length: {length}\r\nconnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.expect("the head is sent");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(crate::harness::WAIT, s.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "answered before the body was sent");
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

/// `tries` oversized requests sent whole, as an ordinary client sends them: how many were
/// answered 413, and the errors of the others.
pub async fn oversized_bodies(http: &Http, tries: usize) -> (usize, Vec<String>) {
    let (_, index) = http.get("/api/1.0/").await;
    let limit = index["limits"]["bodyBytes"].as_u64().expect("the body limit") as usize;
    let body = oversized(limit);
    let mut answered = 0;
    let mut errors = Vec::new();
    for _ in 0..tries {
        match http.try_post(PROCESS, body.clone()).await {
            Ok((413, _)) => answered += 1,
            Ok((code, body)) => errors.push(format!("{code} {body}")),
            Err(e) => errors.push(format!("{e:?}")),
        }
    }
    (answered, errors)
}
