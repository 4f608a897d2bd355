//! The dedup window both consensus protocols keep: which commands were delivered in the
//! last `length` sequence numbers, so that a command ordered twice (a client's retry sent
//! to a new primary, a leader re-proposing a command another block already carried) is
//! delivered once.
//!
//! The window decides what later sequence numbers deliver, so it is part of every
//! checkpoint, and replicas must agree on it exactly. Two costs shaped this type, both
//! measured on the consensus-only workload (tens of thousands of digests in the window):
//!
//! * **Expiry without removal.** Removing each digest from the index when its sequence
//!   number leaves the window was a cache miss per command (about 3% of a replica's
//!   CPU). The index keeps the sequence number of each digest, [`DedupWindow::contains`]
//!   checks it against the window, and a sweep every `length / 4` sequence numbers drops
//!   the expired entries in one pass over the table.
//! * **A checkpoint digest that does not re-hash the window.** Each sequence number's
//!   digests are hashed once, when it is sealed ([`Delivered::hash`]); the window's share
//!   of a checkpoint digest is the list of `(sequence number, hash)` pairs
//!   ([`DedupState::encode_digest_input`]), about 40 bytes a sequence number instead of
//!   32 a command. The lists are shared (`Arc`), so the copy a checkpoint keeps costs one
//!   reference count a sequence number, not the digests.

use std::collections::VecDeque;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::crypto::{Digest, DigestMap, digest_of_digests};
use crate::types::encode_varint;

/// How many times per window length the index is swept: it holds at most
/// `1 + 1 / SWEEPS` windows' worth of digests. Fewer sweeps cost less each but leave a
/// larger table (and more cache misses on every look-up).
const SWEEPS: u64 = 4;

/// The commands delivered at one sequence number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// The sequence number.
    pub seq: u64,
    /// The delivered commands' digests, in delivery order.
    pub digests: Arc<[Digest]>,
    /// [`digest_of_digests`] of `digests`: what a checkpoint digest covers.
    pub hash: Digest,
}

impl Delivered {
    /// The entry for `digests` delivered at `seq`, its hash computed.
    pub fn new(seq: u64, digests: &[Digest]) -> Delivered {
        let hash = digest_of_digests(digests.iter().copied());
        Delivered { seq, digests: digests.into(), hash }
    }
}

/// A dedup window as a checkpoint holds it: the delivered lists, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DedupState(Vec<Delivered>);

impl DedupState {
    /// The state of `lists` (`(sequence number, digests)`, oldest first), hashing each.
    pub fn from_lists(lists: &[(u64, Vec<Digest>)]) -> DedupState {
        DedupState(lists.iter().map(|(seq, ds)| Delivered::new(*seq, ds)).collect())
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[Delivered] {
        &self.0
    }

    /// Append what a checkpoint digest covers of this window to `out`: the postcard
    /// encoding of `Vec<(u64, Digest)>`, each sequence number with its list's hash,
    /// written by hand (a test checks the bytes are postcard's).
    pub fn encode_digest_input(&self, out: &mut Vec<u8>) {
        out.reserve(10 + 42 * self.0.len());
        encode_varint(out, self.0.len() as u64);
        for e in &self.0 {
            encode_varint(out, e.seq);
            out.extend_from_slice(&e.hash.0);
        }
    }
}

/// On the wire (state transfer) a window is its lists, `Vec<(u64, Vec<Digest>)>`, without
/// the hashes: a receiver recomputes them ([`DedupState::from_lists`]) and never trusts
/// them from a peer.
impl Serialize for DedupState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|e| (e.seq, &*e.digests)))
    }
}

impl<'de> Deserialize<'de> for DedupState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let lists = Vec::<(u64, Vec<Digest>)>::deserialize(d)?;
        Ok(DedupState::from_lists(&lists))
    }
}

