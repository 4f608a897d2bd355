//! Why a network config could not be used. Every variant names the file, and those about
//! one setting name its key as written in the file (`shards[1].replicas[2].address`), so
//! an operator can go straight to the line to fix.

use std::path::PathBuf;

/// A config that cannot be read, parsed, validated or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML, an unknown key, or a value of the wrong type; `message` is the TOML
    /// parser's, which names the key and shows the line.
    #[error("{}: {message}", path.display())]
    Syntax {
        /// The config file.
        path: PathBuf,
        /// The parser's explanation.
        message: String,
    },
    /// A value that parses but cannot work.
    #[error("{}: {key}: {reason}", path.display())]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// The key, as a path into the file.
        key: String,
        /// What is wrong and what would be right.
        reason: String,
    },
    /// A key file that is missing, unreadable, malformed, or holds another key.
    #[error("{}: {key}: key file {}: {reason}", path.display(), file.display())]
    KeyFile {
        /// The config file.
        path: PathBuf,
        /// The key naming the key file.
        key: String,
        /// The key file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A replica asked for that the config does not list.
    #[error("{}: no replica {replica} (the file lists {shards} shard(s))", path.display())]
    NoSuchReplica {
        /// The config file.
        path: PathBuf,
        /// `s{S}r{R}`.
        replica: String,
        /// How many shards there are.
        shards: usize,
    },
    /// Writing generated keys or config failed.
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}
