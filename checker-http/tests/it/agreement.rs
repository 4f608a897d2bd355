//! Cross-language agreement: the native Rust `addition` checker and the Python one give
//! the same verdict on the same calls, valid and invalid.

use chainspace_contracts::Native;
use chainspace_contracts::addition::Addition;
use chainspace_core::checker::{CheckRequest, Checker};
use checker_http::ManagedChecker;
use serde_json::json;

use crate::common::{call, increment, python_config, request};

fn calls() -> Vec<(&'static str, CheckRequest, bool)> {
    let mut with_param = call("addition", "init", &[], &["0"]);
    with_param.parameters = vec![json!(1)];
    let mut with_reference = call("addition", "increment", &["1"], &["2"]);
    with_reference.reference_inputs = vec!["1".into()];
    let mut with_return = call("addition", "increment", &["1"], &["2"]);
    with_return.returns = vec![json!("2")];
    let mut with_dependency = increment("3", "4");
    with_dependency.dependencies = vec![call("addition", "init", &[], &["0"])];
    let max = u64::MAX.to_string();
    let below_max = (u64::MAX - 1).to_string();
    vec![
        ("init", request(call("addition", "init", &[], &["0"])), true),
        ("increment", increment("0", "1"), true),
        ("large increment", increment(&below_max, &max), true),
        ("forged output", increment("0", "2"), false),
        ("forged init", request(call("addition", "init", &[], &["7"])), false),
        ("overflow", increment(&max, "18446744073709551616"), false),
        ("leading zero", increment("01", "2"), false),
        ("negative", increment("-1", "0"), false),
        ("not a number", increment("one", "two"), false),
        ("two inputs", request(call("addition", "increment", &["1", "2"], &["2"])), false),
        ("no output", request(call("addition", "increment", &["1"], &[])), false),
        ("init with input", request(call("addition", "init", &["0"], &["0"])), false),
        ("parameter", request(with_param), false),
        ("reference", request(with_reference), false),
        ("return", request(with_return), false),
        ("dependency", with_dependency, false),
        ("unknown method", request(call("addition", "decrement", &["1"], &["0"])), false),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_and_python_addition_agree() {
    let logs = tempfile::tempdir().expect("temp dir");
    let python = ManagedChecker::new(python_config("addition", logs.path())).expect("config");
    let native = Native(Addition);
    for (name, request, expected) in calls() {
        let rust = native.check(&request).await.expect("native answers");
        let py = python.check(&request).await.expect("python answers");
        assert_eq!(rust.accepted, expected, "{name}: native {rust:?}");
        assert_eq!(py.accepted, expected, "{name}: python {py:?}");
        if !expected {
            assert!(rust.reason.is_some() && py.reason.is_some(), "{name}: reasons");
        }
    }
    python.shutdown().await;
}
