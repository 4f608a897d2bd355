//! Calling a checker service over HTTP (DESIGN.md, "Checker call").
//!
//! One [`reqwest::Client`] holds a pool of keep-alive connections, so a replica checking
//! many transactions pays the TCP handshake once per connection, not once per call, and
//! concurrent checks each take a pooled connection (or open one). Calls are bounded by a
//! per-call timeout, covering every attempt, so a hung service costs a replica at most
//! that long. Only *connection* failures are retried: a checker is a pure function of
//! the call, so asking again is harmless, but an answer, even a bad one, is final.
//!
//! Throughput is bounded by the service: the Python stdlib server writes an answer's
//! head and body in two segments with Nagle's algorithm on, so on a keep-alive
//! connection each answer waits for the client's delayed ACK (about 43 checks/s per
//! connection; about 4,200 with `disable_nagle_algorithm = True` on its handler).
//! Concurrent calls spread over more pooled connections and scale past that.

use std::time::Duration;

use async_trait::async_trait;
use chainspace_core::Error;
use chainspace_core::checker::{CheckRequest, CheckVerdict, Checker};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Client, Url};

use crate::answer;
use crate::error::{CheckerHttpError, clip};

/// How HTTP checkers call their services.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpConfig {
    /// The longest a check may take, every retry and back-off included. A replica also
    /// has its own check timeout; this one frees the connection and reports the cause.
    pub timeout: Duration,
    /// The longest a single TCP connect may take.
    pub connect_timeout: Duration,
    /// How many times a call is retried after a connection error (0: never).
    pub retries: u32,
    /// The pause before the first retry, doubled before each next one.
    pub backoff: Duration,
    /// The longest pause between retries.
    pub max_backoff: Duration,
    /// The largest answer body read; a larger one is a malformed answer. A verdict is a
    /// few bytes: this only guards against a service streaming garbage.
    pub max_answer_bytes: usize,
    /// How long an idle keep-alive connection is kept. Below the Python service's own
    /// 30 s idle limit, so the client rarely reuses a connection the service has closed.
    pub idle_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(1),
            retries: 3,
            backoff: Duration::from_millis(25),
            max_backoff: Duration::from_millis(400),
            max_answer_bytes: 1 << 20,
            idle_timeout: Duration::from_secs(20),
        }
    }
}

impl HttpConfig {
    /// A client with this configuration's connection settings, to share between the
    /// checkers of a run ([`HttpChecker::with_client`]) so they share one pool.
    pub fn client(&self) -> Result<Client, CheckerHttpError> {
        Client::builder()
            // A checker is a local service named by address: never through a proxy from
            // the environment, never redirected elsewhere.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .connect_timeout(self.connect_timeout)
            .pool_idle_timeout(self.idle_timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| CheckerHttpError::Client { reason: e.to_string() })
    }
}

/// Parse a checker service's base URL (`http://host:port`, optionally with a path prefix).
pub fn parse_url(url: &str) -> Result<Url, CheckerHttpError> {
    let invalid = |reason: String| CheckerHttpError::InvalidUrl { url: clip(url, 200), reason };
    let parsed = Url::parse(url).map_err(|e| invalid(e.to_string()))?;
    if parsed.scheme() != "http" {
        return Err(invalid("only http:// is supported".into()));
    }
    if parsed.cannot_be_a_base() || parsed.host().is_none() {
        return Err(invalid("no host".into()));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("a base URL has no query or fragment".into()));
    }
    Ok(parsed)
}

/// `base/<contract>/<method>`, each ID one percent-encoded path segment: IDs come from
/// clients, and a `/` or `?` in one must not route the call elsewhere.
pub(crate) fn call_url(base: &Url, contract: &str, method: &str) -> Url {
    let mut url = base.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().push(contract).push(method);
    }
    url
}

/// The client and settings behind [`HttpChecker`] and
/// [`ManagedChecker`](crate::ManagedChecker): calls to any base URL.
#[derive(Clone, Debug)]
pub(crate) struct Calls {
    client: Client,
    config: HttpConfig,
}

impl Calls {
    pub(crate) fn new(client: Client, config: HttpConfig) -> Self {
        Calls { client, config }
    }

    pub(crate) fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// Ask the service at `base` to check `request`.
    pub(crate) async fn check(
        &self,
        base: &Url,
        request: &CheckRequest,
    ) -> Result<CheckVerdict, CheckerHttpError> {
        let url = call_url(base, &request.call.contract_id, &request.call.method_id);
        let body = request.to_json().to_string().into_bytes();
        let timeout = self.config.timeout;
        match tokio::time::timeout(timeout, self.attempts(&url, body)).await {
            Ok(result) => result,
            Err(_) => Err(CheckerHttpError::Timeout { url: url.to_string(), timeout }),
        }
    }

