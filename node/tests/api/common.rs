//! Starting and stopping a network with the API in front of it.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use chainspace_core::transaction::{Transaction, TransactionRequest};
use chainspace_core::transport::MemoryNetwork;
use chainspace_node::api::{self, ApiConfig, ApiState};
use chainspace_node::{
    Client, ClientConfig, LocalConfig, LocalNetwork, NodeError, TransportChoice,
};
use consensus_any::Protocol;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The longest any one HTTP exchange may take.
pub const WAIT: Duration = Duration::from_secs(40);

/// A network and the API serving it.
pub struct Api {
    pub net: Option<LocalNetwork>,
    pub client: Client,
    pub base: String,
    pub http: reqwest::Client,
    stop: oneshot::Sender<()>,
    server: JoinHandle<Result<(), NodeError>>,
}

/// A 2 x 4 network running `protocol`, over memory or QUIC.
pub fn network(protocol: Protocol, quic: bool) -> LocalNetwork {
    let mut c = LocalConfig::new(2, 4, protocol.default_config());
    if !quic {
        c.transport = TransportChoice::Memory(MemoryNetwork::new(4096));
    }
    LocalNetwork::start(c).expect("network starts")
}

/// Serve the API for `client` (a client of `net`, or of nothing when `net` is `None`).
pub async fn serve(net: Option<LocalNetwork>, client: Client, cfg: ApiConfig) -> Api {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("free port");
    let base = format!("http://{}", listener.local_addr().expect("bound"));
    let state = ApiState::new(client.clone(), client.committee().clone(), cfg);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(api::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder().timeout(WAIT).build().expect("http client");
    Api { net, client, base, http, stop, server }
}

/// A 2 x 4 network over memory (or QUIC) with the API in front.
pub async fn start(protocol: Protocol, quic: bool, cfg: ApiConfig) -> Api {
    let net = network(protocol, quic);
    let client = net.client(ClientConfig::default()).expect("client");
    serve(Some(net), client, cfg).await
}

impl Api {
    /// `GET path`: the status and the JSON body (every answer must be JSON).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(format!("{}{path}", self.base)).send().await.expect("answered");
        read(r).await
    }

    /// `POST path` with a raw body.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("answered");
        read(r).await
    }

    /// Process `tx` with the values of `store`.
    pub async fn process(&self, tx: Transaction, store: &[(&str, &str)]) -> (u16, Value) {
        let store =
            store.iter().map(|(id, v)| (id.parse().expect("an id"), v.to_string())).collect();
        let request = TransactionRequest { transaction: tx, store };
        self.post_json("/api/1.0/transaction/process", &request.to_json()).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_raw(path, body.to_string()).await
    }

    /// Stop the server, the client and the network, all bounded.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(WAIT, self.server)
            .await
            .expect("server stops")
            .expect("server task")
            .expect("served without error");
        self.client.shutdown().await;
        if let Some(net) = self.net {
            tokio::time::timeout(WAIT, net.shutdown()).await.expect("network stops");
        }
    }
}

async fn read(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let is_json = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let text = r.text().await.expect("a body");
    assert!(is_json, "status {status}: a JSON answer, got {text:?}");
    let body = serde_json::from_str(&text).expect("valid JSON");
    (status, body)
}
