//! Replica state is equal across the correct replicas of each shard after quiescence:
//! same objects, same statuses, same transaction records — after loss, crashes, and a
//! replica that restarted from nothing and caught up by state transfer.

use chainspace_tests::invariants::states_equal;
use chainspace_tests::setup::Mix;
use chainspace_tests::suite::{hold, names::*, pick};
use consensus_any::Protocol;

fn suite(mix: Mix, shards: u32) {
    for s in pick(mix, shards, 4, &[FAULT_FREE, LOSS, CRASHED, RESTART, RECOVER]) {
        hold(&s, |s, r| states_equal(&r.world, &s.faulty()));
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
