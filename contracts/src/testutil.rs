//! Test helpers: a tiny ledger that resolves transactions into check requests exactly as a
//! replica does ([`CheckRequest::from_transaction`]), and a runtime-free `block_on`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use chainspace_core::checker::{CheckRequest, CheckVerdict};
use chainspace_core::object::{Object, ObjectId};
use chainspace_core::transaction::Transaction;

/// Poll a future that never waits to completion, without an async runtime.
pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// The objects a test knows, by ID.
#[derive(Default)]
pub(crate) struct Ledger {
    objects: BTreeMap<ObjectId, String>,
}

impl Ledger {
    /// Record `objects` (say, the outputs of a committed transaction).
    pub(crate) fn add(&mut self, objects: impl IntoIterator<Item = Object>) {
        for o in objects {
            self.objects.insert(o.id, o.value);
        }
    }

    /// Record an object with an arbitrary value (a forged or foreign object), returning it.
    pub(crate) fn forge(&mut self, label: &str, value: &str) -> Object {
        let id = ObjectId(chainspace_core::crypto::sha256(label.as_bytes()));
        self.objects.insert(id, value.to_string());
        Object::new(id, value)
    }

    /// The request a replica would send the checker for `tx`.
    pub(crate) fn request(&self, tx: &Transaction) -> CheckRequest {
        CheckRequest::from_transaction(tx, &|id| self.objects.get(id).cloned())
            .expect("every object of the test transaction is known")
    }

    /// Record the outputs of `tx` as if it committed, and return them.
    pub(crate) fn commit(&mut self, tx: &Transaction) -> Vec<Object> {
        let created = tx.created_objects();
        self.add(created.clone());
        created
    }
}

/// Assert that `verdict` rejects with a reason containing `fragment`.
#[track_caller]
pub(crate) fn assert_rejected(verdict: CheckVerdict, fragment: &str) {
    assert!(!verdict.accepted, "expected a rejection mentioning {fragment:?}, got acceptance");
    let reason = verdict.reason.unwrap_or_default();
    assert!(reason.contains(fragment), "reason {reason:?} does not mention {fragment:?}");
}

/// Assert that `verdict` accepts.
#[track_caller]
pub(crate) fn assert_accepted(verdict: CheckVerdict) {
    assert!(verdict.accepted, "expected acceptance, got {:?}", verdict.reason);
}
