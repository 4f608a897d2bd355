//! End to end, with real processes: `chainspace keygen`, one `chainspace node` per replica
//! (2 shards x 4 replicas, QUIC on free ports of 127.0.0.1, redb stores), one
//! `chainspace client-api`, all driven over HTTP as the original's Python tools drive it.
//!
//! * the increment walkthrough of DESIGN.md's test vectors, a cross-shard consume (and a
//!   forged input value refused), 24 concurrent conflicting spends (at most one commits),
//!   200 concurrent HTTP clients and a table of bad inputs, on one PBFT network;
//! * one replica per shard SIGKILLed while a load runs, restarted, then another per shard;
//!   the network commits throughout, nothing committed is lost and, once stopped with
//!   SIGINT, the restarted replicas' redb stores equal their peers';
//! * the walkthrough and the cross-shard consume on HotStuff;
//! * an aborted transaction posted again with the true values commits (a new attempt);
//! * bodies over the limit, sent whole, answered 413 every time.
//!
//! Every wait is bounded; every child is killed when its guard drops; the networks run one
//! at a time (see `harness::serial`).

#[path = "e2e/bad_input.rs"]
mod bad_input;
#[path = "e2e/crash.rs"]
mod crash;
#[path = "e2e/harness.rs"]
mod harness;
#[path = "e2e/steps.rs"]
mod steps;

use std::time::{Duration, Instant};

use harness::Network;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pbft_walkthrough_cross_shard_concurrency_and_bad_inputs_over_http() {
    let _serial = harness::serial().await;
    let mut net = Network::start("pbft", 2, 4).await;

    let [init, inc, refused] = steps::walkthrough(&net.http, 2).await;
    eprintln!(
        "[e2e] PBFT walkthrough: init {init:?}, increment {inc:?}, refused spend {refused:?}"
    );

    let cross = steps::cross_shard(&net.http).await;
    eprintln!("[e2e] PBFT cross-shard consume committed in {cross:?}");

    steps::conflicting_spends(&net.http).await;

    let (wall, times) = steps::concurrent_creates(&net.http, 200, Duration::from_secs(60)).await;
    eprintln!(
        "[e2e] PBFT: 200 concurrent HTTP clients all answered 200 in {wall:?} (p50 {:?}, p99 \
         {:?}, max {:?}; {:.0} tx/s)",
        times[100],
        times[197],
        times[199],
        200.0 / wall.as_secs_f64()
    );

    let start = Instant::now();
    bad_input::bad_inputs(&net.http).await;
    eprintln!("[e2e] bad inputs table answered in {:?}", start.elapsed());

    net.stop_gracefully();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pbft_replicas_sigkilled_under_load_lose_nothing_and_converge() {
    let _serial = harness::serial().await;
    let start = Instant::now();
    let mut net = Network::start("pbft", 2, 4).await;
    let r = crash::sigkill_under_load(&mut net).await;
    eprintln!(
        "[e2e] crash under load: {} requests, {} commits ({:?} during the outages, {} after the \
         last restart), other answers {:?}; stores equal within each shard ({:?} objects); {:?}",
        r.attempts,
        r.commits,
        r.during_outage,
        r.after_restart,
        r.others,
        r.objects_per_shard,
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hotstuff_walkthrough_over_http() {
    let _serial = harness::serial().await;
    let mut net = Network::start("hotstuff", 2, 4).await;
    let [init, inc, refused] = steps::walkthrough(&net.http, 2).await;
    eprintln!(
        "[e2e] HotStuff walkthrough: init {init:?}, increment {inc:?}, refused spend {refused:?}"
    );
    let cross = steps::cross_shard(&net.http).await;
    eprintln!("[e2e] HotStuff cross-shard consume committed in {cross:?}");
    net.stop_gracefully();
}

/// BUG (node/src/api/process.rs): the API always submits attempt 1 (`Client::submit`), and
/// replicas answer a repeated attempt with its recorded outcome, so a transaction that
/// aborted once is answered with that stale abort for ever, even when the cause is gone:
/// here a wrong `store` value (which the transaction ID does not cover) corrected by the
/// client; likewise a lock conflict with another transaction that aborted too. Nothing in
/// the HTTP API can reach `Client::submit_attempt`; a fix would submit the next instance
/// Posting a transaction whose last attempt aborted starts a new attempt: here the first
/// post gives a wrong `store` value (which the transaction ID does not cover), aborts,
/// and the corrected post commits, rather than being answered with the stale abort.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_transaction_posted_again_with_true_values_commits() {
    let _serial = harness::serial().await;
    let mut net = Network::start("pbft", 2, 4).await;
    let (code, body) = steps::forged_value_then_true_value(&net.http).await;
    net.stop_gracefully();
    assert_eq!(code, 200, "the corrected request commits: {body}");
}

/// A request over the body limit (1 MiB), sent whole as ordinary clients send it
/// (reqwest here; Python's requests and curl without `Expect: 100-continue` alike), is
/// answered 413 with its JSON message every time: the server reads the rest of the body
/// before answering (see `node/src/api/body.rs`), so the client is never cut off mid-send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_sent_whole_are_answered_413() {
    let _serial = harness::serial().await;
    let mut net = Network::start("pbft", 2, 4).await;
    let (answered, errors) = bad_input::oversized_bodies(&net.http, 20).await;
    net.stop_gracefully();
    assert!(errors.is_empty(), "{answered} of 20 answered 413; the others: {errors:#?}");
}
