//! The consensus-only workload (`chainspace_core::order`): replicas configured for it
//! order clients' opaque commands and report them; others refuse them. Over the whole
//! simulated system, for each protocol, with a lossy network and a crashed replica.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chainspace_core::committee::Committee;
use chainspace_core::order::OrderRequest;
use chainspace_core::replica::{Addr, Replica, ReplicaAction, ReplicaConfig, ReplicaMessage};
use chainspace_core::sbac::Outcome;
use chainspace_core::store::MemoryStore;
use chainspace_core::types::{ReplicaId, ShardId};
use chainspace_tests::setup::{Deployment, Mix, pbft_config};
use consensus_any::Protocol;
use consensus_pbft::Pbft;

fn replica(ordering: bool) -> Replica<Pbft> {
    let (committee, keys) = Committee::for_test(2, 4);
    let key = keys[0][0].clone();
    let pbft =
        Pbft::new(pbft_config(), committee.shards[0].clone(), 0, key.clone()).expect("valid");
    let id = ReplicaId { shard: ShardId(0), index: 0 };
    let cfg = ReplicaConfig { ordering, ..ReplicaConfig::default() };
    Replica::new(id, key, committee, cfg, pbft, Arc::new(MemoryStore::new()))
}

fn command(shard: u32, n: u8) -> OrderRequest {
    OrderRequest { shard: ShardId(shard), payload: vec![n; 512] }
}

#[test]
fn a_replica_not_configured_for_it_refuses_commands() {
    let mut r = replica(false);
    let mut out = Vec::new();
    r.on_message(Addr::Client(3), ReplicaMessage::Order(command(0, 1)), &mut out);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(r.stats().refused_submissions, 1);
}

#[test]
fn commands_for_another_shard_or_from_a_replica_are_refused() {
    let mut r = replica(true);
    let mut out = Vec::new();
    r.on_message(Addr::Client(3), ReplicaMessage::Order(command(1, 1)), &mut out);
    assert_eq!(r.stats().refused_submissions, 1);
    let peer = Addr::Replica(ReplicaId { shard: ShardId(0), index: 1 });
    r.on_message(peer, ReplicaMessage::Order(command(0, 1)), &mut out);
    assert_eq!(r.stats().misdirected_messages, 1);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn the_primary_proposes_a_command_it_is_sent() {
    let mut r = replica(true);
    let mut out = Vec::new();
    r.on_message(Addr::Client(3), ReplicaMessage::Order(command(0, 1)), &mut out);
    let sent_to: Vec<Addr> = out
        .iter()
        .filter_map(|a| match a {
            ReplicaAction::Broadcast { to, msg: ReplicaMessage::Consensus(m) } => {
                assert_eq!(
                    chainspace_core::consensus::ProtocolMessage::kind(m),
                    "PrePrepareDigests"
                );
                Some(to.clone())
            }
            _ => None,
        })
        .flatten()
        .collect();
    let peers = (1..4).map(|index| Addr::Replica(ReplicaId { shard: ShardId(0), index }));
    assert_eq!(sent_to, peers.collect::<Vec<_>>());
    assert_eq!(r.stats().refused_submissions, 0);
}

/// `count` commands from each of 4 clients over a 2-shard world running `protocol`,
/// with `loss` of every message lost and replica s0r3 crashed; every command must be
/// reported ordered, to the client that sent it. Returns how many were.
fn run(protocol: Protocol, seed: u64, loss: f64, ordering: bool) -> usize {
    let mut d = Deployment::new(2, 4);
    d.clients = 4;
    d.mix = Mix::All(protocol);
    d.ordering = ordering;
    d.network.drop_rate = loss;
    let mut w = d.world(seed);
    w.crash_at(Duration::ZERO, ReplicaId { shard: ShardId(0), index: 3 });
    let mut ids = BTreeMap::new();
    for c in 0..4usize {
        for n in 0..25u32 {
            let mut payload = vec![0u8; 512];
            payload[..4].copy_from_slice(&(c as u32).to_le_bytes());
            payload[4..8].copy_from_slice(&n.to_le_bytes());
            let request = OrderRequest { shard: ShardId(n % 2), payload };
            ids.insert(request.id(), c);
            w.order_at(Duration::from_millis(u64::from(n) * 2), c, request);
        }
    }
    w.run_until(Duration::from_secs(20));
    let mut ordered = 0;
    for c in 0..4 {
        for f in w.client_mut(c).take_finished() {
            assert_eq!(ids.remove(&f.tx), Some(c), "a command reported to the client that sent it");
            assert_eq!(f.outcome, Outcome::Commit);
            ordered += 1;
        }
    }
    ordered
}

#[test]
fn every_command_is_ordered_by_either_protocol_despite_loss_and_a_crash() {
    for protocol in [Protocol::Pbft, Protocol::HotStuff] {
        for seed in 0..20 {
            assert_eq!(run(protocol, seed, 0.05, true), 100, "{protocol:?} seed {seed}");
        }
    }
}

#[test]
fn replicas_of_a_real_deployment_order_no_command() {
    assert_eq!(run(Protocol::Pbft, 1, 0.0, false), 0);
}

#[test]
fn commands_sent_together_are_each_proposed_and_an_oversized_bundle_is_refused_whole() {
    use chainspace_core::replica::MAX_ORDERS;
    let mut r = replica(true);
    let mut out = Vec::new();
    let bundle = (0..3).map(|n| command(0, n)).collect();
    r.on_message(Addr::Client(3), ReplicaMessage::Orders(bundle), &mut out);
    assert_eq!(r.stats().refused_submissions, 0);
    assert!(!out.is_empty(), "the primary proposes");
    let mut more = Vec::new();
    let huge = (0..=MAX_ORDERS).map(|n| command(0, (n % 250) as u8)).collect();
    r.on_message(Addr::Client(3), ReplicaMessage::Orders(huge), &mut more);
    assert!(more.is_empty(), "{} actions", more.len());
    assert_eq!(r.stats().refused_submissions, 1);
}
