//! A replica's handling of bad input from the network, one message at a time: each is
//! counted and dropped, with no action.

use std::sync::Arc;

use chainspace_contracts::dummy;
use chainspace_core::committee::Committee;
use chainspace_core::crypto::Signature;
use chainspace_core::replica::{Addr, Replica, ReplicaConfig, ReplicaMessage, VoteMessage};
use chainspace_core::sbac::{Submission, Vote};
use chainspace_core::shard::involved_shards;
use chainspace_core::store::MemoryStore;
use chainspace_core::transaction::TransactionRequest;
use chainspace_core::types::{ReplicaId, ShardId};
use chainspace_tests::setup::pbft_config;
use consensus_pbft::message::Status;
use consensus_pbft::{Message, Pbft};

fn replica(
    shard: u32,
    index: u32,
) -> (Replica<Pbft>, Committee, Vec<Vec<chainspace_core::crypto::Keypair>>) {
    let (committee, keys) = Committee::for_test(2, 4);
    let id = ReplicaId { shard: ShardId(shard), index };
    let key = keys[shard as usize][index as usize].clone();
    let pbft =
        Pbft::new(pbft_config(), committee.shards[shard as usize].clone(), index, key.clone())
            .expect("valid");
    let r = Replica::new(
        id,
        key,
        committee.clone(),
        ReplicaConfig::default(),
        pbft,
        Arc::new(MemoryStore::new()),
    );
    (r, committee, keys)
}

fn peer(shard: u32, index: u32) -> Addr {
    Addr::Replica(ReplicaId { shard: ShardId(shard), index })
}

#[test]
fn a_client_cannot_speak_consensus() {
    let (mut r, _, _) = replica(0, 0);
    let mut out = Vec::new();
    let msg = ReplicaMessage::Consensus(Message::Status(Status { view: 0, last_executed: 9 }));
    r.on_message(Addr::Client(7), msg, &mut out);
    assert!(out.is_empty());
    assert_eq!(r.stats().misdirected_messages, 1);
    // Nor can a replica of another shard.
    let msg = ReplicaMessage::Consensus(Message::Status(Status { view: 0, last_executed: 9 }));
    r.on_message(peer(1, 0), msg, &mut out);
    assert!(out.is_empty());
    assert_eq!(r.stats().misdirected_messages, 2);
}

#[test]
fn forged_or_misattributed_votes_are_counted_and_dropped() {
    let (mut r, _, keys) = replica(0, 0);
    let tx = dummy::create("votes", 2).digest();
    let mut out = Vec::new();
    let good = Vote::new(tx, 1, ShardId(1), 2, true, None, &keys[1][2]);
    // A bad signature.
    let mut forged = good.clone();
    forged.signature = Signature([7; 64]);
    let m = VoteMessage { vote: forged, transaction: None, reply: false };
    r.on_message(peer(1, 2), ReplicaMessage::Vote(m), &mut out);
    // A valid vote of replica 2, sent by replica 3 (speaking for another).
    let m = VoteMessage { vote: good.clone(), transaction: None, reply: false };
    r.on_message(peer(1, 3), ReplicaMessage::Vote(m), &mut out);
    // A vote from a client.
    let m = VoteMessage { vote: good, transaction: None, reply: false };
    r.on_message(Addr::Client(1), ReplicaMessage::Vote(m), &mut out);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(r.stats().invalid_votes, 2);
    assert_eq!(r.stats().misdirected_messages, 1);
}

#[test]
fn submissions_for_other_shards_or_instance_zero_are_refused() {
    let create = dummy::create("refused", 1);
    let shard = involved_shards(&create, 2)[0];
    let other = 1 - shard.0;
    let (mut r, _, _) = replica(other, 0);
    let request = TransactionRequest { transaction: create, store: Default::default() };
    let mut out = Vec::new();
    let sub = Submission { request: request.clone(), instance: 1 };
    r.on_message(Addr::Client(1), ReplicaMessage::Submit(sub), &mut out);
    let (mut mine, _, _) = replica(shard.0, 0);
    let zero = Submission { request, instance: 0 };
    mine.on_message(Addr::Client(1), ReplicaMessage::Submit(zero), &mut out);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!((r.stats().refused_submissions, mine.stats().refused_submissions), (1, 1));
}

#[test]
fn clients_read_objects_and_records_replicas_may_not_ask() {
    use chainspace_core::replica::{Answer, AnswerBody, Query, ReplicaAction, Subject};
    use chainspace_core::store::WriteBatch;
    let (mut r, _, _) = replica(0, 1);
    let object = chainspace_tests::workload::outputs(&dummy::create("read me", 1)).remove(0);
    r.engine().store().apply(WriteBatch::new().put(object.clone())).unwrap();
    let ask = |r: &mut Replica<Pbft>, from: Addr, about: Subject| {
        let mut out = Vec::new();
        r.on_message(from, ReplicaMessage::Query(Query { id: 9, about }), &mut out);
        out
    };
    let answer = |body| ReplicaMessage::Answer(Answer { id: 9, shard: ShardId(0), body });
    let out = ask(&mut r, Addr::Client(4), Subject::Object(object.id));
    assert!(matches!(&out[..], [ReplicaAction::Send { to: Addr::Client(4), msg }]
        if *msg == answer(AnswerBody::Object(object.id, Some(object.clone())))));
    let tx = dummy::create("never seen", 1).digest();
    let out = ask(&mut r, Addr::Client(4), Subject::Transaction(tx));
    assert!(matches!(&out[..], [ReplicaAction::Send { msg, .. }]
        if *msg == answer(AnswerBody::Transaction(tx, None))));
    assert!(ask(&mut r, peer(0, 2), Subject::Object(object.id)).is_empty());
    assert_eq!(r.stats().misdirected_messages, 1);
}
