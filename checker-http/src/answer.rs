//! Reading a checker service's answer.
//!
//! Core's [`Checker`](chainspace_core::checker::Checker) trait separates a *verdict*
//! (the contract accepts or rejects the call) from an *error* (the checker could not
//! answer). The mapping follows that line:
//!
//! * `2xx {"success": true|false, "reason"?}` is the contract's verdict;
//! * `400`, `404` and `413` with the service's JSON error body are the service's
//!   documented answers *about the call* (malformed, no such method, too large): they
//!   depend only on the call, so every replica gets the same one, and the call is
//!   rejected with the service's message as the reason;
//! * any other status, or a body that is not that JSON, means the service failed (a
//!   crash, a proxy, a wrong port): an error, never a verdict, and never a panic.

use chainspace_core::checker::CheckVerdict;
use serde_json::Value;

use crate::error::{CheckerHttpError, clip};

/// The longest reason kept from an answer: reasons travel in abort outcomes.
const MAX_REASON_CHARS: usize = 500;
/// How much of an unexpected body is quoted in an error.
const MAX_QUOTED_CHARS: usize = 200;

/// Statuses the Python service uses for calls it refuses to check (see the module docs).
const REFUSALS: [u16; 3] = [400, 404, 413];

/// The verdict in the answer `status` + `body` of the checker at `url`, or why there is
/// none.
pub(crate) fn verdict(
    url: &str,
    status: u16,
    body: &[u8],
) -> Result<CheckVerdict, CheckerHttpError> {
    let json = serde_json::from_slice::<Value>(body).ok();
    if (200..300).contains(&status) {
        let Some(json) = json else {
            return Err(bad(url, "not JSON", body));
        };
        return match json.get("success") {
            Some(Value::Bool(true)) => Ok(CheckVerdict::accept()),
            Some(Value::Bool(false)) => Ok(CheckVerdict::reject(
                text_field(&json, "reason")
                    .unwrap_or_else(|| "the checker rejected the call (no reason given)".into()),
            )),
            Some(_) => Err(bad(url, "\"success\" is not a boolean", body)),
            None => Err(bad(url, "no \"success\" key", body)),
        };
    }
    if REFUSALS.contains(&status)
        && let Some(json) = &json
        && json.get("success") == Some(&Value::Bool(false))
    {
        let message = text_field(json, "error")
            .or_else(|| text_field(json, "reason"))
            .unwrap_or_else(|| "no message".into());
        tracing::warn!(%url, status, %message, "checker service refused a call");
        return Ok(CheckVerdict::reject(format!(
            "the checker service refused the call (HTTP {status}): {message}"
        )));
    }
    Err(CheckerHttpError::Status { url: url.into(), status, body: quote(body) })
}

/// `json[key]` as text, clipped.
fn text_field(json: &Value, key: &str) -> Option<String> {
    match json.get(key)? {
        Value::String(s) => Some(clip(s, MAX_REASON_CHARS)),
        Value::Null => None,
        other => Some(clip(&other.to_string(), MAX_REASON_CHARS)),
    }
}

fn bad(url: &str, what: &str, body: &[u8]) -> CheckerHttpError {
    CheckerHttpError::BadAnswer { url: url.into(), reason: format!("{what}: {}", quote(body)) }
}

/// The start of `body` as text, for an error message.
fn quote(body: &[u8]) -> String {
    if body.is_empty() {
        return "(empty body)".into();
    }
    format!("{:?}", clip(&String::from_utf8_lossy(body), MAX_QUOTED_CHARS))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://127.0.0.1:1/addition/init";

    #[test]
    fn success_true_accepts_and_false_rejects_with_the_reason() {
        assert_eq!(verdict(URL, 200, br#"{"success": true}"#), Ok(CheckVerdict::accept()));
        let no = verdict(URL, 200, br#"{"success": false, "reason": "outputs[0] differs"}"#);
        assert_eq!(no, Ok(CheckVerdict::reject("outputs[0] differs")));
        let bare = verdict(URL, 200, br#"{"success": false}"#).expect("a verdict");
        assert!(!bare.accepted && bare.reason.expect("a reason").contains("no reason"));
    }

    #[test]
    fn long_reasons_are_clipped() {
        let body = serde_json::json!({"success": false, "reason": "x".repeat(10_000)});
        let v = verdict(URL, 200, body.to_string().as_bytes()).expect("a verdict");
        assert!(v.reason.expect("reason").len() < 600);
    }

    #[test]
    fn malformed_success_answers_are_errors() {
        for body in [&b"not json"[..], b"", b"[]", br#"{"success": "True"}"#, br#"{"ok": 1}"#] {
            let e = verdict(URL, 200, body).expect_err("not a verdict");
            assert!(matches!(e, CheckerHttpError::BadAnswer { .. }), "{e}");
        }
    }

    #[test]
    fn documented_refusals_reject_and_failures_are_errors() {
        let refused = verdict(URL, 404, br#"{"success": false, "error": "no method 'x'"}"#);
        let reason = refused.expect("a verdict").reason.expect("a reason");
        assert!(reason.contains("HTTP 404") && reason.contains("no method"), "{reason}");
        for (status, body) in [
            (500, &br#"{"success": false, "error": "internal error: KeyError"}"#[..]),
            (404, b"<html>not found</html>"),
            (411, br#"{"success": false, "error": "length"}"#),
            (302, b""),
        ] {
            let e = verdict(URL, status, body).expect_err("not a verdict");
            assert!(matches!(e, CheckerHttpError::Status { .. }), "{e}");
            assert!(e.to_string().contains(&status.to_string()), "{e}");
        }
    }
}
