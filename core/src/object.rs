//! Objects: the unit of state in Chainspace (paper, section 3.1).
//!
//! An object is an immutable value with an ID derived from the transaction that created it
//! (see [`crate::transaction::Transaction::output_ids`]). A transaction consumes *active*
//! objects and makes them *inactive* forever; while S-BAC prepares a transaction, its
//! inputs are *locked* for that transaction (paper, section 4.2) so that no other
//! transaction can consume them in between.

use serde::{Deserialize, Serialize};

use crate::crypto::Digest;
use crate::transaction::TxId;

/// Define a newtype around [`Digest`] that reads and writes as 64 lower-case hex digits in
/// human-readable formats (JSON, TOML, logs) and as 32 raw bytes in binary ones (postcard).
macro_rules! hex_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub $crate::crypto::Digest);

        impl $name {
            /// Parse exactly 64 lower-case hex digits, the only form Python's `hexdigest`
            /// writes: accepting upper case would let two spellings of one ID hash
            /// differently inside a transaction.
            pub fn from_hex(s: &str) -> Result<Self, $crate::Error> {
                if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                    return Err($crate::Error::InvalidHexId {
                        value: s.chars().take(80).collect(),
                    });
                }
                $crate::crypto::Digest::from_hex(s).map($name)
            }

            /// The 64 lower-case hex digits.
            pub fn to_hex(&self) -> String {
                self.0.to_hex()
            }

            /// The underlying digest.
            pub fn digest(&self) -> $crate::crypto::Digest {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0.to_hex())
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.short())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::Error;
            fn from_str(s: &str) -> Result<Self, $crate::Error> {
                Self::from_hex(s)
            }
        }

        impl From<$crate::crypto::Digest> for $name {
            fn from(d: $crate::crypto::Digest) -> Self {
                $name(d)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.serialize_str(&self.0.to_hex())
                } else {
                    ::serde::Serialize::serialize(&self.0, s)
                }
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let s = <String as ::serde::Deserialize>::deserialize(d)?;
                    Self::from_hex(&s).map_err(::serde::de::Error::custom)
                } else {
                    <$crate::crypto::Digest as ::serde::Deserialize>::deserialize(d).map($name)
                }
            }
        }
    };
}
pub(crate) use hex_id;

hex_id!(
    /// The ID of an object: `sha256_hex(tx_digest + "|" + sha256_hex(value) + "|" + index)`
    /// as the Python framework computes it. Its integer value modulo the number of shards
    /// names the shard that manages the object ([`crate::shard::shard_of`]).
    ObjectId
);

/// Where an object is in its life cycle. Objects only move forward: `Active` to `Locked`
/// to `Inactive`, or back from `Locked` to `Active` when the locking transaction aborts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ObjectStatus {
    /// The object exists and may be consumed or referenced.
    Active,
    /// A prepared transaction holds the object; others must abort until it is accepted or
    /// aborted (paper, section 4.2: "locked").
    Locked {
        /// The transaction holding the lock.
        tx: TxId,
        /// The S-BAC instance of that transaction, so that a stale accept from an earlier
        /// attempt cannot release or consume a lock taken by a retry (replay defence).
        instance: u64,
    },
    /// The object was consumed by a committed transaction and can never be used again.
    Inactive,
}

/// An object as a shard stores it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Object {
    /// The object's ID; it commits to the creating transaction and to the value.
    pub id: ObjectId,
    /// The value, an opaque string for the platform (contracts usually put JSON in it);
    /// checkers receive it verbatim.
    pub value: String,
    /// Whether the object may still be used.
    pub status: ObjectStatus,
}

impl Object {
    /// A new, active object.
    pub fn new(id: ObjectId, value: impl Into<String>) -> Self {
        Object { id, value: value.into(), status: ObjectStatus::Active }
    }

    /// Whether a transaction may consume or reference the object now.
    pub fn is_active(&self) -> bool {
        self.status == ObjectStatus::Active
    }
}

impl ObjectId {
    /// The ID of output `index` of the transaction with digest `tx`, whose value is
    /// `value`: `sha256_hex(tx_hex + "|" + sha256_hex(value) + "|" + index)`, exactly as
    /// the Python `chainspacecontract` framework computes it.
    pub fn for_output(tx: &TxId, value: &str, index: usize) -> ObjectId {
        let text =
            format!("{}|{}|{}", tx.to_hex(), crate::crypto::sha256_hex(value.as_bytes()), index);
        ObjectId(crate::crypto::sha256(text.as_bytes()))
    }
}

impl From<ObjectId> for Digest {
    fn from(id: ObjectId) -> Digest {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "a9bde7fac83d70a4c6811d74d3cb218abc6c0f69e0dc5a77f0097be61faf79c7";

    #[test]
    fn ids_read_and_write_lower_case_hex() {
        let id: ObjectId = ID.parse().expect("valid id");
        assert_eq!(id.to_string(), ID);
        assert!(ObjectId::from_hex(&ID.to_uppercase()).is_err());
        assert!(ObjectId::from_hex(&ID[1..]).is_err());
        assert!(ObjectId::from_hex(&format!("{}g", &ID[1..])).is_err());
    }

    #[test]
    fn output_id_matches_the_design_vector() {
        let tx = TxId::from_hex("f0f110bd77f6b3603c8386b02a866dbc10d26b2ae75c371fe268dc20ee3a57ff")
            .expect("valid tx id");
        assert_eq!(ObjectId::for_output(&tx, "0", 0).to_hex(), ID);
    }

    #[test]
    fn ids_are_hex_strings_in_json_and_raw_bytes_in_postcard() {
        let id = ObjectId::from_hex(ID).expect("valid id");
        assert_eq!(serde_json::to_string(&id).expect("json"), format!("\"{ID}\""));
        assert_eq!(serde_json::from_str::<ObjectId>(&format!("\"{ID}\"")).expect("json"), id);
        assert!(serde_json::from_str::<ObjectId>("\"00\"").is_err());
        let bytes = postcard::to_allocvec(&id).expect("postcard");
        assert_eq!(bytes.len(), 32);
        assert_eq!(postcard::from_bytes::<ObjectId>(&bytes).expect("postcard"), id);
    }

    #[test]
    fn objects_round_trip_with_every_status() {
        let id = ObjectId::from_hex(ID).expect("valid id");
        let tx = TxId(crate::crypto::sha256(b"t"));
        for status in
            [ObjectStatus::Active, ObjectStatus::Locked { tx, instance: 3 }, ObjectStatus::Inactive]
        {
            let o = Object { id, value: "v".into(), status };
            let bytes = postcard::to_allocvec(&o).expect("postcard");
            assert_eq!(postcard::from_bytes::<Object>(&bytes).expect("postcard"), o);
            let text = serde_json::to_string(&o).expect("json");
            assert_eq!(serde_json::from_str::<Object>(&text).expect("json"), o);
        }
    }
}