/// The live window of one replica. See the module docs.
#[derive(Clone, Debug)]
pub struct DedupWindow {
    /// How many sequence numbers a delivered command is remembered for.
    length: u64,
    /// The last sealed sequence number: the window covers `(now - length, now]`.
    now: u64,
    /// The sealed sequence numbers still in the window, oldest first.
    sealed: VecDeque<Delivered>,
    /// Every remembered digest with the sequence number it was delivered at, expired
    /// entries included until the next sweep; the open sequence number's too.
    index: DigestMap<u64>,
    /// The digests delivered so far at the sequence number being executed.
    open: Vec<Digest>,
    /// When the index was last swept.
    swept: u64,
}

impl DedupWindow {
    /// An empty window remembering commands for `length` sequence numbers (at least 1).
    pub fn new(length: u64) -> DedupWindow {
        DedupWindow {
            length: length.max(1),
            now: 0,
            sealed: VecDeque::new(),
            index: DigestMap::default(),
            open: Vec::new(),
            swept: 0,
        }
    }

    /// Whether `d` was delivered in the window, or at the sequence number being executed.
    pub fn contains(&self, d: &Digest) -> bool {
        self.index.get(d).is_some_and(|s| self.live(*s))
    }

    fn live(&self, seq: u64) -> bool {
        seq_live(seq, self.length, self.now)
    }

    /// Deliver `d` at `seq`, the sequence number being executed, unless it was delivered
    /// in the window (or already at `seq`): returns whether it is new.
    pub fn insert(&mut self, seq: u64, d: Digest) -> bool {
        debug_assert!(seq > self.now || self.sealed.is_empty(), "sequence numbers only grow");
        // One probe of the table: the entry may be an expired one not yet swept.
        match self.index.entry(d) {
            Entry::Occupied(mut e) => {
                if seq_live(*e.get(), self.length, self.now) {
                    return false;
                }
                e.insert(seq);
            }
            Entry::Vacant(e) => {
                e.insert(seq);
            }
        }
        self.open.push(d);
        true
    }

    /// Seal `seq`: what [`DedupWindow::insert`] delivered at it joins the window, and
    /// whatever was delivered `length` or more sequence numbers before it leaves.
    pub fn seal(&mut self, seq: u64) {
        // Copied into its shared list; the buffer is kept for the next sequence number.
        self.sealed.push_back(Delivered::new(seq, &self.open));
        self.open.clear();
        self.now = seq;
        while self.sealed.front().is_some_and(|e| !self.live(e.seq)) {
            self.sealed.pop_front();
        }
        if seq >= self.swept + (self.length / SWEEPS).max(1) {
            let (length, now) = (self.length, self.now);
            self.index.retain(|_, s| seq_live(*s, length, now));
            self.swept = seq;
        }
    }

    /// The sealed window, for a checkpoint.
    pub fn state(&self) -> DedupState {
        DedupState(self.sealed.iter().cloned().collect())
    }

    /// Replace the window by a checkpoint's, taken at `seq`.
    pub fn install(&mut self, state: &DedupState, seq: u64) {
        self.sealed = state.0.iter().cloned().collect();
        self.now = seq;
        self.swept = seq;
        self.open.clear();
        self.index =
            self.sealed.iter().flat_map(|e| e.digests.iter().map(move |d| (*d, e.seq))).collect();
    }

    /// The digests of the sealed window, oldest first.
    pub fn digests(&self) -> impl Iterator<Item = &Digest> {
        self.sealed.iter().flat_map(|e| e.digests.iter())
    }
}

