//! The client API over HTTP, compatible with the original Chainspace's (DESIGN.md,
//! "Compatibility with the original Chainspace"), so its Python tools and contracts work
//! unchanged against this system.
//!
//! Routes:
//!
//! * `GET /api/1.0/` — what this service is, the committee's shape and the routes;
//! * `POST /api/1.0/transaction/process` — process a transaction and wait for its outcome
//!   ([`process`]);
//! * `GET /api/1.0/objects/{id}` and `GET /api/1.0/transactions/{id}` — reads ([`read`]).
//!
//! Every request is served through one shared [`Client`], whose single task multiplexes
//! all submissions and reads, so many concurrent HTTP clients cost one set of connections
//! to the replicas. No request can hang or exhaust the server: bodies are capped
//! ([`ApiConfig::body_limit`], 413), every request has a deadline
//! ([`ApiConfig::request_timeout`]), and every error is a JSON body (see [`error`]).

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chainspace_core::checker::CheckerRegistry;
use chainspace_core::committee::Committee;
use chainspace_core::types::ShardId;
use serde_json::{Value, json};
use tower_http::timeout::TimeoutLayer;

use crate::{Client, NodeError};

mod body;
mod error;
mod process;
mod read;
mod recent;

use recent::Recent;

/// How the API behaves.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Where to listen: the original's 127.0.0.1:5000 by default, which its tools assume.
    pub listen: SocketAddr,
    /// The largest request body accepted, in bytes; larger ones get a 413 before they are
    /// read whole, so a client cannot make the API buffer without bound.
    pub body_limit: usize,
    /// How long `POST /api/1.0/transaction/process` waits for an outcome before answering
    /// 504 (the transaction may still be decided; the client stops re-sending it).
    pub process_timeout: Duration,
    /// The deadline of any request, after which it is answered 408: a backstop above the
    /// process wait and the client's read timeout, so that no request can hang.
    pub request_timeout: Duration,
    /// The contracts the replicas have checkers for, if known: a transaction calling
    /// another is refused at once (422) instead of being ordered only to be rejected.
    /// `None` leaves it to the replicas (an abort naming the missing checker).
    pub contracts: Option<BTreeSet<String>>,
    /// How many processed transactions to remember for their timings.
    pub recent: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 5000)),
            body_limit: 1 << 20,
            process_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            contracts: None,
            recent: 10_000,
        }
    }
}

impl ApiConfig {
    /// This configuration, refusing up front the contracts `registry` has no checker for.
    pub fn with_contracts(mut self, registry: &CheckerRegistry) -> Self {
        self.contracts = Some(registry.contracts().map(str::to_string).collect());
        self
    }
}

/// What every request handler shares. Cloning is cheap.
#[derive(Clone)]
pub struct ApiState {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    committee: Committee,
    cfg: ApiConfig,
    recent: Mutex<Recent>,
}

impl ApiState {
    /// The state of an API that submits and reads through `client`, a client of
    /// `committee`.
    pub fn new(client: Client, committee: Committee, cfg: ApiConfig) -> Self {
        let recent = Mutex::new(Recent::new(cfg.recent));
        ApiState { inner: Arc::new(Inner { client, committee, cfg, recent }) }
    }

    /// The configuration.
    pub fn config(&self) -> &ApiConfig {
        &self.inner.cfg
    }

    fn recent(&self) -> MutexGuard<'_, Recent> {
        self.inner.recent.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The routes, with the body limit, the per-request deadline and JSON errors applied.
pub fn router(state: ApiState) -> Router {
    let cfg = state.config().clone();
    Router::new()
        .route("/api/1.0", get(index))
        .route("/api/1.0/", get(index))
        .route("/api/1.0/transaction/process", post(process::process))
        .route("/api/1.0/objects/{id}", get(read::object))
        .route("/api/1.0/transactions/{id}", get(read::transaction))
        .fallback(error::no_route)
        .with_state(state)
        .layer(DefaultBodyLimit::max(cfg.body_limit))
        .layer(axum::middleware::from_fn_with_state(cfg.body_limit, body::limit_body))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, cfg.request_timeout))
        .layer(axum::middleware::map_response(error::json_errors))
}

/// Serve [`router`]`(state)` on `listener` until `shutdown` resolves, then finish the
/// requests in flight (each bounded by the request deadline) and return.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "client API listening");
    }
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

/// The routes, as the index shows them.
const ROUTES: [(&str, &str, &str); 4] = [
    ("GET", "/api/1.0/", "this index"),
    (
        "POST",
        "/api/1.0/transaction/process",
        "process {\"transaction\": {...}, \"store\": {objectID: value}} and wait for the \
         outcome: 200 on accepted_t_commit, 409 on an abort, 504 if undecided in time",
    ),
    ("GET", "/api/1.0/objects/{id}", "an object's value, status and shard"),
    ("GET", "/api/1.0/transactions/{id}", "a transaction's record on each shard, and timings"),
];

/// `GET /api/1.0/`.
async fn index(State(state): State<ApiState>) -> Json<Value> {
    let committee = &state.inner.committee;
    let cfg = state.config();
    let shards: Vec<Value> = (0..committee.num_shards())
        .filter_map(|s| committee.shard(ShardId(s)))
        .enumerate()
        .map(|(i, c)| json!({ "shard": i, "replicas": c.n(), "faultsTolerated": c.f() }))
        .collect();
    let routes: Vec<Value> = ROUTES
        .iter()
        .map(|(method, path, what)| json!({ "method": method, "path": path, "description": what }))
        .collect();
    Json(json!({
        "service": "chainspace",
        "description": "Chainspace client API: sharded smart contracts, each shard a BFT \
                        group, transactions committed across shards by S-BAC",
        "version": env!("CARGO_PKG_VERSION"),
        "api": "1.0",
        "committee": { "shards": committee.num_shards(), "members": shards },
        "contracts": cfg.contracts,
        "limits": {
            "bodyBytes": cfg.body_limit,
            "processTimeoutMs": cfg.process_timeout.as_millis() as u64,
            "requestTimeoutMs": cfg.request_timeout.as_millis() as u64,
        },
        "routes": routes,
    }))
}
