//! A durable [`Store`](chainspace_core::store::Store) for Chainspace replicas, on
//! [redb](https://www.redb.org).
//!
//! Why redb (see the design's dependency table): it is pure Rust, synchronous like the
//! `Store` trait, stable on disk, and gives exactly the two guarantees a replica needs:
//!
//! * **atomic, durable batches**: [`RedbStore::apply`](chainspace_core::store::Store::apply)
//!   is one redb write transaction committed with [`redb::Durability::Immediate`], so when it
//!   returns the batch is on disk, and a crash at any moment leaves every batch wholly
//!   present or wholly absent (the crash test kills a writer with SIGKILL to check it);
//! * **consistent reads**: every read runs in its own read transaction, an MVCC snapshot, so
//!   a reader listing objects while batches are applied never sees half a batch.
//!
//! Layout: table `objects` maps the 32 raw bytes of an [`ObjectId`] to the postcard encoding
//! of its [`Object`]; table `meta` maps UTF-8 metadata keys to their bytes. Both are ordered
//! by raw bytes, which is the order of `ObjectId` and of `String`, so listings and prefix
//! scans come out sorted with no sort of their own.
//!
//! Nothing read from disk is trusted: a value that does not decode, or that names another ID
//! than its key, is an [`Error::Store`](chainspace_core::Error::Store) naming the file, never a
//! panic.
//!
//! [`ObjectId`]: chainspace_core::object::ObjectId
//! [`Object`]: chainspace_core::object::Object
#![deny(missing_docs)]

mod codec;
mod store;

pub use store::RedbStore;
