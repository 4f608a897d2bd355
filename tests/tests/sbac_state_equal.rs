//! Replica state is equal across the correct replicas of each shard after quiescence:
//! same objects, same statuses, same transaction records — after loss, crashes, and a
//! replica that restarted from nothing and caught up by state transfer.

use chainspace_tests::invariants::states_equal;
use chainspace_tests::suite::{hold, names::*, pick};

fn suite(shards: u32) {
    for s in pick(shards, 4, &[FAULT_FREE, LOSS, CRASHED, RESTART]) {
        hold(&s, |s, r| states_equal(&r.world, &s.faulty()));
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
