//! Progress: every transaction from a correct client gets an outcome once faults heal —
//! with f replicas of every shard crashed, silent or voting the wrong way, and with a
//! primary partitioned for a while.

use chainspace_tests::setup::Mix;
use chainspace_tests::suite::{hold, names::*, pick};

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

chainspace_tests::protocol_matrix!(suite);
