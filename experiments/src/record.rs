//! What the workload saw, transaction by transaction, and the numbers made from it.
//!
//! Times are durations from the start of the run (after setup): virtual time in the
//! simulator, wall time over QUIC. A transaction belongs to the measured window if it was
//! *scheduled* in it; its latency runs from its scheduled time, so in an open-loop run a
//! sender that falls behind (or a saturated system that delays sending) still shows in
//! the latency instead of being left out (coordinated omission).

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::summary::{Latency, Second};

/// Records kept during a run: a list of fixed-size chunks, so that keeping a record never
/// moves the ones before it. A `Vec` doubling as a run went on copied every record so
/// far each time and touched twice the memory, fresh pages the kernel had to clear: 4%
/// of a consensus-only run's CPU at 100,000 records a second, in bursts.
#[derive(Debug)]
pub struct Records<T = Record> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

/// Records per chunk.
const CHUNK: usize = 1 << 14;

impl<T> Default for Records<T> {
    fn default() -> Self {
        Records { chunks: Vec::new(), len: 0 }
    }
}

impl<T> Records<T> {
    /// Keep `r`; it is number `len()` before the call.
    pub fn push(&mut self, r: T) {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks.last_mut().expect("a chunk with room").push(r);
        self.len += 1;
    }

    /// How many were kept.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every record, in the order kept.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }

    /// All of them in one `Vec` (once the run is over), leaving none.
    pub fn take(&mut self) -> Vec<T> {
        let mut all = Vec::with_capacity(self.len);
        for chunk in self.chunks.drain(..) {
            all.extend(chunk);
        }
        self.len = 0;
        all
    }
}

impl<T> std::ops::Index<usize> for Records<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        &self.chunks[i / CHUNK][i % CHUNK]
    }
}

impl<T> std::ops::IndexMut<usize> for Records<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }
}

/// One measured transaction.
#[derive(Clone, Debug)]
pub struct Record {
    /// The client that sent it.
    pub client: usize,
    /// Its ID, once it was sent.
    pub id: Option<chainspace_core::transaction::TxId>,
    /// When the schedule said to send it.
    pub scheduled: Duration,
    /// When it was sent (`None`: an open-loop arrival still waiting when the window
    /// closed, counted as unfinished so that a saturated system cannot hide it).
    pub sent: Option<Duration>,
    /// When its outcome arrived (`None`: never, within the run).
    pub done: Option<Duration>,
    /// `None` if committed, else the abort reason (`None` too while unfinished).
    pub abort: Option<String>,
    /// Whether it spanned shards.
    pub cross_shard: bool,
    /// Whether it was a deliberate double spend.
    pub conflict: bool,
}

impl Record {
    /// Whether it committed.
    pub fn committed(&self) -> bool {
        self.done.is_some() && self.abort.is_none()
    }

    /// Latency from the scheduled time.
    pub fn latency(&self) -> Option<Duration> {
        self.done.map(|d| d.saturating_sub(self.scheduled))
    }
}

/// Percentiles of `samples` (any order), from an HDR histogram at microsecond resolution
/// with 3 significant digits.
pub fn latency(samples: impl Iterator<Item = Duration>) -> Latency {
    let Ok(mut h) = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3) else {
        return Latency::default();
    };
    let mut sum = 0.0;
    for s in samples {
        let us = s.as_micros().min(u128::from(u64::MAX / 2)) as u64;
        h.saturating_record(us.max(1));
        sum += s.as_secs_f64();
    }
    if h.is_empty() {
        return Latency::default();
    }
    let ms = |us: u64| us as f64 / 1e3;
    Latency {
        count: h.len(),
        mean: sum * 1e3 / h.len() as f64,
        p50: ms(h.value_at_quantile(0.5)),
        p90: ms(h.value_at_quantile(0.9)),
        p99: ms(h.value_at_quantile(0.99)),
        max: ms(h.max()),
    }
}

/// Commits and aborts per second of the window starting at `start`, `seconds` long.
pub fn timeline(records: &[Record], start: Duration, seconds: usize) -> Vec<Second> {
    let mut out: Vec<Second> =
        (0..seconds.max(1)).map(|i| Second { t_s: i as f64, committed: 0, aborted: 0 }).collect();
    for r in records {
        let Some(done) = r.done else { continue };
        let Some(since) = done.checked_sub(start) else { continue };
        let i = since.as_secs() as usize;
        if let Some(s) = out.get_mut(i) {
            if r.abort.is_none() { s.committed += 1 } else { s.aborted += 1 }
        }
    }
    out
}

