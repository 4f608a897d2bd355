//! [`Pending`]: the commands a replica holds that no delivered block has held yet, in
//! arrival order (a leader cuts its batches from the front).
//!
//! Commands leave almost always in arrival order (they are proposed in that order and
//! delivered soon after), so a queue with a hole where each left serves better than an
//! ordered map: arrival, look-up and removal are a hash-table operation and an index,
//! where a `BTreeMap` from arrival number to command walked its nodes each time (removal
//! alone was 2.5% of a consensus-only run's CPU). Holes at the front are popped as they
//! appear; when holes elsewhere outnumber the commands (a command that stays while those
//! after it leave), the queue is rebuilt without them, which costs the commands left and
//! so, spread over the removals that made the holes, a constant per removal.

use std::collections::VecDeque;

use chainspace_core::crypto::{Digest, DigestMap};
use chainspace_core::types::Command;

/// Pending commands in arrival order, by digest.
#[derive(Debug, Default)]
pub struct Pending {
    /// Each command's place: its arrival number.
    index: DigestMap<u64>,
    /// Commands by arrival number from `base`; `None` where one left.
    queue: VecDeque<Option<Command>>,
    /// The arrival number of `queue[0]`.
    base: u64,
    /// Bytes of the commands held.
    bytes: usize,
}

/// Below this many slots the queue is never rebuilt.
const MIN_REBUILD: usize = 64;

impl Pending {
    /// How many commands it holds.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The bytes of the commands it holds.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether it holds the command with digest `d`.
    pub fn contains(&self, d: &Digest) -> bool {
        self.index.contains_key(d)
    }

    /// The command with digest `d`.
    pub fn get(&self, d: &Digest) -> Option<&Command> {
        let n = *self.index.get(d)?;
        self.queue.get((n - self.base) as usize)?.as_ref()
    }

    /// Add `command` at the back; false (and nothing changes) if it is held already.
    pub fn push(&mut self, command: Command) -> bool {
        let n = self.base + self.queue.len() as u64;
        match self.index.entry(command.digest()) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(n);
                self.bytes += command.len();
                self.queue.push_back(Some(command));
                true
            }
        }
    }

    /// Drop the command with digest `d`, if held.
    pub fn remove(&mut self, d: &Digest) {
        let Some(n) = self.index.remove(d) else { return };
        if let Some(c) = self.queue.get_mut((n - self.base) as usize).and_then(Option::take) {
            self.bytes -= c.len();
        }
        while self.queue.front().is_some_and(Option::is_none) {
            self.queue.pop_front();
            self.base += 1;
        }
        let holes = self.queue.len() - self.index.len();
        if self.queue.len() >= MIN_REBUILD && holes > self.index.len() {
            self.rebuild();
        }
    }

    /// The commands in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = &Command> {
        self.queue.iter().flatten()
    }

    /// The queue without its holes, renumbered from `base`.
    fn rebuild(&mut self) {
        let queue: VecDeque<Option<Command>> =
            self.queue.drain(..).filter(Option::is_some).collect();
        for (i, c) in queue.iter().flatten().enumerate() {
            self.index.insert(c.digest(), self.base + i as u64);
        }
        self.queue = queue;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(i: u32) -> Command {
        Command::new(i.to_le_bytes().to_vec())
    }

    /// The queue's answers against a plain list, under removals in and out of order.
    fn check(p: &Pending, reference: &[Command]) {
        assert_eq!(p.len(), reference.len());
        assert_eq!(p.is_empty(), reference.is_empty());
        assert_eq!(p.bytes(), reference.iter().map(Command::len).sum::<usize>());
        assert_eq!(p.iter().cloned().collect::<Vec<_>>(), reference);
        for c in reference {
            assert!(p.contains(&c.digest()));
            assert_eq!(p.get(&c.digest()), Some(c));
        }
        assert!(p.queue.len() <= (2 * p.len()).max(MIN_REBUILD), "holes bounded");
    }

    #[test]
    fn holds_commands_in_arrival_order_once_each() {
        let mut p = Pending::default();
        assert!(p.push(cmd(1)));
        assert!(p.push(cmd(2)));
        assert!(!p.push(cmd(1)), "held already");
        check(&p, &[cmd(1), cmd(2)]);
        p.remove(&cmd(1).digest());
        p.remove(&cmd(1).digest());
        p.remove(&cmd(9).digest());
        check(&p, &[cmd(2)]);
        assert!(p.get(&cmd(1).digest()).is_none());
        assert!(p.push(cmd(1)), "back after it left, now last");
        check(&p, &[cmd(2), cmd(1)]);
    }

    #[test]
    fn matches_a_list_when_one_command_stays_while_thousands_pass() {
        let mut p = Pending::default();
        let mut reference = Vec::new();
        let stuck = cmd(u32::MAX);
        p.push(stuck.clone());
        reference.push(stuck.clone());
        for i in 0..3000u32 {
            p.push(cmd(i));
            reference.push(cmd(i));
            // Every other step, the oldest but `stuck` leaves; every seventh, the newest.
            if i % 2 == 1 {
                let c = reference.remove(1);
                p.remove(&c.digest());
            }
            if i % 7 == 0 {
                let c = reference.pop().expect("one");
                p.remove(&c.digest());
            }
            if i % 97 == 0 {
                check(&p, &reference);
            }
        }
        check(&p, &reference);
        for c in reference.clone() {
            p.remove(&c.digest());
        }
        check(&p, &[]);
        assert!(p.queue.is_empty());
    }
}