    async fn attempts(&self, url: &Url, body: Vec<u8>) -> Result<CheckVerdict, CheckerHttpError> {
        let mut pause = self.config.backoff;
        let mut attempt = 1;
        loop {
            let request = self
                .client
                .post(url.clone())
                .header(CONTENT_TYPE, "application/json")
                .header(CONTENT_LENGTH, body.len())
                .body(body.clone());
            match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let answer = self.read(url, response).await?;
                    return answer::verdict(url.as_str(), status, &answer);
                }
                Err(e) if is_connection_error(&e) && attempt <= self.config.retries => {
                    tracing::debug!(%url, attempt, error = %error_chain(&e), "checker unreachable, retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(self.config.max_backoff);
                    attempt += 1;
                }
                Err(e) if is_connection_error(&e) => {
                    return Err(CheckerHttpError::Connect {
                        url: url.to_string(),
                        attempts: attempt,
                        reason: error_chain(&e),
                    });
                }
                Err(e) => {
                    return Err(CheckerHttpError::BadAnswer {
                        url: url.to_string(),
                        reason: error_chain(&e),
                    });
                }
            }
        }
    }

    /// The answer's body, refusing to buffer more than `max_answer_bytes`.
    async fn read(
        &self,
        url: &Url,
        mut response: reqwest::Response,
    ) -> Result<Vec<u8>, CheckerHttpError> {
        let bad = |reason: String| CheckerHttpError::BadAnswer { url: url.to_string(), reason };
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| bad(error_chain(&e)))? {
            if body.len() + chunk.len() > self.config.max_answer_bytes {
                return Err(bad(format!("answer over {} bytes", self.config.max_answer_bytes)));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// `GET base/`: the Python service lists what it serves there, so a 200 with a JSON
    /// object means it is up and answering.
    pub(crate) async fn health(
        &self,
        base: &Url,
        timeout: Duration,
    ) -> Result<(), CheckerHttpError> {
        let unhealthy =
            |reason: String| CheckerHttpError::BadAnswer { url: base.to_string(), reason };
        let get = async {
            let response = self.client.get(base.clone()).send().await.map_err(|e| {
                CheckerHttpError::Connect {
                    url: base.to_string(),
                    attempts: 1,
                    reason: error_chain(&e),
                }
            })?;
            let status = response.status().as_u16();
            let body = self.read(base, response).await?;
            match serde_json::from_slice::<serde_json::Value>(&body) {
                Ok(serde_json::Value::Object(_)) if status == 200 => Ok(()),
                _ => Err(unhealthy(format!("GET / answered HTTP {status}, not a JSON object"))),
            }
        };
        tokio::time::timeout(timeout, get)
            .await
            .unwrap_or_else(|_| Err(CheckerHttpError::Timeout { url: base.to_string(), timeout }))
    }
}

/// A connection could not be made or broke before any answer: worth another attempt.
fn is_connection_error(e: &reqwest::Error) -> bool {
    e.is_connect() || (e.is_request() && !e.is_timeout())
}

/// An error with its causes, which is where reqwest puts the useful part
/// ("Connection refused").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    clip(&text, 300)
}

/// A checker service run by someone else, at a fixed URL: `POST <url>/<contractID>/<methodID>`.
#[derive(Clone, Debug)]
pub struct HttpChecker {
    calls: Calls,
    base: Url,
}

impl HttpChecker {
    /// A checker calling the service at `url` with its own client.
    pub fn new(url: &str, config: HttpConfig) -> Result<Self, CheckerHttpError> {
        let client = config.client()?;
        Self::with_client(client, url, config)
    }

    /// A checker calling the service at `url` through `client`, shared with other
    /// checkers (see [`HttpConfig::client`]).
    pub fn with_client(
        client: Client,
        url: &str,
        config: HttpConfig,
    ) -> Result<Self, CheckerHttpError> {
        Ok(HttpChecker { calls: Calls::new(client, config), base: parse_url(url)? })
    }

    /// The service's base URL.
    pub fn url(&self) -> &Url {
        &self.base
    }

    /// Check `request`, with the cause of a failure kept structured.
    pub async fn call(&self, request: &CheckRequest) -> Result<CheckVerdict, CheckerHttpError> {
        self.calls.check(&self.base, request).await
    }

    /// Whether the service answers `GET /` within the per-call timeout.
    pub async fn health(&self) -> Result<(), CheckerHttpError> {
        self.calls.health(&self.base, self.calls.config().timeout).await
    }
}

#[async_trait]
impl Checker for HttpChecker {
    async fn check(&self, request: &CheckRequest) -> Result<CheckVerdict, Error> {
        self.call(request).await.map_err(|e| e.into_core(&request.call.contract_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_http_bases_and_ids_are_single_encoded_segments() {
        let base = parse_url("http://127.0.0.1:5001").expect("valid");
        assert_eq!(
            call_url(&base, "addition", "init").as_str(),
            "http://127.0.0.1:5001/addition/init"
        );
        let prefixed = parse_url("http://h:1/checkers/").expect("valid");
        assert_eq!(call_url(&prefixed, "a", "b").as_str(), "http://h:1/checkers/a/b");
        let odd = call_url(&base, "addition", "a/b?c#d");
        assert_eq!(odd.path(), "/addition/a%2Fb%3Fc%23d");
        assert_eq!(odd.query(), None);
        for bad in ["https://h/", "127.0.0.1:5001", "http://h/?x=1", "not a url", "mailto:x@y"] {
            assert!(parse_url(bad).is_err(), "{bad} accepted");
        }
    }
}
