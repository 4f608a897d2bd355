//! Checkers that hang, answer garbage or are not there: each call fails with a reason,
//! within the timeout, and the request itself has the documented shape.

use std::time::{Duration, Instant};

use chainspace_core::Error;
use chainspace_core::checker::Checker;
use checker_http::{CheckerHttpError, HttpChecker};
use serde_json::Value;

use crate::common::{canned_server, closed_port, fast, hanging_server, increment};

/// The failure of one call to `url`, checked to come within the timeout and to be the
/// core error naming the contract.
async fn failure(url: &str) -> (CheckerHttpError, String) {
    let checker = HttpChecker::new(url, fast()).expect("valid URL");
    let began = Instant::now();
    let typed = checker.call(&increment("0", "1")).await.expect_err("no verdict");
    let core = checker.check(&increment("0", "1")).await.expect_err("no verdict");
    assert!(
        began.elapsed() < fast().timeout * 2 + Duration::from_millis(500),
        "{:?}",
        began.elapsed()
    );
    let Error::Checker { contract, reason } = core else { panic!("not a checker error: {core:?}") };
    assert_eq!(contract, "addition");
    assert!(reason.contains(url), "{reason}");
    (typed, reason)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_checker_times_out() {
    let (e, reason) = failure(&hanging_server().await).await;
    assert!(matches!(e, CheckerHttpError::Timeout { .. }), "{e}");
    assert!(reason.contains("no answer") && reason.contains("800ms"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_checker_is_unreachable_after_the_retries() {
    let (e, reason) = failure(&closed_port().await).await;
    assert!(matches!(e, CheckerHttpError::Connect { attempts: 3, .. }), "{e}");
    assert!(reason.contains("cannot reach"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_answers_are_failures_with_what_came_back() {
    let (url, _, _) = canned_server(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot json!").await;
    let (e, reason) = failure(&url).await;
    assert!(matches!(e, CheckerHttpError::BadAnswer { .. }), "{e}");
    assert!(reason.contains("not JSON") && reason.contains("not json!"), "{reason}");

    let (url, _, _) =
        canned_server(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops!")
            .await;
    let (e, reason) = failure(&url).await;
    assert!(matches!(e, CheckerHttpError::Status { status: 500, .. }), "{e}");
    assert!(reason.contains("HTTP 500") && reason.contains("oops!"), "{reason}");

    let (url, _, _) = canned_server(b"SSH-2.0-OpenSSH\r\n\r\n").await;
    let (_, reason) = failure(&url).await;
    assert!(!reason.is_empty());

    let huge: &'static [u8] = Box::leak(
        format!("HTTP/1.1 200 OK\r\nContent-Length: {0}\r\n\r\n{1}", 2 << 20, "x".repeat(2 << 20))
            .into_bytes()
            .into_boxed_slice(),
    );
    let (url, _, _) = canned_server(huge).await;
    let (e, _) = failure(&url).await;
    assert!(e.to_string().contains("answer over"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_have_the_documented_shape_and_reuse_one_connection() {
    let (url, seen, mut requests) =
        canned_server(b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{\"success\": true}").await;
    let checker = HttpChecker::new(&url, fast()).expect("valid URL");
    let request = increment("41", "42");
    // The client hands a connection back to its pool from a background task once the
    // answer's end is read, so a call made at once may race it and dial a second one
    // (seen on a loaded 2-core machine). Keep-alive is what is checked: calls spaced by
    // a pause reuse a pooled connection, and without keep-alive every call would dial.
    const CALLS: usize = 10;
    for _ in 0..CALLS {
        assert!(checker.check(&request).await.expect("answer").accepted);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        seen.connections() <= 2,
        "keep-alive: {} connections for {CALLS} calls",
        seen.connections()
    );

    let raw = requests.recv().await.expect("a request");
    let text = String::from_utf8(raw).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("post /addition/increment http/1.1\r\n"), "{head}");
    assert!(head.contains("\r\ncontent-type: application/json"), "{head}");
    assert_eq!(head.matches("content-length:").count(), 1, "{head}");
    assert!(head.contains(&format!("\r\ncontent-length: {}", body.len())), "{head}");
    let body: Value = serde_json::from_str(body).expect("JSON body");
    assert_eq!(body, request.to_json());
    assert_eq!(body["dependencies"], serde_json::json!([]));
}
