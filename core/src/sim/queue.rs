//! The simulator's event queue and timer bookkeeping, shared by the consensus-only
//! [`Simulation`](super::Simulation) and the whole-system [`World`](super::World).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;
use std::time::Duration;

struct Scheduled<E> {
    at: Duration,
    id: u64,
    /// Boxed so that the heap moves 24 bytes, not a whole message.
    event: Box<E>,
}

impl<E> PartialEq for Scheduled<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.id) == (other.at, other.id)
    }
}
impl<E> Eq for Scheduled<E> {}
impl<E> PartialOrd for Scheduled<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Scheduled<E> {
    /// Reversed, so the max-heap pops the earliest event; ties go to the first scheduled,
    /// which is what makes a run a function of its seed.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.id).cmp(&(self.at, self.id))
    }
}

/// Events ordered by virtual time, then by scheduling order.
pub(crate) struct EventQueue<E> {
    heap: BinaryHeap<Scheduled<E>>,
    next_id: u64,
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue { heap: BinaryHeap::new(), next_id: 0 }
    }

    pub fn push(&mut self, at: Duration, event: E) {
        let id = self.next_id;
        self.next_id += 1;
        self.heap.push(Scheduled { at, id, event: Box::new(event) });
    }

    pub fn pop(&mut self) -> Option<(Duration, E)> {
        self.heap.pop().map(|s| (s.at, *s.event))
    }

    pub fn next_time(&self) -> Option<Duration> {
        self.heap.peek().map(|s| s.at)
    }
}

/// Which timers are set: setting a timer again, or cancelling it, makes the queued
/// firing stale (its generation no longer matches).
pub(crate) struct Timers<K> {
    live: HashMap<K, u64>,
    next_generation: u64,
}

impl<K: Eq + Hash> Timers<K> {
    pub fn new() -> Self {
        Timers { live: HashMap::new(), next_generation: 0 }
    }

    /// Set `key`; returns the generation to queue with it.
    pub fn set(&mut self, key: K) -> u64 {
        self.next_generation += 1;
        self.live.insert(key, self.next_generation);
        self.next_generation
    }

    pub fn cancel(&mut self, key: &K) {
        self.live.remove(key);
    }

    /// Whether a queued firing of `key` with `generation` is the live one; if so, the
    /// timer is consumed.
    pub fn fire(&mut self, key: &K, generation: u64) -> bool {
        if self.live.get(key) == Some(&generation) {
            self.live.remove(key);
            true
        } else {
            false
        }
    }

    pub fn retain(&mut self, keep: impl FnMut(&K) -> bool) {
        let mut keep = keep;
        self.live.retain(|k, _| keep(k));
    }
}
