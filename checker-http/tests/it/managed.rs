//! Managed checker processes: restart after death, shutdown, drop, logs, failed starts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use checker_http::{CheckerHttpError, ManagedChecker, ManagedCommand};

use crate::common::{increment, python, python_config, wait_gone};

fn kill(pid: u32) {
    let pid = libc::pid_t::try_from(pid).expect("a pid");
    // SAFETY: sends a signal to a process this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0, "kill {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_checker_is_restarted_and_the_next_call_succeeds() {
    let logs = tempfile::tempdir().expect("temp dir");
    let checker =
        Arc::new(ManagedChecker::new(python_config("addition", logs.path())).expect("config"));
    assert!(checker.call(&increment("1", "2")).await.expect("answer").accepted);
    let first = checker.pid().await.expect("running");

    // Calls in flight while the process dies: each ends with an answer or a clear error,
    // and the process is restarted once, not once per call.
    let mut tasks = Vec::new();
    for n in 0..16u64 {
        let checker = checker.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(n * 5)).await;
            checker.call(&increment(&n.to_string(), &(n + 1).to_string())).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    kill(first);
    for task in tasks {
        match task.await.expect("no panic") {
            Ok(verdict) => assert!(verdict.accepted, "{verdict:?}"),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    assert!(wait_gone(first, Duration::from_secs(5)).await, "the old process is gone");

    let next = checker.call(&increment("7", "8")).await.expect("answer after a restart");
    assert!(next.accepted, "{next:?}");
    let second = checker.pid().await.expect("running again");
    assert_ne!(first, second);
    assert_eq!(checker.starts().await, 2, "restarted exactly once");

    // Killed between calls: the next call notices before calling and restarts it.
    kill(second);
    assert!(wait_gone(second, Duration::from_secs(5)).await);
    assert!(checker.call(&increment("8", "9")).await.expect("answer").accepted);
    assert_eq!(checker.starts().await, 3);
    let third = checker.pid().await.expect("running");
    checker.shutdown().await;
    assert!(wait_gone(third, Duration::from_secs(5)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_and_drop_kill_the_process_and_its_output_is_logged() {
    let logs = tempfile::tempdir().expect("temp dir");
    let config = python_config("addition", logs.path());
    let log = config.log_path();
    let checker = ManagedChecker::new(config.clone()).expect("config");
    checker.start().await.expect("started");
    let pid = checker.pid().await.expect("running");
    checker.health().await.expect("healthy");
    checker.shutdown().await;
    assert!(wait_gone(pid, Duration::from_secs(5)).await, "shut down");
    let e = checker.call(&increment("0", "1")).await.expect_err("shut down");
    assert!(matches!(e, CheckerHttpError::ShutDown { .. }), "{e}");

    let dropped = ManagedChecker::new(config).expect("config");
    dropped.start().await.expect("started");
    let pid = dropped.pid().await.expect("running");
    drop(dropped);
    assert!(wait_gone(pid, Duration::from_secs(5)).await, "dropped");

    let text = std::fs::read_to_string(&log).expect("a log file");
    assert_eq!(text.matches("=== unix time").count(), 2, "{text}");
    assert!(text.contains("addition checker listening on http://127.0.0.1:"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_fails_to_start_gives_its_last_words() {
    let logs = tempfile::tempdir().expect("temp dir");
    let mut config = python_config("broken", logs.path());
    config.command = ManagedCommand::new(
        python(),
        ["-c", "import sys; print('no such contract', file=sys.stderr); sys.exit(3)"],
    );
    let checker = ManagedChecker::new(config.clone()).expect("config");
    let e = checker.call(&increment("0", "1")).await.expect_err("cannot start");
    let text = e.to_string();
    assert!(matches!(e, CheckerHttpError::Spawn { .. }), "{text}");
    assert!(text.contains("no such contract") && text.contains('3'), "{text}");

    // One that runs but never says where it listens: bounded by the startup timeout.
    config.command = ManagedCommand::new(
        python(),
        ["-c", "import os, time; print('pid', os.getpid(), 'end', flush=True); time.sleep(60)"],
    );
    config.startup_timeout = Duration::from_millis(500);
    let silent = ManagedChecker::new(config).expect("config");
    let began = Instant::now();
    let e = silent.call(&increment("0", "1")).await.expect_err("never ready");
    assert!(began.elapsed() < Duration::from_secs(3), "{:?}", began.elapsed());
    let text = e.to_string();
    assert!(text.contains("printed no URL"), "{text}");
    let pid: u32 = text
        .split("pid ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {text}"));
    assert!(wait_gone(pid, Duration::from_secs(5)).await, "the silent process was killed");
    assert_eq!(silent.pid().await, None);
}
