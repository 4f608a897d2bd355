//! Consensus state that must survive a crash reaches the store before the messages that
//! depend on it leave, and comes back when a replica restarts on its store.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chainspace_contracts::dummy;
use chainspace_core::Error;
use chainspace_core::consensus::Consensus;
use chainspace_core::object::{Object, ObjectId};
use chainspace_core::replica::{CONSENSUS_STATE, Replica, ReplicaConfig};
use chainspace_core::sim::RestartFrom;
use chainspace_core::store::{MemoryStore, Store, WriteBatch};
use chainspace_core::types::{ReplicaId, ShardId};
use chainspace_tests::setup::{Deployment, Mix, sim_config};
use chainspace_tests::workload::Ledger;
use consensus_any::Protocol;

#[test]
fn every_replica_has_written_its_latest_durable_state() {
    for p in Protocol::ALL {
        let mut d = Deployment::new(2, 4);
        d.mix = Mix::All(p);
        let mut w = d.world(5);
        let mut ledger = Ledger::default();
        for k in 0..5 {
            ledger.submit_now(&mut w, 0, dummy::create(&format!("durable {k}"), 2), &[]);
        }
        let done = w.run_until_cond(Duration::from_secs(10), Duration::from_millis(5), |w| {
            w.client(0).finished().len() == 5
        });
        assert!(done, "{p}: all committed");
        for id in w.replica_ids() {
            let r = w.replica(id);
            let stored = r.engine().store().get_meta(CONSENSUS_STATE).unwrap();
            let state = r.consensus().durable_state();
            assert_eq!(stored, Some(state), "{p} {id}: it took part, so wrote its state");
        }
    }
}

#[test]
fn a_replica_restarted_on_its_store_restores_its_consensus_state() {
    let mut d = Deployment::new(2, 4);
    d.mix = Mix::All(Protocol::HotStuff);
    let mut w = d.world(6);
    let mut ledger = Ledger::default();
    ledger.submit_now(&mut w, 0, dummy::create("before", 2), &[]);
    w.run_until(Duration::from_millis(300));
    // A replica that voted (not round 1's leader of its shard, to keep it simple).
    let id = w
        .replica_ids()
        .into_iter()
        .find(|r| r.index == 2 && w.replica(*r).consensus().durable_version() > 0)
        .expect("some replica voted");
    let before = w.replica(id).consensus().durable_version();
    w.crash_at(w.now(), id);
    w.restart_at(w.now() + Duration::from_millis(1), id, RestartFrom::Store);
    w.run_until(w.now() + Duration::from_millis(2));
    let after = w.replica(id).consensus().as_hotstuff().expect("HotStuff").last_voted_round();
    assert!(after > 0 && w.replica(id).consensus().durable_version() >= before);
    // And it keeps working with the others.
    ledger.submit_now(&mut w, 0, dummy::create("after", 2), &[]);
    let done = w.run_until_cond(Duration::from_secs(10), Duration::from_millis(5), |w| {
        w.client(0).finished().len() == 2
    });
    assert!(done);
}

/// A store whose metadata writes can be made to fail.
struct Failing {
    inner: MemoryStore,
    fail_meta: AtomicBool,
}

impl Store for Failing {
    fn get(&self, id: &ObjectId) -> Result<Option<Object>, Error> {
        self.inner.get(id)
    }
    fn apply(&self, batch: WriteBatch) -> Result<(), Error> {
        if self.fail_meta.load(Ordering::SeqCst) {
            return Err(Error::Store { reason: "disk full".into() });
        }
        self.inner.apply(batch)
    }
    fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.inner.get_meta(key)
    }
    fn meta_with_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
        self.inner.meta_with_prefix(prefix)
    }
    fn objects(&self) -> Result<Vec<Object>, Error> {
        self.inner.objects()
    }
}

#[test]
fn no_consensus_message_leaves_when_its_state_cannot_be_written() {
    use chainspace_core::committee::Committee;
    use chainspace_core::replica::{Addr, ReplicaAction, ReplicaMessage};
    use chainspace_core::sbac::Submission;
    use chainspace_core::transaction::TransactionRequest;
    // A HotStuff leader proposes (and votes for) a block as soon as it has a command:
    // its vote changes its durable state.
    let (committee, keys) = Committee::for_test(1, 4);
    let leader = 1; // round 1's leader
    let store = Arc::new(Failing { inner: MemoryStore::new(), fail_meta: AtomicBool::new(false) });
    let make = |store: Arc<Failing>| {
        let key = keys[0][leader as usize].clone();
        let c = sim_config(Protocol::HotStuff)
            .build(committee.shards[0].clone(), leader, key.clone())
            .unwrap();
        let id = ReplicaId { shard: ShardId(0), index: leader };
        Replica::new(id, key, committee.clone(), ReplicaConfig::default(), c, store)
    };
    let submit = |r: &mut Replica<consensus_any::AnyConsensus>, label: &str| {
        let request =
            TransactionRequest { transaction: dummy::create(label, 1), store: Default::default() };
        let mut out = Vec::new();
        r.on_start(&mut out);
        r.on_message(
            Addr::Client(1),
            ReplicaMessage::Submit(Submission { request, instance: 1 }),
            &mut out,
        );
        // Fire every timer once, as the batch delay may hold the proposal.
        let timers: Vec<_> = out
            .iter()
            .filter_map(|a| match a {
                ReplicaAction::SetTimer { timer, .. } => Some(timer.clone()),
                _ => None,
            })
            .collect();
        for t in timers {
            r.on_timer(t, &mut out);
        }
        out.iter()
            .filter(|a| {
                matches!(
                    a,
                    ReplicaAction::Send { msg: ReplicaMessage::Consensus(_), .. }
                        | ReplicaAction::Broadcast { msg: ReplicaMessage::Consensus(_), .. }
                )
            })
            .count()
    };
    let mut ok = make(store.clone());
    assert!(submit(&mut ok, "fine") > 0, "a healthy leader proposes");
    let failing = Arc::new(Failing { inner: MemoryStore::new(), fail_meta: AtomicBool::new(true) });
    let mut broken = make(failing);
    assert_eq!(submit(&mut broken, "fine"), 0, "nothing leaves unpersisted");
    assert!(broken.stats().store_errors > 0);
}
