//! The application a simulated replica runs: it records every delivered batch and keeps a
//! hash chain over them, which is also its snapshot.
//!
//! The chain digest after sequence `s` is `H(chain(s-1) || s || H(batch s))`, so two
//! replicas with equal chains at `s` delivered the same history, and a replica that
//! installed a snapshot at `s` can be checked against the others without the commands.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::crypto::{Digest, sha256_parts};
use crate::error::Error;
use crate::types::Command;

/// The snapshot of a [`SimApp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct AppSnapshot {
    sequence: u64,
    chain: Digest,
}

/// What one simulated replica delivered.
#[derive(Clone, Debug, Default)]
pub struct SimApp {
    /// Delivered batches by sequence number.
    pub batches: BTreeMap<u64, Vec<Command>>,
    /// The chain digest after each sequence this replica reached (delivered or installed).
    pub chain: BTreeMap<u64, Digest>,
    /// Sequence numbers at which a snapshot was installed.
    pub installs: Vec<u64>,
    /// Errors seen: a delivery out of order, a snapshot that does not decode. Any entry
    /// is a protocol bug; conformance checks require this to be empty.
    pub errors: Vec<String>,
    last: u64,
    head: Digest,
}

impl SimApp {
    /// A fresh application at sequence 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The last sequence applied.
    pub fn last(&self) -> u64 {
        self.last
    }

    /// Apply a delivered batch.
    pub fn deliver(&mut self, sequence: u64, commands: Vec<Command>) {
        if sequence != self.last + 1 {
            self.errors.push(format!("delivered n={sequence} after n={}", self.last));
        }
        let mut h = Vec::with_capacity(commands.len() * 32);
        for c in &commands {
            h.extend_from_slice(&c.digest().0);
        }
        self.head = sha256_parts(&[&self.head.0, &sequence.to_le_bytes(), &h]);
        self.last = sequence;
        self.chain.insert(sequence, self.head);
        self.batches.insert(sequence, commands);
    }

    /// The snapshot of the current state.
    pub fn snapshot(&self) -> Vec<u8> {
        postcard::to_allocvec(&AppSnapshot { sequence: self.last, chain: self.head })
            .expect("encoding a fixed-size struct cannot fail")
    }

    /// Replace the state with a snapshot taken at `sequence`.
    pub fn install(&mut self, sequence: u64, bytes: &[u8]) -> Result<(), Error> {
        let snap: AppSnapshot = postcard::from_bytes(bytes)
            .map_err(|e| Error::InvalidSnapshot { reason: e.to_string() })?;
        if snap.sequence != sequence {
            let reason = format!("snapshot of n={} offered as n={sequence}", snap.sequence);
            self.errors.push(reason.clone());
            return Err(Error::InvalidSnapshot { reason });
        }
        if sequence <= self.last {
            self.errors.push(format!("snapshot n={sequence} installed at n={}", self.last));
        }
        self.last = sequence;
        self.head = snap.chain;
        self.chain.insert(sequence, snap.chain);
        self.installs.push(sequence);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_histories_give_equal_chains_and_snapshots_carry_them() {
        let mut a = SimApp::new();
        let mut b = SimApp::new();
        for s in 1..=3 {
            let batch = vec![Command::new(vec![s as u8])];
            a.deliver(s, batch.clone());
            b.deliver(s, batch);
        }
        assert_eq!(a.chain, b.chain);
        let mut c = SimApp::new();
        c.install(3, &a.snapshot()).unwrap();
        c.deliver(4, vec![]);
        a.deliver(4, vec![]);
        assert_eq!(c.chain[&4], a.chain[&4]);
        assert!(c.errors.is_empty());
        assert!(c.install(9, &a.snapshot()).is_err(), "a snapshot must match its sequence");
    }

    #[test]
    fn out_of_order_delivery_is_recorded_as_an_error() {
        let mut a = SimApp::new();
        a.deliver(2, vec![]);
        assert_eq!(a.errors.len(), 1);
    }
}
