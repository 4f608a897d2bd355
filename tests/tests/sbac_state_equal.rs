//! Replica state is equal across the correct replicas of each shard after quiescence:
//! same objects, same statuses, same transaction records — after loss, crashes, and a
//! replica that restarted from nothing and caught up by state transfer.

use chainspace_tests::invariants::states_equal;
use chainspace_tests::setup::Mix;
use chainspace_tests::suite::{hold, names::*, pick};

fn suite(mix: Mix, shards: u32) {
    for s in pick(mix, shards, 4, &[FAULT_FREE, LOSS, CRASHED, RESTART, RECOVER]) {
        hold(&s, |s, r| states_equal(&r.world, &s.faulty()));
    }
}

chainspace_tests::protocol_matrix!(suite);
