//! No object is consumed by two committed transactions: when concurrent transactions on
//! different shards race for one object, at most one commits — with f replicas of every
//! shard voting the wrong way or equivocating, and on a lossy network.

use chainspace_tests::invariants::no_double_spend;
use chainspace_tests::scenario::Scenario;
use chainspace_tests::setup::Mix;
use chainspace_tests::suite::{hold, names::*, pick};
use consensus_any::Protocol;

fn suite(mix: Mix, shards: u32) {
    for s in pick(mix, shards, 4, &[FAULT_FREE, WRONG_VOTES, EQUIVOCATE, LOSS]) {
        // Half the transactions race for an object another one consumes.
        let s = Scenario { conflict_share: 0.5, ..s };
        hold(&s, |s, r| no_double_spend(&r.world, &r.ledger.txs, &s.faulty()));
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
