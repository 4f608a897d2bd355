//! Atomicity: a cross-shard transaction is committed by all its shards or by none, and
//! the inputs of an aborted one are unlocked on every shard — with f replicas of every
//! shard signing garbage or silent, a partitioned primary, and a replica restarting from
//! nothing.

use chainspace_tests::invariants::{atomic, no_locks_left};
use chainspace_tests::setup::Mix;
use chainspace_tests::suite::{hold, names::*, pick};

fn suite(mix: Mix, shards: u32) {
    for s in pick(mix, shards, 4, &[GARBAGE, SILENT, PARTITION, RESTART, RECOVER]) {
        hold(&s, |s, r| {
            atomic(&r.world, &r.ledger.txs, &s.faulty())?;
            no_locks_left(&r.world, &s.faulty())
        });
    }
}

chainspace_tests::protocol_matrix!(suite);
