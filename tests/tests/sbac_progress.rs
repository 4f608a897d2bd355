//! Progress: every transaction from a correct client gets an outcome once faults heal,
//! in every standard scenario (f crashed or Byzantine replicas per shard, loss,
//! partitions, restarts), on 2 x 4 and 4 x 4.

use chainspace_tests::suite::{hold, standard};

fn progress(shards: u32) {
    for s in standard(shards, 4) {
        hold(&s, |_, r| {
            if r.quiet {
                Ok(())
            } else {
                let pending: usize = (0..r.world.client(0).pending()).count();
                Err(format!(
                    "not every outcome arrived by the deadline ({pending} pending at client 0)"
                ))
            }
        });
    }
}

#[test]
fn two_shards_of_four() {
    progress(2);
}

#[test]
fn four_shards_of_four() {
    progress(4);
}
