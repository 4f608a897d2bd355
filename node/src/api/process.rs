//! `POST /api/1.0/transaction/process`: the original Chainspace's one write route.
//!
//! The body is `{"transaction": {contractID, methodID, inputIDs, referenceInputIDs,
//! parameters, outputs, returns, dependencies}, "store": {object_id: value}}`; the handler
//! submits it through the shared [`Client`](crate::Client) and waits for the outcome
//! (S-BAC, paper section 4), so the answer is final when it comes:
//!
//! * commit: 200 `{"success": "True", "outcome": "accepted_t_commit", "transactionID",
//!   "outputs": [object IDs], "shards", "latencyMs"}`;
//! * abort: 409 `{"success": "False", "outcome": "accepted_t_abort" | "prepared_t_abort",
//!   "reason", "transactionID", "outputs", "shards", "latencyMs"}` (the original answered
//!   aborts with a non-2xx status too; 409 because the request was well formed but
//!   conflicts with the state, e.g. an input already consumed);
//! * no outcome within the configured wait: 504 with `message` and `transactionID` (the
//!   transaction may still commit: read it with the transactions route).
//!
//! A body that is not JSON is a 400; well-formed JSON that is not a transaction (missing
//! or unknown field, wrong type, malformed ID, or a contract the node has no checker for
//! when the API knows the node's contracts) is a 422 naming the offending place.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chainspace_core::sbac::Outcome;
use chainspace_core::sbac::engine::{Phase, TxRecord};
use chainspace_core::shard::{concerned_shards, involved_shards};
use chainspace_core::transaction::{Transaction, TransactionRequest};
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, parse_json};

/// The handler.
pub(crate) async fn process(
    State(state): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match run(&state, body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn run(state: &ApiState, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let value = parse_json(body)?;
    let request = TransactionRequest::from_json(&value)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let tx = &request.transaction;
    if let Some(known) = &state.inner.cfg.contracts
        && let Some(call) = tx.calls().into_iter().find(|c| !known.contains(&c.contract_id))
    {
        let name: String = call.contract_id.chars().take(100).collect();
        let message = format!("unknown contract {name:?}: the node has no checker for it");
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message));
    }
    let id = tx.digest();
    let outputs: Vec<Value> =
        tx.calls().iter().flat_map(|c| c.output_ids()).map(|o| o.to_hex().into()).collect();
    let shards: Vec<u32> =
        involved_shards(tx, state.inner.committee.num_shards()).iter().map(|s| s.0).collect();

    let attempt = next_attempt(state, tx).await;
    state.recent().start(id);
    let wait = state.inner.cfg.process_timeout;
    let submission = state.inner.client.submit_attempt(request, attempt);
    let finished = match tokio::time::timeout(wait, submission).await {
        Ok(Ok(finished)) => finished,
        Ok(Err(e)) => {
            state.recent().finish(&id, "unavailable", None);
            return Err(ApiError::from(e).with("transactionID", id.to_hex()));
        }
        Err(_) => {
            // Dropping the submission's future lets the client forget it at its next re-send.
            state.recent().finish(&id, "timeout", None);
            let message = format!(
                "no outcome within {wait:?}; the transaction may still be decided: \
                 GET /api/1.0/transactions/{id}"
            );
            return Err(ApiError::new(StatusCode::GATEWAY_TIMEOUT, message)
                .with("outcome", "timeout")
                .with("transactionID", id.to_hex()));
        }
    };
    let outcome = &finished.outcome;
    let latency = state.recent().finish(&id, outcome.name(), Some(finished.sends));
    let mut body = json!({
        "success": if *outcome == Outcome::Commit { "True" } else { "False" },
        "outcome": outcome.name(),
        "transactionID": id.to_hex(),
        "outputs": outputs,
        "shards": shards,
        "latencyMs": latency.as_secs_f64() * 1000.0,
    });
    let status = match outcome.reason() {
        None => StatusCode::OK,
        Some(reason) => {
            body["reason"] = reason.into();
            StatusCode::CONFLICT
        }
    };
    Ok((status, Json(body)).into_response())
}

/// The attempt (S-BAC instance) to submit `tx` as. Posting a transaction whose last
/// attempt aborted starts a new attempt, as the original's clients expect: the abort may
/// have had a cause that is gone (a lock held by a transaction that then aborted too, or
/// a wrong value in `store`, which the transaction's ID does not cover). Otherwise the
/// attempt the shards are on (so a repeat joins it, or gets its outcome), or the first.
/// A read that cannot be answered soon falls back to the first attempt.
async fn next_attempt(state: &ApiState, tx: &Transaction) -> u64 {
    let concerned = concerned_shards(tx, state.inner.committee.num_shards());
    let read = state.inner.client.read_transaction_on(tx.digest(), &concerned);
    let Ok(Ok(records)) = tokio::time::timeout(ATTEMPT_READ_TIMEOUT, read).await else {
        return 1;
    };
    let records: Vec<TxRecord> = records.into_values().flatten().collect();
    let Some(latest) = records.iter().map(|r| r.instance).max() else { return 1 };
    let finished_abort =
        |r: &TxRecord| matches!(&r.phase, Phase::Accepted(o) if *o != Outcome::Commit);
    let committed = records.iter().any(|r| r.phase == Phase::Accepted(Outcome::Commit));
    let aborted = records.iter().filter(|r| r.instance == latest).any(finished_abort);
    if aborted && !committed { latest + 1 } else { latest }
}

/// How long [`next_attempt`] waits for the shards' records.
const ATTEMPT_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
