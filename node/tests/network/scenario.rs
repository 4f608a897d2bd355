//! The scenarios every network runs, whatever its transport and protocol.

use std::time::{Duration, Instant};

use chainspace_contracts::{addition, dummy};
use chainspace_core::client::Finished;
use chainspace_core::object::{Object, ObjectStatus};
use chainspace_core::sbac::Outcome;
use chainspace_core::shard::shard_of;
use chainspace_core::transaction::{Transaction, TransactionRequest};
use chainspace_core::types::{ReplicaId, ShardId};
use chainspace_node::{Client, LocalNetwork};
use serde_json::json;

/// The longest any one wait may take.
pub const WAIT: Duration = Duration::from_secs(30);

/// Submit `tx` with the values of `reads`; wait (bounded) for its outcome.
pub async fn submit(client: &Client, tx: Transaction, reads: &[&Object]) -> (Finished, Duration) {
    let store = reads.iter().map(|o| (o.id, o.value.clone())).collect();
    let start = Instant::now();
    let request = TransactionRequest { transaction: tx, store };
    let finished = tokio::time::timeout(WAIT, client.submit(request))
        .await
        .expect("outcome within the bound")
        .expect("client running");
    (finished, start.elapsed())
}

/// `init`, then `increment` its counter: both commit; then a second, different spend of
/// the consumed counter aborts, with a reason naming it. Returns the latencies and the
/// live counter.
pub async fn addition_walkthrough(net: &LocalNetwork, client: &Client) -> (Vec<Duration>, Object) {
    let init = addition::init();
    let counter = init.created_objects().remove(0);
    assert_eq!(
        counter.id.to_hex(),
        "a9bde7fac83d70a4c6811d74d3cb218abc6c0f69e0dc5a77f0097be61faf79c7"
    );
    let (f, t_init) = submit(client, init, &[]).await;
    assert_eq!(f.outcome, Outcome::Commit, "init commits");

    let increment = addition::increment(&counter).expect("a counter");
    let next = increment.created_objects().remove(0);
    assert_eq!(
        next.id.to_hex(),
        "404d5c43cf0f34857b65405cb2cdcf015cbe792ee0327157f1cd66ea8b340411"
    );
    let (f, t_inc) = submit(client, increment.clone(), &[&counter]).await;
    assert_eq!(f.outcome, Outcome::Commit, "increment commits");
    wait_for_status(net, &next, ObjectStatus::Active).await;
    wait_for_status(net, &counter, ObjectStatus::Inactive).await;

    // Every valid increment of the counter is the same transaction (which would only be
    // answered again), so the second spend differs by a parameter: a different transaction
    // consuming the same object. Objects are checked before the checker's verdict.
    let mut again = increment;
    again.parameters = vec![json!("second spend")];
    let (f, t_abort) = submit(client, again, &[&counter]).await;
    match &f.outcome {
        Outcome::PreparedAbort(reason) | Outcome::Abort(reason) => {
            assert!(reason.contains("inactive"), "abort names the consumed input: {reason}");
        }
        Outcome::Commit => panic!("a consumed counter was spent twice"),
    }
    (vec![t_init, t_inc, t_abort], next)
}

/// Increment `counter` (committed and active) `n` times in a row, each waiting for the
/// previous commit; return the latencies, sorted: a small sample on an idle network.
pub async fn increment_chain(client: &Client, mut counter: Object, n: usize) -> Vec<Duration> {
    let mut times = Vec::new();
    for _ in 0..n {
        let tx = addition::increment(&counter).expect("a counter");
        let next = tx.created_objects().remove(0);
        let (f, took) = submit(client, tx, &[&counter]).await;
        assert_eq!(f.outcome, Outcome::Commit, "increment commits");
        times.push(took);
        counter = next;
    }
    times.sort();
    times
}

/// Create dummy objects in both shards, consume one of each in one transaction (commits
/// across shards), then spend them again (aborts). Returns the cross-shard latency.
pub async fn cross_shard_consume(client: &Client, label: &str) -> Duration {
    let create = dummy::create(label, 8);
    let objects = create.created_objects();
    let on = |s| objects.iter().find(|o| shard_of(&o.id, 2) == ShardId(s)).cloned();
    let (a, b) = (on(0).expect("an object in shard 0"), on(1).expect("an object in shard 1"));
    let (f, _) = submit(client, create, &[]).await;
    assert_eq!(f.outcome, Outcome::Commit, "create commits");

    let (f, took) = submit(client, dummy::consume(&[a.clone(), b.clone()], false), &[&a, &b]).await;
    assert_eq!(f.outcome, Outcome::Commit, "cross-shard consume commits");

    let (f, _) = submit(client, dummy::consume(&[a.clone(), b.clone()], true), &[&a, &b]).await;
    assert!(
        matches!(&f.outcome, Outcome::Abort(r) if r.contains("inactive")),
        "a second spend aborts: {f:?}"
    );
    took
}

/// Wait (bounded) until every replica of the object's shard holds it with `status`.
pub async fn wait_for_status(net: &LocalNetwork, object: &Object, status: ObjectStatus) {
    let shard = shard_of(&object.id, net.committee().num_shards());
    let ids: Vec<ReplicaId> =
        net.nodes().map(|(id, _)| *id).filter(|id| id.shard == shard).collect();
    let deadline = Instant::now() + WAIT;
    for id in ids {
        let node = net.node(id).expect("running");
        loop {
            let oid = object.id;
            let got = node
                .inspect(move |r| r.engine().store().get(&oid).ok().flatten().map(|o| o.status))
                .await
                .expect("replica running");
            if got == Some(status) {
                break;
            }
            assert!(Instant::now() < deadline, "{id}: {:?} never became {status:?}", got);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Poll `cond` until it holds, at most [`WAIT`].
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
