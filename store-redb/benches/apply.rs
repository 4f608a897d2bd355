//! Durable batches per second: `apply` of a batch of new objects (and one metadata entry,
//! as a replica records its executed sequence) on a redb file, with 100 objects (the figure
//! to quote) and with 1 (the fixed cost of a durable commit, to tell it from the per-object
//! cost).
//!
//! Each batch is one durable commit (fsync), so the figure depends on the disk's flush
//! latency as much as on CPU; run it on the disk a replica would use (`TMPDIR` picks it).
//! Criterion reports the time per batch (batches/s = 1 / that) and, through the
//! throughput, objects per second. Run with `cargo bench -p store-redb`.

use std::time::Duration;

use chainspace_core::crypto::sha256;
use chainspace_core::object::{Object, ObjectId};
use chainspace_core::store::{Store, WriteBatch};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use store_redb::RedbStore;

/// Batch `n` of `size` objects, whose IDs no other batch uses, with values of a typical size.
fn batch(n: u64, size: u64) -> WriteBatch {
    let objects = (0..size)
        .map(|i| {
            let id = ObjectId(sha256(&[n.to_be_bytes(), i.to_be_bytes()].concat()));
            Object::new(id, format!("{{\"owner\":\"bench\",\"amount\":{i},\"batch\":{n}}}"))
        })
        .collect();
    WriteBatch { objects, ..WriteBatch::new() }.put_meta("executed", n.to_be_bytes().to_vec())
}

fn apply(c: &mut Criterion) {
    let mut group = c.benchmark_group("redb_apply");
    group.sample_size(20).measurement_time(Duration::from_secs(8));
    for size in [100, 1] {
        // A fresh file per size, so one size's data does not slow the other's inserts.
        let dir = tempfile::tempdir().expect("a scratch directory");
        let store = RedbStore::open(dir.path().join("bench.redb")).expect("open");
        let mut next = 0u64;
        group.throughput(Throughput::Elements(size));
        group.bench_function(BenchmarkId::new("objects_per_batch", size), |b| {
            b.iter_batched(
                || {
                    next += 1;
                    batch(next, size)
                },
                |batch| store.apply(batch).expect("apply"),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, apply);
criterion_main!(benches);
