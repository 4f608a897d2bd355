//! The body-size limit, with a lingering read.
//!
//! A server that answers 413 and closes the connection while the client is still
//! sending the body makes the client fail with a broken pipe or a reset (which can also
//! discard the 413 in flight), so ordinary clients (reqwest, Python's requests, curl)
//! report a connection error instead of the JSON answer. So a body over the limit is
//! read to its end and discarded, up to [`DRAIN_FACTOR`] times the limit, and only then
//! answered with 413 on a connection that stays usable. A body larger still (or announced
//! larger still) is refused at once: draining it would cost more than the courtesy is
//! worth.

use std::future::poll_fn;
use std::pin::Pin;

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// A body over the limit is drained up to this many times the limit before the 413.
pub(crate) const DRAIN_FACTOR: usize = 16;

/// Middleware: read the body (at most `limit` bytes kept) and pass it on, or answer 413.
pub(crate) async fn limit_body(State(limit): State<usize>, req: Request, next: Next) -> Response {
    let drain_max = limit.saturating_mul(DRAIN_FACTOR);
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|n| n > drain_max) {
        return too_large(limit);
    }
    let (parts, mut body) = req.into_parts();
    let mut kept = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let Ok(frame) = frame else {
            return ApiError::new(StatusCode::BAD_REQUEST, "the request body could not be read")
                .into_response();
        };
        let Ok(data) = frame.into_data() else { continue };
        total = total.saturating_add(data.len());
        if total <= limit {
            kept.extend_from_slice(&data);
        } else if total > drain_max {
            return too_large(limit);
        }
    }
    if total > limit {
        return too_large(limit);
    }
    next.run(Request::from_parts(parts, Body::from(kept))).await
}

fn too_large(limit: usize) -> Response {
    let message = format!("request body too large: over the limit of {limit} bytes");
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, message).into_response()
}
