//! What this API process saw of the transactions it was asked to process: when each came
//! in, when its outcome did, and what it was. Replicas keep only the protocol's record of a
//! transaction (its instance and phase on each shard), not wall-clock times, so the
//! timings that `GET /api/1.0/transactions/{id}` shows come from here.
//!
//! The memory is bounded: the oldest entries are forgotten first, so a long-running API
//! does not grow without limit; a forgotten transaction still shows its shards' records.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chainspace_core::transaction::TxId;
use serde_json::{Value, json};

/// One transaction as this process saw it.
#[derive(Clone, Debug)]
struct Seen {
    /// Wall-clock time it came in, for people reading the record.
    submitted_at: SystemTime,
    /// Monotonic time it came in, to measure the latency.
    started: Instant,
    /// How long until its outcome, once known.
    latency: Option<Duration>,
    /// The outcome's name (`accepted_t_commit`, ...), or why the wait ended without one.
    outcome: Option<String>,
    /// How many times the client sent it.
    sends: Option<u32>,
}

/// A bounded map of recently processed transactions.
#[derive(Debug)]
pub(crate) struct Recent {
    capacity: usize,
    seen: HashMap<TxId, Seen>,
    /// Insertion order, to forget the oldest first.
    order: VecDeque<TxId>,
}

impl Recent {
    /// Remember at most `capacity` transactions (0 remembers none).
    pub(crate) fn new(capacity: usize) -> Self {
        Recent { capacity, seen: HashMap::new(), order: VecDeque::new() }
    }

    /// `tx` came in now. A transaction posted again starts afresh.
    pub(crate) fn start(&mut self, tx: TxId) {
        if self.capacity == 0 {
            return;
        }
        let seen = Seen {
            submitted_at: SystemTime::now(),
            started: Instant::now(),
            latency: None,
            outcome: None,
            sends: None,
        };
        if self.seen.insert(tx, seen).is_none() {
            self.order.push_back(tx);
        }
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
    }

    /// `tx`'s wait ended with `outcome` after `sends` sends (if the client said). Returns
    /// the time since it came in.
    pub(crate) fn finish(&mut self, tx: &TxId, outcome: &str, sends: Option<u32>) -> Duration {
        let Some(seen) = self.seen.get_mut(tx) else { return Duration::ZERO };
        let latency = seen.started.elapsed();
        seen.latency = Some(latency);
        seen.outcome = Some(outcome.to_string());
        seen.sends = sends;
        latency
    }

    /// What is known of `tx`, as the JSON `timings` of the transactions route.
    pub(crate) fn describe(&self, tx: &TxId) -> Option<Value> {
        let seen = self.seen.get(tx)?;
        let millis = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
        };
        let decided_at = seen.latency.map(|l| millis(seen.submitted_at + l));
        Some(json!({
            "submittedAt": millis(seen.submitted_at),
            "decidedAt": decided_at,
            "latencyMs": seen.latency.map(|l| l.as_secs_f64() * 1000.0),
            "outcome": seen.outcome,
            "sends": seen.sends,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainspace_core::crypto::Digest;

    fn tx(n: u8) -> TxId {
        TxId(Digest([n; 32]))
    }

    #[test]
    fn remembers_timings_and_forgets_the_oldest_beyond_capacity() {
        let mut r = Recent::new(2);
        r.start(tx(1));
        assert_eq!(r.describe(&tx(1)).expect("known")["outcome"], Value::Null);
        r.finish(&tx(1), "accepted_t_commit", Some(1));
        let d = r.describe(&tx(1)).expect("known");
        assert_eq!(d["outcome"], "accepted_t_commit");
        assert_eq!(d["sends"], 1);
        assert!(d["latencyMs"].as_f64().is_some() && d["decidedAt"].as_u64().is_some());
        r.start(tx(2));
        r.start(tx(2));
        r.start(tx(3));
        assert!(r.describe(&tx(1)).is_none(), "the oldest is forgotten");
        assert!(r.describe(&tx(2)).is_some() && r.describe(&tx(3)).is_some());
        assert_eq!(r.finish(&tx(9), "x", None), Duration::ZERO, "unknown: nothing recorded");
        let mut none = Recent::new(0);
        none.start(tx(1));
        assert!(none.describe(&tx(1)).is_none());
    }
}
