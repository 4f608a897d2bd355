//! The Python contracts' checker services, managed and at a URL.

use chainspace_core::checker::{CheckRequest, Checker};
use chainspace_core::object::ObjectId;
use chainspace_core::transaction::Transaction;
use checker_http::{HttpChecker, ManagedChecker};

use crate::common::{call, dependency_case, increment, python_config, request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn addition_accepts_valid_calls_and_rejects_forged_outputs() {
    let logs = tempfile::tempdir().expect("temp dir");
    let checker = ManagedChecker::new(python_config("addition", logs.path())).expect("config");

    let init =
        checker.check(&request(call("addition", "init", &[], &["0"]))).await.expect("answer");
    assert!(init.accepted, "{init:?}");
    let valid = checker.check(&increment("41", "42")).await.expect("answer");
    assert!(valid.accepted, "{valid:?}");

    let forged = checker.check(&increment("41", "43")).await.expect("answer");
    assert!(!forged.accepted);
    let reason = forged.reason.expect("a reason");
    assert!(reason.contains("outputs[0]"), "{reason}");
    let forged_init = checker.check(&request(call("addition", "init", &[], &["1"]))).await;
    assert!(!forged_init.expect("answer").accepted);

    // The same service, called at its URL as a service someone else runs.
    let url = checker.start().await.expect("running");
    let remote = HttpChecker::new(url.as_str(), Default::default()).expect("valid URL");
    remote.health().await.expect("healthy");
    assert!(remote.check(&increment("0", "1")).await.expect("answer").accepted);
    assert!(!remote.check(&increment("0", "2")).await.expect("answer").accepted);
    checker.shutdown().await;
}

/// The `dependency` case of the shared vectors, resolved as a replica would: the
/// top-level call with its nested `addition.increment` inlined, then that nested call.
fn dependency_requests(tx: &Transaction) -> Vec<CheckRequest> {
    let counter =
        ObjectId::from_hex("a9bde7fac83d70a4c6811d74d3cb218abc6c0f69e0dc5a77f0097be61faf79c7")
            .expect("hex id");
    let lookup = |id: &ObjectId| (*id == counter).then(|| "0".to_string());
    CheckRequest::for_all_calls(tx, &lookup).expect("resolvable")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn increment_twice_accepts_its_dependency_inlined_and_rejects_a_forged_one() {
    let logs = tempfile::tempdir().expect("temp dir");
    let checker =
        ManagedChecker::new(python_config("increment_twice", logs.path())).expect("config");
    let case = dependency_case();
    let tx = Transaction::from_json(&case["transaction"]).expect("a transaction");
    assert_eq!(tx.digest().to_hex(), case["tx_digest"].as_str().expect("digest"));

    let requests = dependency_requests(&tx);
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].dependencies.len(), 1, "the nested call is inlined");
    // The service of increment_twice also serves its dependency's checker.
    for r in &requests {
        let verdict = checker.check(r).await.expect("answer");
        assert!(verdict.accepted, "{}: {verdict:?}", r.call.contract_id);
    }

    // Without the nested call (what the original Java node sent) the default checker,
    // which re-runs the method, sees a different call.
    let mut without = requests[0].clone();
    without.dependencies.clear();
    assert!(!checker.check(&without).await.expect("answer").accepted);
    // A nested call creating the wrong counter is rejected too.
    let mut forged = tx.clone();
    forged.dependencies[0].outputs = vec!["5".into()];
    let forged = dependency_requests(&forged);
    assert!(!checker.check(&forged[0]).await.expect("answer").accepted);
    assert!(!checker.check(&forged[1]).await.expect("answer").accepted);
    checker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_share_the_service() {
    let logs = tempfile::tempdir().expect("temp dir");
    let checker = std::sync::Arc::new(
        ManagedChecker::new(python_config("addition", logs.path())).expect("config"),
    );
    let mut tasks = Vec::new();
    for n in 0..48u64 {
        let checker = checker.clone();
        tasks.push(tokio::spawn(async move {
            let out = if n % 3 == 0 { n + 2 } else { n + 1 };
            let verdict = checker.call(&increment(&n.to_string(), &out.to_string())).await;
            (n, verdict.expect("answer").accepted)
        }));
    }
    for task in tasks {
        let (n, accepted) = task.await.expect("no panic");
        assert_eq!(accepted, n % 3 != 0, "call {n}");
    }
    assert_eq!(checker.starts().await, 1, "one process for all the calls");
    checker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_mixes_native_managed_and_url_checkers() {
    use checker_http::{CheckerChoice, HttpConfig, build};

    let logs = tempfile::tempdir().expect("temp dir");
    let managed = python_config("increment_twice", logs.path());
    let checkers = build(
        [
            ("addition".to_string(), CheckerChoice::Native),
            ("increment_twice".to_string(), CheckerChoice::Managed(Box::new(managed))),
        ],
        &HttpConfig::default(),
    )
    .expect("valid choices");
    checkers.start_all().await.expect("started");
    // The nested addition call goes to the Rust checker, the top level to Python.
    let tx = Transaction::from_json(&dependency_case()["transaction"]).expect("a transaction");
    for r in dependency_requests(&tx) {
        let verdict = checkers.registry.check(&r).await.expect("answer");
        assert!(verdict.accepted, "{}: {verdict:?}", r.call.contract_id);
    }

    // The same Python service as a URL choice for addition, by someone else's hands.
    let url = checkers.managed["increment_twice"].start().await.expect("running");
    let by_url = build(
        [("addition".to_string(), CheckerChoice::Url(url.to_string()))],
        &HttpConfig::default(),
    )
    .expect("valid URL");
    assert!(by_url.registry.check(&increment("5", "6")).await.expect("answer").accepted);
    assert!(!by_url.registry.check(&increment("5", "7")).await.expect("answer").accepted);

    checkers.shutdown_all().await;
    assert_eq!(checkers.managed["increment_twice"].pid().await, None);
}
