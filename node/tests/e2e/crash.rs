//! A load of transactions through the API while one replica of each shard is SIGKILLed
//! and later restarted, twice (the second time other replicas, so that each shard's
//! quorum needs a replica restarted before); then the checks that nothing committed was
//! lost and that the restarted replicas hold exactly what their peers hold.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chainspace_contracts::dummy;
use chainspace_core::object::{Object, ObjectStatus};
use chainspace_core::store::Store;
use chainspace_core::transaction::Transaction;
use chainspace_core::types::{ReplicaId, ShardId};
use serde_json::{Value, json};

use crate::harness::{Http, Network, ReplicaReader, WAIT, shard_of_hex};
use crate::steps::committed_on;

/// One request of the load, as sent and as answered.
#[derive(Debug)]
pub struct Attempt {
    pub kind: &'static str,
    pub tx: String,
    pub inputs: Vec<Object>,
    pub outputs: Vec<Object>,
    pub sent: Instant,
    pub answered: Instant,
    /// The HTTP status and body, or why there was none.
    pub answer: Result<(u16, Value), String>,
}

impl Attempt {
    pub fn committed(&self) -> bool {
        matches!(&self.answer, Ok((200, _)))
    }

    /// The shards S-BAC involves: those of the inputs and outputs (a create's concerned
    /// shards are its output shards), computed as the original does.
    pub fn shards(&self) -> Vec<u64> {
        let ids = self.inputs.iter().chain(&self.outputs).map(|o| o.id.to_hex());
        let set: BTreeSet<u64> = ids.map(|id| u64::from(shard_of_hex(&id, 2))).collect();
        set.into_iter().collect()
    }
}

async fn attempt(http: &Http, kind: &'static str, tx: Transaction, inputs: &[Object]) -> Attempt {
    let store: serde_json::Map<String, Value> =
        inputs.iter().map(|o| (o.id.to_hex(), Value::String(o.value.clone()))).collect();
    let body = json!({ "transaction": tx.to_json(), "store": store }).to_string();
    let sent = Instant::now();
    let answer = http.try_post(crate::harness::PROCESS, body).await.map_err(|e| e.to_string());
    Attempt {
        kind,
        tx: tx.digest().to_hex(),
        inputs: inputs.to_vec(),
        outputs: tx.created_objects(),
        sent,
        answered: Instant::now(),
        answer,
    }
}

/// Worker `w`: create two dummy objects, consume both (on different shards about half
/// the time, so S-BAC runs across shards), and again, until `stop`.
async fn worker(http: Http, w: usize, stop: Arc<AtomicBool>) -> Vec<Attempt> {
    let mut done = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let create = dummy::create(&format!("e2e-crash-{w}-{i}"), 2);
        let a = attempt(&http, "create", create, &[]).await;
        let created = a.committed().then(|| a.outputs.clone());
        done.push(a);
        let Some(objects) = created else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let consume = dummy::consume(&objects, i % 2 == 0);
        done.push(attempt(&http, "consume", consume, &objects).await);
    }
    done
}

pub struct Report {
    pub attempts: usize,
    pub commits: usize,
    /// Commits sent and answered while replicas were down, per outage.
    pub during_outage: Vec<usize>,
    pub after_restart: usize,
    pub others: BTreeMap<String, usize>,
    pub objects_per_shard: Vec<usize>,
}

/// One outage: which replicas were down and when.
struct Outage {
    victims: [ReplicaId; 2],
    killed: Instant,
    restarting: Instant,
    restarted: Instant,
}

/// Commit a create with objects on both shards and wait until every replica holds them:
/// each replica has then caught up with everything its shard ordered before.
async fn everyone_holds_a_marker(net: &Network, label: &str) {
    let marker = dummy::create(label, 6);
    let (code, body) = net.http.process(marker.to_json(), json!({})).await;
    assert_eq!(code, 200, "marker {label} commits: {body}");
    let mut reader = ReplicaReader::new(&net.cfg);
    let deadline = Instant::now() + WAIT;
    for object in marker.created_objects() {
        let shard = shard_of_hex(&object.id.to_hex(), 2);
        for id in net.replica_ids(shard) {
            reader.wait_for(id, &object, deadline).await;
        }
    }
    reader.close();
}

