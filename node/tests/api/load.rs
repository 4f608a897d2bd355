//! Many clients at once through one API (and so one shared client).

use std::time::Instant;

use chainspace_contracts::dummy;
use chainspace_node::api::ApiConfig;
use consensus_any::Protocol;

use crate::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_requests_are_all_answered() {
    let api = std::sync::Arc::new(common::start(Protocol::Pbft, false, ApiConfig::default()).await);
    let start = Instant::now();
    let requests: Vec<_> = (0..50)
        .map(|i| {
            let api = api.clone();
            tokio::spawn(async move {
                let tx = dummy::create(&format!("concurrent-{i}"), 2);
                let outputs: Vec<String> = tx.output_ids().iter().map(|o| o.to_hex()).collect();
                let (code, body) = api.process(tx, &[]).await;
                assert_eq!(code, 200, "request {i}: {body}");
                // Every fifth client reads back what it created.
                if i % 5 == 0 {
                    let (code, body) = api.get(&format!("/api/1.0/objects/{}", outputs[0])).await;
                    assert!(code == 200 || code == 404, "read {i}: {code} {body}");
                }
                let (code, _) = api.get("/api/1.0/").await;
                assert_eq!(code, 200);
            })
        })
        .collect();
    for r in requests {
        r.await.expect("request task");
    }
    let took = start.elapsed();
    eprintln!(
        "API over memory (PBFT 2x4): 50 concurrent create requests answered in {took:?} \
         ({:.0} tx/s)",
        50.0 / took.as_secs_f64()
    );
    let api = std::sync::Arc::into_inner(api).expect("every request done");
    api.stop().await;
}
