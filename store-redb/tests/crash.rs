//! Crash safety: a writer process killed with SIGKILL in the middle of its batches leaves a
//! file in which every batch it reported as applied is whole, and no batch is partial.
//!
//! The writer is this very test binary, re-run with a filter that selects only the ignored
//! helper test [`crash_child_writes_batches_until_killed`] and an environment variable naming
//! the database. It prints a line after each `apply` returns; the parent kills it right after
//! reading the N-th line, so the kill usually lands inside the next commit.
//!
//! SIGKILL ends the process, not the machine: the page cache survives, so this checks redb's
//! commit protocol (the two-slot header, checksums, recovery on open) rather than what the
//! disk does on power loss, which `Durability::Immediate`'s fsync is there for.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chainspace_core::crypto::sha256;
use chainspace_core::object::{Object, ObjectId};
use chainspace_core::store::{Store, WriteBatch};
use store_redb::RedbStore;

/// Names the database file to the helper; its absence makes the helper a no-op.
const DB_VAR: &str = "STORE_REDB_CRASH_DB";
/// What the helper prints, followed by the batch number, once a batch is durable.
const MARK: &str = "STORE_REDB_APPLIED ";
const OBJECTS_PER_BATCH: u64 = 8;
/// Bounds on the helper, far beyond the moment the parent kills it.
const CHILD_MAX_BATCHES: u64 = 100_000;
const CHILD_MAX_TIME: Duration = Duration::from_secs(30);
/// How long the parent waits for the helper's reports before giving up on a round.
const ROUND_TIMEOUT: Duration = Duration::from_secs(60);

fn object_id(batch: u64, i: u64) -> ObjectId {
    ObjectId(sha256(format!("batch {batch} object {i}").as_bytes()))
}

/// The shared object every batch overwrites: a batch that landed halfway would leave it
/// disagreeing with the batch's own objects and metadata.
fn counter_id() -> ObjectId {
    ObjectId(sha256(b"counter"))
}

fn batch_key(batch: u64) -> String {
    format!("batch/{batch:010}")
}

/// Batch `n`: its own objects, its metadata entry, the counter and the next batch number.
fn batch(n: u64) -> WriteBatch {
    let mut b = WriteBatch::new();
    for i in 0..OBJECTS_PER_BATCH {
        b = b.put(Object::new(object_id(n, i), format!("batch {n} object {i}")));
    }
    b.put(Object::new(counter_id(), n.to_string()))
        .put_meta(batch_key(n), n.to_be_bytes().to_vec())
        .put_meta("next", (n + 1).to_be_bytes().to_vec())
}

fn next_batch(store: &RedbStore) -> u64 {
    match store.get_meta("next").expect("read next") {
        None => 0,
        Some(bytes) => u64::from_be_bytes(bytes.try_into().expect("8 bytes")),
    }
}

/// The helper: apply batches until killed (or until its bounds, which the parent never
/// lets it reach). Ignored so that a plain `cargo test` does not run it on its own.
#[test]
#[ignore = "helper process for crash_leaves_only_whole_batches"]
fn crash_child_writes_batches_until_killed() {
    let Some(path) = std::env::var_os(DB_VAR) else { return };
    let store = RedbStore::open(&path).expect("open");
    let start = next_batch(&store);
    let began = Instant::now();
    let mut out = std::io::stdout().lock();
    for n in start..start + CHILD_MAX_BATCHES {
        if began.elapsed() > CHILD_MAX_TIME {
            break;
        }
        store.apply(batch(n)).expect("apply");
        writeln!(out, "{MARK}{n}").expect("report");
        out.flush().expect("flush");
    }
}

/// Run the helper on `path`, kill it after `kill_after` reports, return what it reported.
fn run_and_kill(path: &Path, kill_after: usize) -> Vec<u64> {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["crash_child_writes_batches_until_killed", "--exact", "--ignored"])
        .args(["--nocapture", "--test-threads", "1"])
        .env(DB_VAR, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the helper");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.split(MARK).nth(1).and_then(|n| n.trim().parse::<u64>().ok()) {
                let _ = tx.send(n);
            }
        }
    });
    let deadline = Instant::now() + ROUND_TIMEOUT;
    let mut reported = Vec::new();
    while reported.len() < kill_after {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(n) => reported.push(n),
            Err(e) => {
                let _ = child.kill();
                let seen = reported.len();
                panic!("the helper reported {seen} of {kill_after} batches, then {e:?}");
            }
        }
    }
    let still_running = child.try_wait().expect("try_wait").is_none();
    child.kill().expect("SIGKILL the helper"); // std's kill is SIGKILL on Unix
    child.wait().expect("reap the helper");
    reader.join().expect("reader thread");
    assert!(still_running, "the helper stopped on its own before the kill");
    // Lines written before the kill are still in the pipe: they count as reported too.
    reported.extend(rx.try_iter());
    reported
}

/// Check the file after a crash; return its next batch number.
fn check_whole_batches(path: &Path, reported: &BTreeSet<u64>) -> u64 {
    let store = RedbStore::open(path).expect("reopen after the crash");
    let next = next_batch(&store);
    let max_reported = reported.last().copied();
    // Every reported batch landed; beyond them at most the one in flight at the kill.
    let least = max_reported.map_or(0, |m| m + 1);
    assert!(next == least || next == least + 1, "next {next}, last reported {max_reported:?}");
    eprintln!("after the kill: last reported batch {max_reported:?}, the file holds 0..{next}");
    for n in 0..next + 2 {
        let objects: Vec<_> =
            (0..OBJECTS_PER_BATCH).map(|i| store.get(&object_id(n, i)).expect("get")).collect();
        let meta = store.get_meta(&batch_key(n)).expect("get_meta");
        if n < next {
            for (i, o) in objects.iter().enumerate() {
                let want = Object::new(object_id(n, i as u64), format!("batch {n} object {i}"));
                assert_eq!(o.as_ref(), Some(&want), "batch {n} object {i}");
            }
            assert_eq!(meta, Some(n.to_be_bytes().to_vec()), "batch {n} metadata");
        } else {
            assert!(objects.iter().all(Option::is_none), "batch {n} partly present");
            assert_eq!(meta, None, "batch {n} metadata without the batch");
        }
    }
    let counter = store.get(&counter_id()).expect("get").map(|o| o.value);
    assert_eq!(counter, next.checked_sub(1).map(|n| n.to_string()), "counter");
    let total = store.objects().expect("objects").len() as u64;
    assert_eq!(total, next * OBJECTS_PER_BATCH + u64::from(next > 0), "stray objects");
    assert_eq!(store.meta_with_prefix("batch/").expect("prefix").len() as u64, next);
    next
}

#[test]
fn crash_leaves_only_whole_batches() {
    let dir = tempfile::tempdir().expect("scratch dir");
    let path = dir.path().join("crash.redb");
    let mut reported = BTreeSet::new();
    // Several rounds on one file: each also checks that a crashed file reopens and goes on.
    for kill_after in [5, 23, 61] {
        let got = run_and_kill(&path, kill_after);
        assert!(got.len() >= kill_after, "only {} reports", got.len());
        reported.extend(got);
        check_whole_batches(&path, &reported);
    }
}
