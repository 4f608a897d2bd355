//! How objects and metadata keys become bytes and back, and how failures become errors.
//!
//! Decoding is where disk contents enter the program, so every check here returns an
//! error instead of panicking: a corrupt value must stop a replica cleanly, with the file
//! and the key named, not crash it half way through a recovery.

use std::fmt::Display;
use std::path::Path;

use chainspace_core::Error;
use chainspace_core::object::{Object, ObjectId};

/// An [`Error::Store`] naming the database file, the operation and the cause, so that an
/// operator reading a log knows which replica's file to look at.
pub(crate) fn fail(path: &Path, what: &str, cause: impl Display) -> Error {
    Error::Store { reason: format!("redb store {}: {what}: {cause}", path.display()) }
}

/// The postcard bytes stored for `object`.
pub(crate) fn encode_object(path: &Path, object: &Object) -> Result<Vec<u8>, Error> {
    postcard::to_allocvec(object)
        .map_err(|e| fail(path, &format!("encoding object {}", object.id), e))
}

/// The object stored under `key`, checked to carry that very ID: a value copied under the
/// wrong key would otherwise be served as another object.
pub(crate) fn decode_object(path: &Path, key: &[u8; 32], bytes: &[u8]) -> Result<Object, Error> {
    let id = ObjectId(chainspace_core::crypto::Digest(*key));
    let object: Object = postcard::from_bytes(bytes)
        .map_err(|e| fail(path, &format!("object {id} is corrupt"), e))?;
    if object.id != id {
        return Err(fail(
            path,
            &format!("object {id} is corrupt"),
            format!("its value names object {}", object.id),
        ));
    }
    Ok(object)
}

/// A metadata key read back from disk. Keys are stored as raw bytes, not as redb `&str`,
/// because redb decodes `&str` with an unwrap: invalid UTF-8 would panic there.
pub(crate) fn decode_meta_key(path: &Path, bytes: &[u8]) -> Result<String, Error> {
    String::from_utf8(bytes.to_vec()).map_err(|e| fail(path, "a metadata key is corrupt", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(byte: u8) -> ObjectId {
        ObjectId(chainspace_core::crypto::Digest([byte; 32]))
    }

    #[test]
    fn objects_round_trip() {
        let path = Path::new("x.redb");
        let object = Object::new(id(1), "value");
        let bytes = encode_object(path, &object).expect("encode");
        assert_eq!(decode_object(path, &[1; 32], &bytes).expect("decode"), object);
    }

    #[test]
    fn garbage_is_an_error_naming_the_file_and_object() {
        let err = decode_object(Path::new("/d/x.redb"), &[1; 32], &[0xff; 3]).expect_err("bad");
        let text = err.to_string();
        assert!(matches!(err, Error::Store { .. }));
        assert!(text.contains("/d/x.redb") && text.contains(&id(1).to_hex()), "{text}");
    }

    #[test]
    fn a_value_under_the_wrong_key_is_an_error() {
        let path = Path::new("x.redb");
        let bytes = encode_object(path, &Object::new(id(2), "v")).expect("encode");
        let err = decode_object(path, &[1; 32], &bytes).expect_err("wrong key");
        assert!(err.to_string().contains(&id(2).to_hex()), "{err}");
    }

    #[test]
    fn invalid_utf8_keys_are_errors() {
        assert!(decode_meta_key(Path::new("x.redb"), &[0xff, 0xfe]).is_err());
        assert_eq!(decode_meta_key(Path::new("x.redb"), b"log/1").expect("utf8"), "log/1");
    }
}