/// Aborts by reason (long reasons cut at 120 characters, so that reasons naming objects
/// still group when they differ only in the ID).
pub fn aborts_by_reason(records: &[Record]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for r in records {
        if let (Some(_), Some(reason)) = (r.done, &r.abort) {
            *out.entry(reason_class(reason)).or_insert(0) += 1;
        }
    }
    out
}

/// A reason with hex IDs replaced by `<id>`, so that aborts of one kind group together.
pub fn reason_class(reason: &str) -> String {
    let mut out = String::new();
    for word in reason.split_inclusive(|c: char| !c.is_ascii_hexdigit()) {
        let hex = word.trim_end_matches(|c: char| !c.is_ascii_hexdigit());
        if hex.len() >= 16 {
            out.push_str("<id>");
            out.push_str(&word[hex.len()..]);
        } else {
            out.push_str(word);
        }
    }
    out.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(scheduled: u64, done: Option<u64>, abort: Option<&str>) -> Record {
        Record {
            id: None,
            client: 0,
            scheduled: Duration::from_millis(scheduled),
            sent: Some(Duration::from_millis(scheduled)),
            done: done.map(Duration::from_millis),
            abort: abort.map(str::to_string),
            cross_shard: false,
            conflict: false,
        }
    }

    #[test]
    fn percentiles_of_known_samples() {
        let l = latency((1..=100).map(Duration::from_millis));
        assert_eq!(l.count, 100);
        assert!((l.p50 - 50.0).abs() < 0.1, "{l:?}");
        assert!((l.p99 - 99.0).abs() < 0.1, "{l:?}");
        assert!((l.max - 100.0).abs() < 0.1, "{l:?}");
        assert!((l.mean - 50.5).abs() < 0.01, "{l:?}");
        assert_eq!(latency(std::iter::empty()), Latency::default());
    }

    #[test]
    fn latency_counts_from_the_schedule() {
        let mut r = rec(100, Some(150), None);
        r.sent = Some(Duration::from_millis(140));
        assert_eq!(r.latency(), Some(Duration::from_millis(50)));
        assert!(r.committed());
        assert!(!rec(0, None, None).committed());
        assert!(!rec(0, Some(1), Some("x")).committed());
    }

    #[test]
    fn records_keep_their_numbers_and_order_across_chunks() {
        let mut r = Records::default();
        assert!(r.is_empty());
        for i in 0..2 * CHUNK + 3 {
            r.push(i);
        }
        assert_eq!(r.len(), 2 * CHUNK + 3);
        assert_eq!(
            (r[0], r[CHUNK - 1], r[CHUNK], r[2 * CHUNK + 2]),
            (0, CHUNK - 1, CHUNK, 2 * CHUNK + 2)
        );
        r[CHUNK] = 7;
        assert!(r.iter().copied().eq((0..2 * CHUNK + 3).map(|i| if i == CHUNK { 7 } else { i })));
        let all = r.take();
        assert_eq!(all.len(), 2 * CHUNK + 3);
        assert_eq!(all[CHUNK], 7);
        assert!(r.is_empty());
    }

    #[test]
    fn timeline_buckets_by_second_of_the_window() {
        let records =
            [rec(0, Some(1_100), None), rec(0, Some(1_900), Some("r")), rec(0, Some(2_500), None)];
        let t = timeline(&records, Duration::from_secs(1), 2);
        assert_eq!((t[0].committed, t[0].aborted), (1, 1));
        assert_eq!((t[1].committed, t[1].aborted), (1, 0));
    }

    #[test]
    fn reasons_group_without_ids() {
        let a = "input 0123456789abcdef0123456789abcdef is inactive";
        let b = "input fedcba9876543210fedcba9876543210 is inactive";
        assert_eq!(reason_class(a), "input <id> is inactive");
        let records = [rec(0, Some(1), Some(a)), rec(0, Some(1), Some(b)), rec(0, None, Some("x"))];
        let by = aborts_by_reason(&records);
        assert_eq!(by.get("input <id> is inactive"), Some(&2));
        assert_eq!(by.len(), 1);
    }
}
