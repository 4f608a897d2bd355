//! Workloads: what clients submit in the S-BAC suites, and bookkeeping of what they
//! submitted, so the invariants can look transactions up by ID.

use std::collections::BTreeMap;
use std::time::Duration;

use chainspace_core::consensus::Consensus;
use chainspace_core::object::Object;
use chainspace_core::sim::World;
use chainspace_core::transaction::{Transaction, TransactionRequest, TxId};

/// Everything submitted in a run.
#[derive(Default)]
pub struct Ledger {
    /// Transactions by ID.
    pub txs: BTreeMap<TxId, Transaction>,
}

impl Ledger {
    /// Submit `tx` (with the values of `reads`) from `client` at `at`, as attempt 1.
    pub fn submit<C: Consensus>(
        &mut self,
        w: &mut World<C>,
        at: Duration,
        client: usize,
        tx: Transaction,
        reads: &[&Object],
    ) -> TxId {
        let id = tx.digest();
        let store = reads.iter().map(|o| (o.id, o.value.clone())).collect();
        self.txs.insert(id, tx.clone());
        w.submit_at(at, client, TransactionRequest { transaction: tx, store }, 1);
        id
    }
}

impl Ledger {
    /// Submit `tx` now (see [`Ledger::submit`]).
    pub fn submit_now<C: Consensus>(
        &mut self,
        w: &mut World<C>,
        client: usize,
        tx: Transaction,
        reads: &[&Object],
    ) -> TxId {
        let at = w.now();
        self.submit(w, at, client, tx, reads)
    }
}

/// The objects a transaction creates (its own outputs, then its dependencies').
pub fn outputs(tx: &Transaction) -> Vec<Object> {
    tx.created_objects()
}
