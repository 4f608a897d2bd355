//! The workload generator: which `dummy` transaction each client sends next.
//!
//! Every client owns a pool of objects it created, kept per shard (an object's shard
//! follows from its ID), so the generator can place each transaction: a single-shard
//! transaction takes all its inputs from one shard, a cross-shard one (with probability
//! `cross_shard`) from two. With probability `conflict` the first input is an object the
//! client has already spent, a double spend the system must abort. Objects in flight are
//! reserved; an abort gives the fresh ones back, a commit consumes them and adds the
//! output, if any, to the pool. A client running low asks for a refill: a `create` of
//! `pool` objects, which the driver submits outside the measurements.
//!
//! The generator is deterministic for a seed, so simulated runs are reproducible.

use std::collections::VecDeque;

use chainspace_contracts::dummy;
use chainspace_core::object::Object;
use chainspace_core::shard::shard_of;
use chainspace_core::transaction::Transaction;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::Workload;

/// How many spent objects a client remembers as double-spend candidates.
const SPENT_MEMORY: usize = 64;

/// A transaction to send, with what the generator needs back when its outcome is known.
#[derive(Clone, Debug)]
pub struct Planned {
    /// The transaction.
    pub tx: Transaction,
    /// The values of its inputs, sent with it (the client's view of the objects).
    pub reads: Vec<Object>,
    /// Whether its inputs span more than one shard.
    pub cross_shard: bool,
    /// Whether it spends an already spent object (and so must abort).
    pub conflict: bool,
}

#[derive(Default)]
struct Pool {
    /// Unspent, unreserved objects by shard.
    by_shard: Vec<VecDeque<Object>>,
    /// Recently spent objects.
    spent: VecDeque<Object>,
    /// Refills asked for so far (names each refill's label).
    refills: u64,
    /// Refills outstanding.
    refilling: usize,
}

impl Pool {
    fn total(&self) -> usize {
        self.by_shard.iter().map(VecDeque::len).sum()
    }
}

/// The generator of one run.
pub struct Generator {
    shards: u32,
    inputs: usize,
    with_output: bool,
    cross_shard: f64,
    conflict: f64,
    pool_size: usize,
    seed: u64,
    rng: ChaCha8Rng,
    pools: Vec<Pool>,
}

