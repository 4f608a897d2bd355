//! The read routes, which the original did not have: `GET /api/1.0/objects/{id}` and
//! `GET /api/1.0/transactions/{id}`. Both read through the shared client, which takes an
//! answer only once `f + 1` replicas of a shard give it, so one lying or lagging replica
//! cannot make the API report a wrong value or outcome.
//!
//! * object: 200 `{"objectID", "value", "status": "active" | "locked" | "inactive",
//!   "lockedBy": {"transactionID", "instance"} | null, "shard"}`; 404 if the shard does
//!   not hold it; 400 for an ID that is not 64 lower-case hex digits;
//! * transaction: 200 `{"transactionID", "outcome", "shards": [{"shard", "instance",
//!   "phase": "prepared" | "accepted", "commit", "outcome", "reason"}], "timings"}` where
//!   `outcome` is `accepted_t_commit`, `accepted_t_abort` or `prepared_t_abort` once a
//!   shard accepted it and `pending` before, and `timings` is what this API process saw
//!   when it processed the transaction (null otherwise); 404 if no shard has a record
//!   and this process never saw it.
//!
//! A shard that cannot gather `f + 1` matching answers within the client's read timeout
//! makes the route answer 504.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chainspace_core::object::{ObjectId, ObjectStatus};
use chainspace_core::sbac::Outcome;
use chainspace_core::sbac::engine::{Phase, TxRecord};
use chainspace_core::transaction::TxId;
use chainspace_core::types::ShardId;
use serde_json::{Value, json};

use super::ApiState;
use super::error::ApiError;

/// `GET /api/1.0/objects/{id}`.
pub(crate) async fn object(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(text) = id?;
    let id = ObjectId::from_hex(&text).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let Some((object, shard)) = state.inner.client.read_object(id).await? else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("unknown object {id}")));
    };
    let (status, locked_by) = match object.status {
        ObjectStatus::Active => ("active", Value::Null),
        ObjectStatus::Locked { tx, instance } => {
            ("locked", json!({ "transactionID": tx.to_hex(), "instance": instance }))
        }
        ObjectStatus::Inactive => ("inactive", Value::Null),
    };
    Ok(Json(json!({
        "objectID": id.to_hex(),
        "value": object.value,
        "status": status,
        "lockedBy": locked_by,
        "shard": shard.0,
    })))
}

/// `GET /api/1.0/transactions/{id}`.
pub(crate) async fn transaction(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(text) = id?;
    let id = TxId::from_hex(&text).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let records = state.inner.client.read_transaction(id).await?;
    let timings = state.recent().describe(&id);
    let known: Vec<(ShardId, TxRecord)> =
        records.into_iter().filter_map(|(s, r)| r.map(|r| (s, r))).collect();
    if known.is_empty() && timings.is_none() {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("unknown transaction {id}")));
    }
    Ok(Json(json!({
        "transactionID": id.to_hex(),
        "outcome": overall(known.iter().map(|(_, r)| r)),
        "shards": known.iter().map(|(s, r)| shard_record(*s, r)).collect::<Vec<_>>(),
        "timings": timings,
    })))
}

/// The transaction's outcome from its shards' records. A shard accepts only what S-BAC
/// decided for the whole transaction (a commit only once every concerned shard prepared
/// to commit), so any one accepted record gives the outcome; with none, it is pending.
fn overall<'a>(records: impl Iterator<Item = &'a TxRecord>) -> &'static str {
    let mut outcome = "pending";
    for r in records {
        match &r.phase {
            Phase::Accepted(Outcome::Commit) => return Outcome::Commit.name(),
            Phase::Accepted(o) => outcome = o.name(),
            Phase::Prepared { .. } => {}
        }
    }
    outcome
}

fn shard_record(shard: ShardId, r: &TxRecord) -> Value {
    let (phase, commit, outcome, reason) = match &r.phase {
        Phase::Prepared { commit, reason } => ("prepared", *commit, None, reason.clone()),
        Phase::Accepted(o) => {
            ("accepted", *o == Outcome::Commit, Some(o.name()), o.reason().map(str::to_string))
        }
    };
    json!({
        "shard": shard.0,
        "instance": r.instance,
        "phase": phase,
        "commit": commit,
        "outcome": outcome,
        "reason": reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(phase: Phase) -> TxRecord {
        TxRecord { instance: 1, phase }
    }

    #[test]
    fn any_accepted_record_gives_the_outcome() {
        let prepared = record(Phase::Prepared { commit: true, reason: None });
        let committed = record(Phase::Accepted(Outcome::Commit));
        let aborted = record(Phase::Accepted(Outcome::Abort("x".into())));
        assert_eq!(overall([&prepared].into_iter()), "pending");
        assert_eq!(overall([&prepared, &committed].into_iter()), "accepted_t_commit");
        assert_eq!(overall([&aborted, &prepared].into_iter()), "accepted_t_abort");
        let shown = shard_record(ShardId(1), &aborted);
        assert_eq!(shown["phase"], "accepted");
        assert_eq!(shown["commit"], false);
        assert_eq!(shown["reason"], "x");
    }
}
