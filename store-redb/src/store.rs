//! [`RedbStore`]: the [`Store`] trait on one redb database file.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use chainspace_core::Error;
use chainspace_core::object::{Object, ObjectId};
use chainspace_core::store::{Store, WriteBatch};
use redb::{Database, Durability, ReadTransaction, ReadableDatabase, ReadableTable};
use redb::{TableDefinition, WriteTransaction};

use crate::codec::{decode_meta_key, decode_object, encode_object, fail};

/// Object ID (32 raw bytes, so the table's byte order is `ObjectId`'s order) to the postcard
/// encoding of the object.
const OBJECTS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("objects");

/// Metadata key (UTF-8 bytes, so the byte order is `String`'s order) to its value.
const META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("meta");

/// A replica's objects and metadata in one redb file.
///
/// Cheap to share: every method takes `&self`. redb admits one writer at a time (a second
/// `apply` waits for the first) and any number of readers alongside it, each on a snapshot.
#[derive(Debug)]
pub struct RedbStore {
    db: Database,
    path: PathBuf,
}

impl RedbStore {
    /// Open the database at `path`, creating the file (not its directory) if it does not
    /// exist. Fails with [`Error::Store`], naming the path, if the file is not a redb
    /// database, is corrupt beyond redb's repair, or is already open (in this process or
    /// another): two writers on one file would break atomicity, so redb locks it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        let db = Database::create(&path).map_err(|e| fail(&path, "opening the database", e))?;
        let store = RedbStore { db, path };
        store.create_tables()?;
        Ok(store)
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Create both tables up front, so that readers of a new store find empty tables rather
    /// than redb's "table does not exist" error.
    fn create_tables(&self) -> Result<(), Error> {
        let txn = self.write()?;
        txn.open_table(OBJECTS).map_err(|e| self.fail("creating the objects table", e))?;
        txn.open_table(META).map_err(|e| self.fail("creating the meta table", e))?;
        txn.commit().map_err(|e| self.fail("committing the new tables", e))
    }

    fn fail(&self, what: &str, cause: impl Display) -> Error {
        fail(&self.path, what, cause)
    }

    fn read(&self) -> Result<ReadTransaction, Error> {
        self.db.begin_read().map_err(|e| self.fail("beginning a read transaction", e))
    }

    /// A write transaction that is durable on commit. `Immediate` is redb's default; it is
    /// set here anyway because the whole crash-safety argument of [`Store::apply`] rests on
    /// it, and a changed default must not weaken it silently.
    fn write(&self) -> Result<WriteTransaction, Error> {
        let mut txn =
            self.db.begin_write().map_err(|e| self.fail("beginning a write transaction", e))?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| self.fail("setting immediate durability", e))?;
        Ok(txn)
    }

    /// Write `batch` into `txn`. Any error leaves the transaction uncommitted, and dropping
    /// it aborts it, so a failed batch changes nothing.
    fn write_batch(
        &self,
        txn: &WriteTransaction,
        objects: &[([u8; 32], Vec<u8>)],
        batch: &WriteBatch,
    ) -> Result<(), Error> {
        let mut table = txn.open_table(OBJECTS).map_err(|e| self.fail("opening objects", e))?;
        for (key, bytes) in objects {
            table.insert(key, bytes.as_slice()).map_err(|e| self.fail("writing an object", e))?;
        }
        let mut meta = txn.open_table(META).map_err(|e| self.fail("opening meta", e))?;
        for (key, value) in &batch.meta {
            meta.insert(key.as_bytes(), value.as_slice())
                .map_err(|e| self.fail(&format!("writing metadata {key:?}"), e))?;
        }
        for key in &batch.meta_deletes {
            meta.remove(key.as_bytes())
                .map_err(|e| self.fail(&format!("deleting metadata {key:?}"), e))?;
        }
        Ok(())
    }
}

impl Store for RedbStore {
    fn get(&self, id: &ObjectId) -> Result<Option<Object>, Error> {
        let txn = self.read()?;
        let table = txn.open_table(OBJECTS).map_err(|e| self.fail("opening objects", e))?;
        let key = &id.0.0;
        match table.get(key).map_err(|e| self.fail(&format!("reading object {id}"), e))? {
            Some(value) => decode_object(&self.path, key, value.value()).map(Some),
            None => Ok(None),
        }
    }

    /// One redb write transaction, committed durably: when this returns `Ok` the batch is on
    /// disk; if the process dies first, a reopened store has none of it.
    fn apply(&self, batch: WriteBatch) -> Result<(), Error> {
        if batch.is_empty() {
            return Ok(()); // nothing to make durable: skip the fsync
        }
        // Encode before taking the writer lock, so the lock is held for I/O only. Later puts
        // of one ID overwrite earlier ones in insertion order, as the trait asks.
        let objects = batch
            .objects
            .iter()
            .map(|o| Ok((o.id.0.0, encode_object(&self.path, o)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        let txn = self.write()?;
        self.write_batch(&txn, &objects, &batch)?;
        txn.commit().map_err(|e| self.fail("committing a batch", e))
    }

    fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let txn = self.read()?;
        let table = txn.open_table(META).map_err(|e| self.fail("opening meta", e))?;
        let value = table
            .get(key.as_bytes())
            .map_err(|e| self.fail(&format!("reading metadata {key:?}"), e))?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn meta_with_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let txn = self.read()?;
        let table = txn.open_table(META).map_err(|e| self.fail("opening meta", e))?;
        let what = || format!("scanning metadata under {prefix:?}");
        let mut found = Vec::new();
        // Keys sort by bytes, so those with the prefix are one run starting at the prefix.
        for entry in table.range(prefix.as_bytes()..).map_err(|e| self.fail(&what(), e))? {
            let (key, value) = entry.map_err(|e| self.fail(&what(), e))?;
            if !key.value().starts_with(prefix.as_bytes()) {
                break;
            }
            found.push((decode_meta_key(&self.path, key.value())?, value.value().to_vec()));
        }
        Ok(found)
    }

    /// Every object from one read transaction: a snapshot, so concurrent batches show whole
    /// or not at all; sorted by ID because the table is ordered by the ID's bytes.
    fn objects(&self) -> Result<Vec<Object>, Error> {
        let txn = self.read()?;
        let table = txn.open_table(OBJECTS).map_err(|e| self.fail("opening objects", e))?;
        let mut objects = Vec::new();
        for entry in table.iter().map_err(|e| self.fail("listing objects", e))? {
            let (key, value) = entry.map_err(|e| self.fail("listing objects", e))?;
            objects.push(decode_object(&self.path, key.value(), value.value())?);
        }
        Ok(objects)
    }

    /// The objects of each range of IDs, all from one read transaction, by the table's
    /// order.
    fn with_objects_in(
        &self,
        ranges: &[(ObjectId, ObjectId)],
        f: &mut dyn FnMut(usize, &[&Object]),
    ) -> Result<(), Error> {
        let txn = self.read()?;
        let table = txn.open_table(OBJECTS).map_err(|e| self.fail("opening objects", e))?;
        let mut objects = Vec::new();
        for (i, (first, last)) in ranges.iter().enumerate() {
            objects.clear();
            if first <= last {
                let range = table
                    .range::<&[u8; 32]>(&first.0.0..=&last.0.0)
                    .map_err(|e| self.fail("listing objects", e))?;
                for entry in range {
                    let (key, value) = entry.map_err(|e| self.fail("listing objects", e))?;
                    objects.push(decode_object(&self.path, key.value(), value.value())?);
                }
            }
            f(i, &objects.iter().collect::<Vec<_>>());
        }
        Ok(())
    }
}
