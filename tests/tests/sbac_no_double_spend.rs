//! No object is consumed by two committed transactions: when concurrent transactions on
//! different shards race for one object, at most one commits — with f replicas of every
//! shard voting the wrong way or equivocating, and on a lossy network.

use chainspace_tests::invariants::no_double_spend;
use chainspace_tests::scenario::Scenario;
use chainspace_tests::suite::{hold, names::*, pick};

fn suite(shards: u32) {
    for s in pick(shards, 4, &[FAULT_FREE, WRONG_VOTES, EQUIVOCATE, LOSS]) {
        // Half the transactions race for an object another one consumes.
        let s = Scenario { conflict_share: 0.5, ..s };
        hold(&s, |s, r| no_double_spend(&r.world, &r.ledger.txs, &s.faulty()));
    }
}

#[test]
fn two_shards_of_four() {
    suite(2);
}

#[test]
fn four_shards_of_four() {
    suite(4);
}