/// Whether what was delivered at `seq` is still in a window of `length` ending at `now`.
fn seq_live(seq: u64, length: u64, now: u64) -> bool {
    seq.saturating_add(length) > now
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(b: u8) -> Digest {
        Digest([b; 32])
    }

    #[test]
    fn a_command_is_remembered_for_length_sequence_numbers_then_forgotten() {
        let mut w = DedupWindow::new(3);
        assert!(w.insert(1, d(1)));
        assert!(!w.insert(1, d(1)), "twice at one sequence number");
        w.seal(1);
        for seq in 2..=3 {
            assert!(w.contains(&d(1)), "at {seq}");
            assert!(!w.insert(seq, d(1)));
            w.seal(seq);
        }
        // Sealing 4 moves the window to (1, 4]: sequence number 1 left it.
        w.seal(4);
        assert!(!w.contains(&d(1)));
        assert!(w.insert(5, d(1)), "delivered again once forgotten");
        w.seal(5);
        assert!(w.contains(&d(1)));
        assert_eq!(w.state().entries().iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4, 5]);
    }

    #[test]
    fn the_answer_is_the_exact_window_whatever_the_sweeps() {
        // A reference: the window as a list, searched in full.
        for length in [1, 2, 5, 16] {
            let mut w = DedupWindow::new(length);
            let mut reference: Vec<(u64, Digest)> = Vec::new();
            for seq in 1..200u64 {
                for k in 0..3u64 {
                    let dig = d(((seq * 7 + k * 13) % 23) as u8);
                    let expected =
                        !reference.iter().any(|(s, x)| *x == dig && s + length > seq - 1)
                            && !reference.iter().any(|(s, x)| *x == dig && *s == seq);
                    assert_eq!(w.insert(seq, dig), expected, "length {length} seq {seq}");
                    if expected {
                        reference.push((seq, dig));
                    }
                }
                w.seal(seq);
                for b in 0..23 {
                    let live = reference.iter().any(|(s, x)| *x == d(b) && s + length > seq);
                    assert_eq!(w.contains(&d(b)), live, "length {length} seq {seq} digest {b}");
                }
                // Expired digests stay only until the next sweep.
                let bound = 3 * (length + (length / SWEEPS).max(1));
                assert!(w.index.len() as u64 <= bound, "length {length} seq {seq}");
            }
        }
    }

    #[test]
    fn an_installed_window_answers_as_the_one_it_was_taken_from() {
        let mut a = DedupWindow::new(4);
        for seq in 1..=10u64 {
            a.insert(seq, d(seq as u8));
            a.seal(seq);
        }
        let state = a.state();
        let mut b = DedupWindow::new(4);
        let travelled: DedupState =
            postcard::from_bytes(&postcard::to_allocvec(&state).unwrap()).unwrap();
        b.install(&travelled, 10);
        assert_eq!(b.state(), state, "the hashes are recomputed to the same");
        for x in 0..12 {
            assert_eq!(a.contains(&d(x)), b.contains(&d(x)), "{x}");
        }
        assert_eq!(b.digests().copied().collect::<Vec<_>>(), [d(7), d(8), d(9), d(10)]);
        a.seal(11);
        b.seal(11);
        assert_eq!(a.contains(&d(7)), b.contains(&d(7)));
        assert!(!b.contains(&d(7)));
    }

    #[test]
    fn on_the_wire_a_window_is_its_lists() {
        let lists = vec![(5, vec![d(1), d(2)]), (300, vec![])];
        let state = DedupState::from_lists(&lists);
        assert_eq!(postcard::to_allocvec(&state).unwrap(), postcard::to_allocvec(&lists).unwrap());
    }

    #[test]
    fn the_digest_input_is_postcard_of_sequence_numbers_and_list_hashes() {
        let state = DedupState::from_lists(&[(5, vec![d(1), d(2)]), (300, vec![])]);
        let mut out = vec![9];
        state.encode_digest_input(&mut out);
        let pairs: Vec<(u64, Digest)> =
            vec![(5, digest_of_digests([d(1), d(2)])), (300, digest_of_digests([]))];
        let mut expected = vec![9];
        expected.extend(postcard::to_allocvec(&pairs).unwrap());
        assert_eq!(out, expected);
        // A different list at a sequence number changes the input.
        let other = DedupState::from_lists(&[(5, vec![d(2), d(1)]), (300, vec![])]);
        let mut out2 = vec![9];
        other.encode_digest_input(&mut out2);
        assert_ne!(out, out2);
    }
}