impl Generator {
    /// A generator for `clients` clients of `w` on `shards` shards.
    pub fn new(w: &Workload, shards: u32, seed: u64) -> Self {
        let pools = (0..w.clients)
            .map(|_| Pool { by_shard: vec![VecDeque::new(); shards as usize], ..Pool::default() })
            .collect();
        Generator {
            shards,
            inputs: w.inputs,
            with_output: w.outputs == 1,
            cross_shard: w.cross_shard,
            conflict: w.conflict,
            pool_size: w.pool,
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_f10a_d000),
            pools,
        }
    }

    /// A refill for client `c` if it is running low and none is outstanding: a `create`
    /// of `pool` objects. The caller submits it and reports it with [`Generator::created`].
    pub fn refill(&mut self, c: usize) -> Option<Transaction> {
        let low = self.pool_size.div_ceil(2).max(self.inputs * self.shards as usize);
        let p = &mut self.pools[c];
        if p.refilling > 0 || p.total() >= low {
            return None;
        }
        Some(self.create(c, self.pool_size))
    }

    /// The setup of client `c`: creates of at most `pool` objects each, `objects` in all
    /// (at least one pool).
    pub fn prefill(&mut self, c: usize, objects: usize) -> Vec<Transaction> {
        let mut left = objects.max(self.pool_size);
        let mut out = Vec::new();
        while left > 0 {
            let n = left.min(self.pool_size);
            out.push(self.create(c, n));
            left -= n;
        }
        out
    }

    fn create(&mut self, c: usize, n: usize) -> Transaction {
        let p = &mut self.pools[c];
        p.refilling += 1;
        p.refills += 1;
        dummy::create(&format!("x{}-c{c}-{}", self.seed, p.refills), n)
    }

    /// Client `c`'s refill `tx` finished; its objects are in the pool if it committed.
    pub fn created(&mut self, c: usize, tx: &Transaction, committed: bool) {
        let p = &mut self.pools[c];
        p.refilling = p.refilling.saturating_sub(1);
        if committed {
            for o in tx.created_objects() {
                self.add(c, o);
            }
        }
    }

    fn add(&mut self, c: usize, o: Object) {
        let s = shard_of(&o.id, self.shards).0 as usize;
        self.pools[c].by_shard[s].push_back(o);
    }

    /// The next transaction of client `c`, or `None` if its pool cannot make one (ask
    /// for a refill and try again when it is in).
    pub fn next(&mut self, c: usize) -> Option<Planned> {
        let cross = self.cross_shard > 0.0 && self.rng.random_bool(self.cross_shard);
        let conflict = self.conflict > 0.0
            && !self.pools[c].spent.is_empty()
            && self.rng.random_bool(self.conflict);
        let fresh = self.inputs - usize::from(conflict);
        let shards = self.pick_shards(c, fresh, cross)?;
        let pool = &mut self.pools[c];
        let mut reads = Vec::with_capacity(self.inputs);
        if conflict {
            let k = self.rng.random_range(0..pool.spent.len());
            reads.push(pool.spent[k].clone());
        }
        for i in 0..fresh {
            let s = shards[i % shards.len()];
            reads.push(pool.by_shard[s].pop_front()?);
        }
        // A lone spent input with the usual output choice would be the very transaction
        // that spent it (a re-submission, which gets that one's outcome): flip the output.
        let with_output = if conflict && fresh == 0 { !self.with_output } else { self.with_output };
        let tx = dummy::consume(&reads, with_output);
        Some(Planned { tx, reads, cross_shard: shards.len() > 1, conflict })
    }

    /// Shards to take `fresh` inputs from: one, or two for a cross-shard transaction (so
    /// with `fresh >= 2` the inputs really span them), each with enough objects.
    fn pick_shards(&mut self, c: usize, fresh: usize, cross: bool) -> Option<Vec<usize>> {
        if fresh == 0 {
            return Some(vec![0]);
        }
        let n = self.shards as usize;
        let start = self.rng.random_range(0..n);
        let pool = &self.pools[c];
        if cross && fresh >= 2 && n >= 2 {
            let (a_need, b_need) = (fresh.div_ceil(2), fresh / 2);
            let a = (0..n).map(|k| (start + k) % n).find(|&s| pool.by_shard[s].len() >= a_need)?;
            let off = self.rng.random_range(1..n);
            let b = (0..n - 1)
                .map(|k| (a + off + k) % n)
                .find(|&s| s != a && pool.by_shard[s].len() >= b_need)?;
            return Some(vec![a, b]);
        }
        (0..n).map(|k| (start + k) % n).find(|&s| pool.by_shard[s].len() >= fresh).map(|s| vec![s])
    }

    /// Client `c`'s transaction `p` finished.
    pub fn finished(&mut self, c: usize, p: &Planned, committed: bool) {
        let first_fresh = usize::from(p.conflict);
        if committed {
            for o in &p.reads[first_fresh..] {
                let spent = &mut self.pools[c].spent;
                spent.push_back(o.clone());
                if spent.len() > SPENT_MEMORY {
                    spent.pop_front();
                }
            }
            for o in p.tx.created_objects() {
                self.add(c, o);
            }
        } else {
            // The fresh inputs are still active: back into the pool.
            for o in p.reads[first_fresh..].iter().cloned() {
                self.add(c, o);
            }
        }
    }

    /// Objects client `c` can spend now.
    pub fn available(&self, c: usize) -> usize {
        self.pools[c].total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Load, Workload};
    use chainspace_core::shard::concerned_shards;
    use std::time::Duration;

    fn workload(inputs: usize, cross: f64, conflict: f64) -> Workload {
        Workload {
            kind: crate::config::WorkloadKind::Sbac,
            contract: "dummy".into(),
            inputs,
            outputs: 0,
            cross_shard: cross,
            conflict,
            clients: 2,
            load: Load::Closed,
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
            transactions: None,
            pool: 64,
            prefill: 0,
            max_in_flight: 10,
        }
    }

    fn filled(w: &Workload, shards: u32) -> Generator {
        let mut g = Generator::new(w, shards, 3);
        for c in 0..w.clients {
            let tx = g.refill(c).expect("empty pool asks for a refill");
            assert!(g.refill(c).is_none(), "one refill at a time");
            g.created(c, &tx, true);
            assert_eq!(g.available(c), 64);
        }
        g
    }

    #[test]
    fn single_shard_transactions_stay_in_one_shard() {
        let w = workload(3, 0.0, 0.0);
        let mut g = filled(&w, 4);
        for _ in 0..10 {
            let p = g.next(0).expect("pool has objects");
            assert_eq!(concerned_shards(&p.tx, 4).len(), 1);
            assert!(!p.cross_shard && !p.conflict);
            assert_eq!(p.reads.len(), 3);
            g.finished(0, &p, true);
        }
        assert_eq!(g.available(0), 64 - 30);
    }

    #[test]
    fn cross_shard_transactions_span_two_shards() {
        let w = workload(2, 1.0, 0.0);
        let mut g = filled(&w, 2);
        for _ in 0..10 {
            let p = g.next(1).expect("pool has objects");
            assert_eq!(concerned_shards(&p.tx, 2).len(), 2);
            assert!(p.cross_shard);
            g.finished(1, &p, true);
        }
    }

    #[test]
    fn conflicts_spend_spent_objects_and_aborts_give_fresh_inputs_back() {
        let w = workload(2, 0.0, 1.0);
        let mut g = filled(&w, 2);
        let first = g.next(0).expect("objects");
        assert!(!first.conflict, "nothing spent yet");
        g.finished(0, &first, true);
        let before = g.available(0);
        let second = g.next(0).expect("objects");
        assert!(second.conflict);
        assert!(first.reads.iter().any(|o| o.id == second.reads[0].id));
        assert_ne!(first.tx.digest(), second.tx.digest());
        g.finished(0, &second, false);
        assert_eq!(g.available(0), before, "the fresh input is back");
    }

    #[test]
    fn a_lone_conflicting_input_is_a_different_transaction() {
        let w = workload(1, 0.0, 1.0);
        let mut g = filled(&w, 1);
        let first = g.next(0).expect("objects");
        g.finished(0, &first, true);
        let again = g.next(0).expect("objects");
        assert!(again.conflict);
        assert_eq!(again.reads[0].id, first.reads[0].id);
        assert_ne!(again.tx.digest(), first.tx.digest());
    }

    #[test]
    fn an_empty_pool_makes_nothing_until_refilled() {
        let w = workload(1, 0.0, 0.0);
        let mut g = Generator::new(&w, 2, 1);
        assert!(g.next(0).is_none());
        let tx = g.refill(0).expect("refill");
        g.created(0, &tx, false);
        assert!(g.next(0).is_none(), "an aborted refill adds nothing");
        assert!(g.refill(0).is_some(), "and another may be asked for");
    }

    #[test]
    fn prefill_creates_what_it_is_asked_for_in_pools() {
        let w = workload(1, 0.0, 0.0);
        let mut g = Generator::new(&w, 2, 1);
        let creates = g.prefill(0, 150);
        let sizes: Vec<usize> = creates.iter().map(|t| t.outputs.len()).collect();
        assert_eq!(sizes, vec![64, 64, 22]);
        assert!(g.refill(0).is_none(), "no refill while the setup is out");
        for tx in &creates {
            g.created(0, tx, true);
        }
        assert_eq!(g.available(0), 150);
        assert_eq!(g.prefill(1, 0).len(), 1, "at least one pool");
    }
}