/// The scenario on a started 2 x 4 network.
pub async fn sigkill_under_load(net: &mut Network) -> Report {
    const WORKERS: usize = 4;
    let r = |shard, index| ReplicaId { shard: ShardId(shard), index };
    let rounds = [
        // The primary of view 0 in shard 0, so its shard must change views to go on, and
        // a backup in shard 1.
        [r(0, 0), r(1, 2)],
        // Then others, so each shard's quorum now needs the replica restarted before.
        [r(0, 1), r(1, 0)],
    ];
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> =
        (0..WORKERS).map(|w| tokio::spawn(worker(net.http.clone(), w, stop.clone()))).collect();

    // Some load first, then each crash: the network must go on committing without them.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mut outages = Vec::new();
    for (round, victims) in rounds.into_iter().enumerate() {
        for v in victims {
            net.kill(v);
        }
        let killed = Instant::now();
        tokio::time::sleep(Duration::from_secs(4)).await;
        let restarting = Instant::now();
        for v in victims {
            net.restart(v).await;
        }
        // The restarted replicas catch up (under load) before anything else is killed.
        everyone_holds_a_marker(net, &format!("e2e-crash-marker-{round}")).await;
        let restarted = Instant::now();
        eprintln!(
            "[e2e] {victims:?} down for {:?}, caught up {:?} after restarting",
            restarting - killed,
            restarted - restarting
        );
        outages.push(Outage { victims, killed, restarting, restarted });
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let mut attempts = Vec::new();
    for w in workers {
        let done = tokio::time::timeout(WAIT + WAIT, w).await.expect("the load stops in time");
        attempts.extend(done.expect("a worker"));
    }

    // What the API said: every 200 is a commit of exactly the transaction sent.
    let mut others = BTreeMap::new();
    for a in &attempts {
        match &a.answer {
            Ok((200, body)) => {
                assert_eq!(body["outcome"], "accepted_t_commit", "{body}");
                assert_eq!(body["transactionID"], a.tx, "{body}");
                let outputs: Vec<String> = a.outputs.iter().map(|o| o.id.to_hex()).collect();
                assert_eq!(body["outputs"], json!(outputs), "{body}");
            }
            Ok((code, body)) => {
                let what = format!("{} {code} {}", a.kind, body["outcome"].as_str().unwrap_or("?"));
                *others.entry(what).or_insert(0) += 1;
            }
            Err(e) => *others.entry(format!("{} error {e:.80}", a.kind)).or_insert(0) += 1,
        }
    }
    let commits: Vec<&Attempt> = attempts.iter().filter(|a| a.committed()).collect();
    let mut during_outage = Vec::new();
    for o in &outages {
        let n = commits.iter().filter(|a| a.sent >= o.killed && a.answered <= o.restarting).count();
        assert!(n > 0, "nothing committed while {:?} were down", o.victims);
        during_outage.push(n);
    }
    let last = outages.last().expect("outages").restarted;
    let after_restart = commits.iter().filter(|a| a.sent >= last).count();
    eprintln!(
        "[e2e] load: {} requests, {} committed ({during_outage:?} sent and committed during the \
         outages, {after_restart} after the last restart); not committed: {others:?}",
        attempts.len(),
        commits.len(),
    );
    assert!(after_restart > 0, "nothing committed after the last restart");

    // Quiescence: the load has stopped; a last marker is held by every replica.
    everyone_holds_a_marker(net, "e2e-crash-marker-end").await;

    // Every commit the API reported reads back: the transaction as committed by exactly its
    // shards, its outputs with their values, consumed ones inactive.
    let consumed: BTreeSet<String> = commits
        .iter()
        .filter(|a| a.kind == "consume")
        .flat_map(|a| a.inputs.iter().map(|o| o.id.to_hex()))
        .collect();
    // Inputs of consumes whose outcome the test never learnt (no answer, a 504).
    let undecided: BTreeSet<String> = attempts
        .iter()
        .filter(|a| a.kind == "consume" && !matches!(a.answer, Ok((200 | 409, _))))
        .flat_map(|a| a.inputs.iter().map(|o| o.id.to_hex()))
        .collect();
    let checks = Arc::new(tokio::sync::Semaphore::new(16));
    let mut reads = tokio::task::JoinSet::new();
    for a in &commits {
        let (http, checks) = (net.http.clone(), checks.clone());
        let (tx, shards) = (a.tx.clone(), a.shards());
        let outputs: Vec<(String, String, Option<&'static str>)> = a
            .outputs
            .iter()
            .map(|o| {
                let id = o.id.to_hex();
                let want = if consumed.contains(&id) {
                    Some("inactive")
                } else if undecided.contains(&id) {
                    None
                } else {
                    Some("active")
                };
                (id, o.value.clone(), want)
            })
            .collect();
        reads.spawn(async move {
            let _permit = checks.acquire().await.expect("open");
            let (code, body) = http.get(&format!("/api/1.0/transactions/{tx}")).await;
            assert_eq!(code, 200, "committed {tx} is known: {body}");
            assert_eq!(body["outcome"], "accepted_t_commit", "committed {tx}: {body}");
            assert_eq!(committed_on(&body), shards, "committed {tx} on its shards: {body}");
            for (id, value, want) in outputs {
                let (code, body) = http.get(&format!("/api/1.0/objects/{id}")).await;
                assert_eq!(code, 200, "output {id} of committed {tx}: {body}");
                assert_eq!(body["value"], value, "{body}");
                if let Some(want) = want {
                    assert_eq!(body["status"], want, "output {id} of committed {tx}: {body}");
                }
            }
        });
    }
    let all_read = tokio::time::timeout(WAIT + WAIT, async {
        while let Some(r) = reads.join_next().await {
            r.expect("a committed transaction reads back");
        }
    })
    .await;
    assert!(all_read.is_ok(), "reading back the commits took too long");

    // Stop everything cleanly, then compare the replicas' stores shard by shard.
    net.stop_gracefully();
    let mut objects_per_shard = Vec::new();
    for shard in 0..2u32 {
        let ids = net.replica_ids(shard);
        let stores: Vec<(ReplicaId, Vec<Object>)> = ids
            .iter()
            .map(|id| {
                let store = store_redb::RedbStore::open(net.store_file(*id))
                    .unwrap_or_else(|e| panic!("{id}'s store opens: {e}"));
                (*id, store.objects().expect("objects"))
            })
            .collect();
        let (first, reference) = &stores[0];
        for (id, objects) in &stores[1..] {
            assert!(
                objects == reference,
                "{id} differs from {first}:\n{}",
                diff(reference, objects)
            );
        }
        // ... and holds every committed output of this shard, in the state the API gave.
        let held: BTreeMap<String, &Object> =
            reference.iter().map(|o| (o.id.to_hex(), o)).collect();
        for a in &commits {
            for o in &a.outputs {
                let id = o.id.to_hex();
                if shard_of_hex(&id, 2) != shard {
                    continue;
                }
                let stored = held.get(&id).unwrap_or_else(|| panic!("{id} lost on shard {shard}"));
                assert_eq!(stored.value, o.value);
                if consumed.contains(&id) {
                    assert_eq!(stored.status, ObjectStatus::Inactive, "{id}");
                } else if !undecided.contains(&id) {
                    assert_eq!(stored.status, ObjectStatus::Active, "{id}");
                }
            }
        }
        let locked = reference.iter().filter(|o| matches!(o.status, ObjectStatus::Locked { .. }));
        let locked: Vec<String> = locked.map(|o| format!("{} {:?}", o.id, o.status)).collect();
        assert!(locked.is_empty(), "shard {shard}: locks left after quiescence: {locked:?}");
        objects_per_shard.push(reference.len());
    }
    Report {
        attempts: attempts.len(),
        commits: commits.len(),
        during_outage,
        after_restart,
        others,
        objects_per_shard,
    }
}

/// What differs between two replicas' objects (the first few differences).
fn diff(a: &[Object], b: &[Object]) -> String {
    let a: BTreeMap<_, _> = a.iter().map(|o| (o.id, o)).collect();
    let b: BTreeMap<_, _> = b.iter().map(|o| (o.id, o)).collect();
    let keys: BTreeSet<_> = a.keys().chain(b.keys()).collect();
    let lines: Vec<String> = keys
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            format!("{k}: {:?} vs {:?}", a.get(k).map(|o| o.status), b.get(k).map(|o| o.status))
        })
        .collect();
    format!("{} objects differ; first: {:#?}", lines.len(), &lines[..lines.len().min(10)])
}
