//! No object is consumed by two committed transactions: when concurrent transactions on
//! different shards race for one object, at most one commits — with f replicas of every
//! shard voting the wrong way or equivocating, and on a lossy network.

use chainspace_tests::invariants::no_double_spend;
use chainspace_tests::scenario::Scenario;
use chainspace_tests::setup::Mix;
use chainspace_tests::suite::{hold, names::*, pick};

fn suite(mix: Mix, shards: u32) {
    for s in pick(mix, shards, 4, &[FAULT_FREE, WRONG_VOTES, EQUIVOCATE, LOSS]) {
        // Half the transactions race for an object another one consumes.
        let s = Scenario { conflict_share: 0.5, ..s };
        hold(&s, |s, r| no_double_spend(&r.world, &r.ledger.txs, &s.faulty()));
    }
}

chainspace_tests::protocol_matrix!(suite);
