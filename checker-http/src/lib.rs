//! Contract checkers over HTTP, as the original Chainspace ran them: each contract's
//! checker is a service (any language) that answers
//! `POST http://HOST:PORT/<contractID>/<methodID>` with `{"success": true|false}`
//! (DESIGN.md, "Checker call"; the body is [`CheckRequest::to_json`]).
//!
//! * [`HttpChecker`]: a service someone else runs, at a URL. One keep-alive client,
//!   concurrent calls, a per-call timeout, retries with back-off on connection errors.
//! * [`ManagedChecker`]: a service this replica runs as a child process (by default
//!   `python3 contracts/python/<contract>.py checker --port 0`), started on first use,
//!   restarted if it dies, killed on shutdown or drop, its output logged to a file.
//! * [`build`] / [`registry`]: a [`CheckerRegistry`](chainspace_core::checker::CheckerRegistry)
//!   where each contract's checker is native, managed or at a URL ([`CheckerChoice`]).
//!
//! A checker that cannot answer (unreachable, timed out, a 5xx or non-JSON answer) is an
//! `Err`, which the node counts as a checker failure and treats as a rejection; the
//! service's own refusals of a call (400, 404, 413) are rejections with its message.
//!
//! [`CheckRequest::to_json`]: chainspace_core::checker::CheckRequest::to_json
#![deny(missing_docs)]

mod answer;
mod error;
mod http;
mod managed;
mod process;
mod registry;

pub use error::CheckerHttpError;
pub use http::{HttpChecker, HttpConfig, parse_url};
pub use managed::{ManagedChecker, ManagedConfig};
pub use process::{ManagedCommand, PYTHON_ENV, python_program};
pub use registry::{CheckerChoice, Checkers, build, registry};
