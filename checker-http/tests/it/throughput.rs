//! Checks per second over keep-alive, Python service against native. Run with
//! `cargo test -p checker-http --test it -- --ignored --nocapture throughput`;
//! `CHECKER_HTTP_BENCH_URL=http://...` measures a service someone else runs instead of
//! the managed Python `addition`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chainspace_contracts::Native;
use chainspace_contracts::addition::Addition;
use chainspace_core::checker::Checker;
use checker_http::{HttpChecker, ManagedChecker};

use crate::common::{increment, python_config};

/// Checks per second by `concurrency` callers in a loop for `period`.
async fn rate(checker: Arc<dyn Checker>, period: Duration, concurrency: u64) -> f64 {
    let began = Instant::now();
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (checker, done) = (checker.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = worker;
            while began.elapsed() < period {
                for _ in 0..64 {
                    let request = increment(&n.to_string(), &(n + 1).to_string());
                    assert!(checker.check(&request).await.expect("answer").accepted);
                    n += concurrency;
                    done.fetch_add(1, Ordering::Relaxed);
                    if began.elapsed() >= period {
                        break;
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("no panic");
    }
    done.load(Ordering::Relaxed) as f64 / began.elapsed().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check: run by hand"]
async fn throughput() {
    let logs = tempfile::tempdir().expect("temp dir");
    let managed =
        Arc::new(ManagedChecker::new(python_config("addition", logs.path())).expect("config"));
    let remote: Arc<dyn Checker> = match std::env::var("CHECKER_HTTP_BENCH_URL") {
        Ok(url) => Arc::new(HttpChecker::new(&url, Default::default()).expect("valid URL")),
        Err(_) => managed.clone(),
    };
    let period = Duration::from_secs(3);
    rate(remote.clone(), Duration::from_millis(300), 1).await; // warm up
    for concurrency in [1, 4, 16] {
        let per_second = rate(remote.clone(), period, concurrency).await;
        println!("HTTP addition, {concurrency} concurrent: {per_second:.0} checks/s");
    }
    let native: Arc<dyn Checker> = Arc::new(Native(Addition));
    for concurrency in [1, 4] {
        let per_second = rate(native.clone(), period, concurrency).await;
        println!("native addition, {concurrency} concurrent: {per_second:.0} checks/s");
    }
    managed.shutdown().await;
}
