//! Atomicity: a cross-shard transaction is committed by all its shards or by none, and
//! the inputs of an aborted one are unlocked on every shard — with f replicas of every
//! shard signing garbage or silent, a partitioned primary, and a replica restarting from
//! nothing.

use chainspace_tests::invariants::{atomic, no_locks_left};
use chainspace_tests::setup::Mix;
use chainspace_tests::suite::{hold, names::*, pick};
use consensus_any::Protocol;

fn suite(mix: Mix, shards: u32) {
    for s in pick(mix, shards, 4, &[GARBAGE, SILENT, PARTITION, RESTART, RECOVER]) {
        hold(&s, |s, r| {
            atomic(&r.world, &r.ledger.txs, &s.faulty())?;
            no_locks_left(&r.world, &s.faulty())
        });
    }
}

#[test]
fn pbft_two_shards_of_four() {
    suite(Mix::All(Protocol::Pbft), 2);
}

#[test]
fn pbft_four_shards_of_four() {
    suite(Mix::All(Protocol::Pbft), 4);
}

#[test]
fn hotstuff_two_shards_of_four() {
    suite(Mix::All(Protocol::HotStuff), 2);
}

#[test]
fn hotstuff_four_shards_of_four() {
    suite(Mix::All(Protocol::HotStuff), 4);
}

/// PBFT in shard 0, HotStuff in shard 1.
#[test]
fn mixed_two_shards_of_four() {
    suite(Mix::Alternate, 2);
}

/// PBFT in shards 0 and 2, HotStuff in shards 1 and 3.
#[test]
fn mixed_four_shards_of_four() {
    suite(Mix::Alternate, 4);
}
