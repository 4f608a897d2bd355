//! `RedbStore` against the core conformance suite, plus what only a file-backed store can
//! get wrong: reopening, bad paths, foreign files and corrupt contents.

use std::cell::Cell;

use chainspace_core::Error;
use chainspace_core::crypto::sha256;
use chainspace_core::object::{Object, ObjectId};
use chainspace_core::store::{Store, WriteBatch, conformance};
use redb::{Database, TableDefinition};
use store_redb::RedbStore;

#[test]
fn redb_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().expect("scratch dir");
    let n = Cell::new(0);
    conformance::run_all(|| {
        n.set(n.get() + 1);
        RedbStore::open(dir.path().join(format!("store-{}.redb", n.get()))).expect("open")
    });
}

#[test]
fn redb_store_survives_reopen() {
    let dir = tempfile::tempdir().expect("scratch dir");
    let path = dir.path().join("store.redb");
    conformance::survives_reopen(|| RedbStore::open(&path).expect("open"));
}

#[test]
fn redb_store_is_usable_as_a_trait_object() {
    let dir = tempfile::tempdir().expect("scratch dir");
    let store: Box<dyn Store> = Box::new(RedbStore::open(dir.path().join("s.redb")).expect("open"));
    store.apply(WriteBatch::new().put_meta("k", vec![1])).expect("apply");
    assert_eq!(store.get_meta("k").expect("get_meta"), Some(vec![1]));
}

/// Assert that `result` is an `Error::Store` whose message names `needle` (usually the path).
fn assert_store_error<T: std::fmt::Debug>(result: Result<T, Error>, needle: &str) {
    match result {
        Err(Error::Store { reason }) => assert!(reason.contains(needle), "{reason}"),
        other => panic!("expected a store error naming {needle:?}, got {other:?}"),
    }
}

#[test]
fn opening_in_a_missing_directory_names_the_path() {
    let dir = tempfile::tempdir().expect("scratch dir");
    let path = dir.path().join("no-such-dir").join("s.redb");
    assert_store_error(RedbStore::open(&path), &path.display().to_string());
}

#[test]
fn opening_a_file_that_is_not_a_database_names_the_path() {
    let dir = tempfile::tempdir().expect("scratch dir");
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, vec![b'x'; 8192]).expect("write");
    assert_store_error(RedbStore::open(&path), &path.display().to_string());
}

#[test]
fn a_file_is_open_in_one_store_at_a_time() {
    let dir = tempfile::tempdir().expect("scratch dir");
    let path = dir.path().join("s.redb");
    let _first = RedbStore::open(&path).expect("open");
    assert_store_error(RedbStore::open(&path), &path.display().to_string());
}

#[test]
fn corrupt_values_are_errors_not_panics() {
    let dir = tempfile::tempdir().expect("scratch dir");
    let path = dir.path().join("s.redb");
    let id = ObjectId(sha256(b"victim"));
    {
        let store = RedbStore::open(&path).expect("open");
        store
            .apply(WriteBatch::new().put(Object::new(id, "v")).put_meta("k", vec![1]))
            .expect("apply");
    }
    {
        // Write behind the store's back, through redb itself, with the store's table types.
        let db = Database::create(&path).expect("raw open");
        let txn = db.begin_write().expect("write");
        {
            let objects: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("objects");
            let meta: TableDefinition<&[u8], &[u8]> = TableDefinition::new("meta");
            txn.open_table(objects)
                .expect("objects")
                .insert(&id.0.0, &[0xff_u8; 2][..])
                .expect("insert");
            txn.open_table(meta)
                .expect("meta")
                .insert(&[0xc3_u8, 0x28][..], &[1_u8][..])
                .expect("insert");
        }
        txn.commit().expect("commit");
    }
    let store = RedbStore::open(&path).expect("reopen");
    let name = path.display().to_string();
    assert_store_error(store.get(&id), &id.to_hex());
    assert_store_error(store.objects(), &name);
    assert_store_error(store.meta_with_prefix(""), &name);
    assert_eq!(store.get_meta("k").expect("an intact entry still reads"), Some(vec![1]));
}

#[test]
fn the_path_is_kept() {
    let dir = tempfile::tempdir().expect("scratch dir");
    let path = dir.path().join("s.redb");
    assert_eq!(RedbStore::open(&path).expect("open").path(), path);
}
