//! Progress: every transaction from a correct client gets an outcome once faults heal —
//! with f replicas of every shard crashed, silent or voting the wrong way, and with a
//! primary partitioned for a while.

use chainspace_tests::setup::Mix;
use chainspace_tests::suite::{hold, names::*, pick};
use consensus_any::Protocol;

fn suite(mix: Mix, shards: u32) {
    for s in pick(mix, shards, 4, &[CRASHED, SILENT, WRONG_VOTES, PARTITION]) {
        hold(&s, |_, r| {
            let pending: usize = (0..r.world.clients()).map(|c| r.world.client(c).pending()).sum();
            if r.quiet && pending == 0 {
                Ok(())
            } else {
                Err(format!("{pending} transactions without an outcome at the deadline"))
            }
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
