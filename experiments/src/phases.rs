//! Per-phase times of S-BAC transactions, from the steps replicas report applying
//! ([`Milestone`]s) and the client's own times.
//!
//! For each measured transaction that committed, in its first attempt:
//! * **prepare**: from when the client sent it until every concerned shard has applied
//!   its prepare (the first replica of each shard to do so; the slowest shard counts).
//!   For a single-shard transaction prepare and accept are one ordered step, and this
//!   phase runs until that step is applied.
//! * **accept**: a transaction spanning shards only: from the end of the prepare phase
//!   until every involved shard has applied the accept (votes exchanged, certificates
//!   formed, the accept ordered).
//! * **report**: from then until the client holds `f + 1` matching reports.
//!
//! The three add up to the latency from sending. Replicas report steps over the same
//! clock as the client (virtual time in the simulator, the process's clock over QUIC),
//! so this is measured where every replica runs in the runner's process, not with a
//! process per replica.

use std::collections::HashMap;
use std::time::Duration;

use chainspace_core::replica::{Milestone, Step};
use chainspace_core::transaction::TxId;
use chainspace_core::types::ShardId;

use crate::record::{Record, latency};
use crate::summary::Phases;

/// The earliest time each step of each first attempt was applied, per shard.
#[derive(Default)]
pub struct PhaseLog {
    first: HashMap<(TxId, ShardId, Step), Duration>,
}

impl PhaseLog {
    /// Replica of `m.shard` applied `m` at `at` (from the start of the run).
    pub fn note(&mut self, m: Milestone, at: Duration) {
        if m.instance != 1 {
            return;
        }
        let t = self.first.entry((m.tx, m.shard, m.step)).or_insert(at);
        *t = (*t).min(at);
    }

    /// When every shard that reported `step` for `tx` had done so (the slowest shard's
    /// first replica), if any did.
    fn all_shards(&self, tx: TxId, step: Step, shards: u32) -> Option<Duration> {
        (0..shards).filter_map(|s| self.first.get(&(tx, ShardId(s), step)).copied()).max()
    }

    /// The phases of the committed transactions among `records`, on `shards` shards.
    pub fn phases(&self, records: &[Record], shards: u32) -> Phases {
        let (mut prepare, mut accept, mut report) = (Vec::new(), Vec::new(), Vec::new());
        for r in records.iter().filter(|r| r.committed()) {
            let (Some(id), Some(sent), Some(done)) = (r.id, r.sent, r.done) else { continue };
            let Some(accepted) = self.all_shards(id, Step::Accepted, shards) else { continue };
            match self.all_shards(id, Step::Prepared, shards) {
                Some(prepared) => {
                    prepare.push(prepared.saturating_sub(sent));
                    accept.push(accepted.saturating_sub(prepared));
                }
                None => prepare.push(accepted.saturating_sub(sent)),
            }
            report.push(done.saturating_sub(accepted));
        }
        Phases {
            prepare: latency(prepare.into_iter()),
            accept: latency(accept.into_iter()),
            report: latency(report.into_iter()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainspace_core::crypto::Digest;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn record(id: u8, sent: u64, done: u64) -> Record {
        Record {
            client: 0,
            id: Some(TxId(Digest([id; 32]))),
            scheduled: ms(sent),
            sent: Some(ms(sent)),
            done: Some(ms(done)),
            abort: None,
            cross_shard: false,
            conflict: false,
        }
    }

    fn step(log: &mut PhaseLog, id: u8, shard: u32, step: Step, instance: u64, at: u64) {
        let m = Milestone { tx: TxId(Digest([id; 32])), instance, shard: ShardId(shard), step };
        log.note(m, ms(at));
    }

    #[test]
    fn the_slowest_shard_and_the_first_replica_of_each_count() {
        let mut log = PhaseLog::default();
        // Cross-shard: shard 0 prepared at 5 (and a slower replica at 7), shard 1 at 9;
        // accepted at 20 and 14; the client knew at 25.
        step(&mut log, 1, 0, Step::Prepared, 1, 7);
        step(&mut log, 1, 0, Step::Prepared, 1, 5);
        step(&mut log, 1, 1, Step::Prepared, 1, 9);
        step(&mut log, 1, 0, Step::Accepted, 1, 20);
        step(&mut log, 1, 1, Step::Accepted, 1, 14);
        // Single-shard: one step, applied at 4; a retry's steps are not the first try's.
        step(&mut log, 2, 1, Step::Accepted, 1, 4);
        step(&mut log, 2, 1, Step::Accepted, 2, 1);
        let p = log.phases(&[record(1, 0, 25), record(2, 1, 6)], 2);
        assert_eq!((p.prepare.count, p.accept.count, p.report.count), (2, 1, 2));
        // Means are exact (the percentiles are HDR-rounded).
        assert_eq!(p.accept.mean, 11.0, "9 -> 20");
        assert_eq!(p.prepare.mean, (9.0 + 3.0) / 2.0, "0 -> 9 and 1 -> 4");
        assert_eq!(p.report.mean, (5.0 + 2.0) / 2.0, "20 -> 25 and 4 -> 6");
        assert!((p.prepare.max - 9.0).abs() < 0.02, "{p:?}");
    }
}
