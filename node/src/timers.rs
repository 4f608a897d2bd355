//! Named timers on tokio time, for the drivers of sans-IO state machines.
//!
//! The protocol cores name their timers and may restart or cancel one by name, so the
//! queue is keyed by name: setting a timer that is already set replaces its deadline, and
//! cancelling removes it. Deadlines are kept in a `BTreeMap`, so the driver sleeps until
//! the earliest one and takes every timer that is due in deadline order.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::time::Duration;

use tokio::time::Instant;

/// Pending timers by name, ordered by deadline.
#[derive(Debug)]
pub(crate) struct TimerQueue<K> {
    /// Deadline (with a sequence number, so equal deadlines keep their setting order).
    by_deadline: BTreeMap<(Instant, u64), K>,
    /// Where each named timer sits in `by_deadline`, to replace or cancel it by name.
    by_name: HashMap<K, (Instant, u64)>,
    next_seq: u64,
}

impl<K: Clone + Eq + Hash> TimerQueue<K> {
    pub(crate) fn new() -> Self {
        TimerQueue { by_deadline: BTreeMap::new(), by_name: HashMap::new(), next_seq: 0 }
    }

    /// Fire `timer` `after` from now, replacing any deadline it had.
    pub(crate) fn set(&mut self, timer: K, after: Duration) {
        self.cancel(&timer);
        let now = Instant::now();
        let at = now.checked_add(after).unwrap_or_else(|| now + Duration::from_secs(86_400 * 365));
        let slot = (at, self.next_seq);
        self.next_seq += 1;
        self.by_deadline.insert(slot, timer.clone());
        self.by_name.insert(timer, slot);
    }

    /// Forget `timer` if it is set.
    pub(crate) fn cancel(&mut self, timer: &K) {
        if let Some(slot) = self.by_name.remove(timer) {
            self.by_deadline.remove(&slot);
        }
    }

    /// The earliest deadline, if any timer is set.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.by_deadline.keys().next().map(|(at, _)| *at)
    }

    /// Remove and return the timers due at `now`, earliest first.
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<K> {
        let mut due = Vec::new();
        while let Some(entry) = self.by_deadline.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let timer = entry.remove();
            self.by_name.remove(&timer);
            due.push(timer);
        }
        due
    }

    /// How many timers are set.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_name.len()
    }
}

/// Sleep until `deadline`, or for ever if there is none (a `select!` branch that never
/// fires while no timer is set).
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn set_replaces_cancel_removes_and_due_timers_come_in_deadline_order() {
        let mut q = TimerQueue::new();
        q.set("a", Duration::from_millis(30));
        q.set("b", Duration::from_millis(10));
        q.set("c", Duration::from_millis(20));
        // Restarting "a" moves it earlier; cancelling "c" removes it.
        q.set("a", Duration::from_millis(5));
        q.cancel(&"c");
        assert_eq!(q.len(), 2);
        let start = Instant::now();
        assert_eq!(q.next_deadline(), Some(start + Duration::from_millis(5)));
        assert!(q.take_due(start).is_empty());
        tokio::time::advance(Duration::from_millis(50)).await;
        assert_eq!(q.take_due(Instant::now()), vec!["a", "b"]);
        assert_eq!(q.next_deadline(), None);
    }
}
