//! How the client API says no: every error is a JSON body `{"success": "False",
//! "message": ...}` with a 4xx or 5xx status, whatever produced it (a handler, an extractor's
//! rejection, the body-size limit, the per-request timeout, an unknown route), so that a
//! client of the original API, which always parses the body as JSON, never meets plain
//! text or an empty body.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::NodeError;

/// An error answer of the API.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    /// More fields for the body (the transaction ID of a timed-out request).
    extra: Map<String, Value>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), extra: Map::new() }
    }

    /// Add `key: value` to the body.
    pub(crate) fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    /// A request the API cannot act on as sent: 400.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// The status of this answer.
    #[cfg(test)]
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("success".into(), "False".into());
        body.insert("message".into(), self.message.into());
        body.extend(self.extra);
        (self.status, Json(Value::Object(body))).into_response()
    }
}

impl From<NodeError> for ApiError {
    /// The client's failures: a read that found no agreement in time is a gateway timeout
    /// (the replicas behind this API did not answer), a stopped client is unavailable.
    fn from(e: NodeError) -> Self {
        let status = match e {
            NodeError::ReadTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<BytesRejection> for ApiError {
    /// A body that could not be read: 413 over the size limit, 400 otherwise.
    fn from(r: BytesRejection) -> Self {
        ApiError::new(r.status(), format!("could not read the request body: {}", r.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(r.status(), r.body_text())
    }
}

/// Parse a request body as JSON: any content type is taken (the original's tools and
/// `curl -d` do not all say `application/json`), and a syntax error is a 400 naming the
/// line and column. Nesting deeper than serde_json's recursion limit is a syntax error
/// too, so no body can exhaust the stack.
pub(crate) fn parse_json(body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let bytes = body?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))
}

/// Middleware: give every error response that is not JSON already (axum's 405, tower-http's
/// 413 and 408, a panic's 500) a JSON body with the status's reason as message, keeping
/// its status and headers (`Allow` on a 405).
pub(crate) async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large".to_string(),
        StatusCode::REQUEST_TIMEOUT => "request took too long".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed on this route".to_string(),
        s => s.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let (mut parts, _) = response.into_parts();
    let body = json!({ "success": "False", "message": message }).to_string();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// The answer to a route that does not exist.
pub(crate) async fn no_route(uri: axum::http::Uri) -> ApiError {
    let path: String = uri.path().chars().take(200).collect();
    ApiError::new(StatusCode::NOT_FOUND, format!("no route {path}; see GET /api/1.0/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_error_responses_become_json_with_their_status_and_headers() {
        let mut plain = (StatusCode::METHOD_NOT_ALLOWED, "").into_response();
        plain.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET"));
        let r = json_errors(plain).await;
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[header::ALLOW], "GET");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        let ok = json_errors((StatusCode::OK, "fine").into_response()).await;
        assert_eq!(ok.headers()[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    }

    #[test]
    fn syntax_errors_are_400_and_client_failures_map_to_gateway_statuses() {
        let e = parse_json(Ok(Bytes::from_static(b"{\"transaction\": "))).unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        let deep = "[".repeat(10_000);
        let e = parse_json(Ok(Bytes::from(deep))).unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        let timeout = NodeError::ReadTimeout {
            shard: chainspace_core::types::ShardId(0),
            need: 2,
            after: std::time::Duration::from_secs(1),
        };
        assert_eq!(ApiError::from(timeout).status(), StatusCode::GATEWAY_TIMEOUT);
        let stopped = NodeError::Stopped { what: "client" };
        assert_eq!(ApiError::from(stopped).status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
