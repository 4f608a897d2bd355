//! The HotStuff replica: its state, client requests, and the [`Consensus`] implementation.
//!
//! The chain (proposals, votes, commit) lives in [`crate::chain`], rounds and timeouts in
//! [`crate::pacemaker`], block fetching, checkpoints and state transfer in
//! [`crate::sync`]; this file holds the state they share.

use std::collections::{BTreeMap, VecDeque};

use chainspace_core::committee::ShardCommittee;
use chainspace_core::consensus::{Actions, Consensus, ConsensusStats};
use chainspace_core::crypto::{Digest, DigestMap, Keypair, Signature};
use chainspace_core::dedup::{DedupState, DedupWindow};
use chainspace_core::snapshot::Snapshot;
use chainspace_core::types::{Command, ReplicaIndex};

use crate::config::HotStuffConfig;
use crate::error::{HotStuffError, Invalid};
use crate::message::{
    Block, Checkpoint, Message, Proposal, QuorumCert, Timeout, TimeoutCert, genesis, leader,
};
use crate::pending::Pending;
use crate::sync::HotStuffSnapshot;

/// HotStuff's timers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// The round's timeout (or, when idle, the period of the status check).
    Round(u64),
    /// The leader's batch delay expired: propose a partial batch.
    Batch,
    /// Requested blocks did not arrive: ask again.
    Fetch,
}

/// The output buffer of a HotStuff replica.
pub type Out = Actions<Message, Timer>;

/// The last committed block: the root of the block tree this replica keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Root {
    pub digest: Digest,
    pub height: u64,
    pub round: u64,
}

/// Votes for one `(round, block, height)`.
#[derive(Clone, Debug, Default)]
pub(crate) struct VoteSet {
    pub verified: BTreeMap<ReplicaIndex, Signature>,
    /// Votes not checked yet: checked in one batch once a quorum is in.
    pub unverified: BTreeMap<ReplicaIndex, Signature>,
    /// The certificate was formed.
    pub done: bool,
}

/// The last stable checkpoint (the low-water mark of the block store).
#[derive(Clone, Debug, Default)]
pub(crate) struct Stable {
    pub height: u64,
    pub proof: Vec<Checkpoint>,
    pub snapshot: Option<HotStuffSnapshot>,
}

/// What a checkpoint at some height needs besides the application's snapshot.
#[derive(Clone, Debug)]
pub(crate) struct SnapshotMeta {
    pub recent: DedupState,
    pub root: Root,
}

/// A chained HotStuff replica (Yin et al., PODC 2019).
pub struct HotStuff {
    pub(crate) cfg: HotStuffConfig,
    pub(crate) me: ReplicaIndex,
    pub(crate) committee: ShardCommittee,
    pub(crate) key: Keypair,
    /// The current round.
    pub(crate) round: u64,
    /// The highest round voted (or timed out) in: never vote twice in a round.
    pub(crate) last_voted_round: u64,
    /// The locked certificate: vote only for blocks extending its block, or justified by
    /// a newer certificate.
    pub(crate) locked: QuorumCert,
    /// The highest certificate known: what this replica's proposals extend.
    pub(crate) high_qc: QuorumCert,
    /// The certificate whose three-chain made the last commit, for replicas that missed it.
    pub(crate) commit_qc: QuorumCert,
    /// The latest timeout certificate, sent with a proposal that follows it.
    pub(crate) last_tc: Option<TimeoutCert>,
    /// Rounds entered in a row by timeout certificate: the back-off exponent.
    pub(crate) timeouts_in_a_row: u32,
    /// The last round this replica proposed in.
    pub(crate) proposed_round: u64,
    /// Blocks connected to the root (and committed blocks until garbage collection).
    pub(crate) blocks: DigestMap<Block>,
    pub(crate) root: Root,
    /// Committed blocks by height, to serve catch-up until garbage collection.
    pub(crate) committed: BTreeMap<u64, Digest>,
    pub(crate) votes: BTreeMap<(u64, Digest, u64), VoteSet>,
    pub(crate) timeouts: BTreeMap<u64, BTreeMap<ReplicaIndex, Timeout>>,
    /// Certificates already verified: block digest -> (round, height).
    pub(crate) verified_qcs: DigestMap<(u64, u64)>,
    /// Verified proposals waiting for their parent block.
    pub(crate) waiting: DigestMap<Vec<(ReplicaIndex, Proposal)>>,
    /// Fetched blocks waiting for their parent.
    pub(crate) orphans: DigestMap<Vec<Block>>,
    /// Blocks asked for: digest -> (height, who should have it).
    pub(crate) wanted: DigestMap<(u64, ReplicaIndex)>,
    pub(crate) fetch_timer_set: bool,
    pub(crate) fetch_attempt: u32,
    /// This replica's latest proposals, kept to answer [`Message::FetchProposal`].
    pub(crate) proposed: VecDeque<Proposal>,
    /// Commands held and not delivered, in arrival order: what a leader's batch is cut
    /// from. It counts their bytes, so whether they fill a block is known without walking
    /// them.
    pub(crate) pending: Pending,
    pub(crate) batch_timer_round: u64,
    pub(crate) batch_fired_round: u64,
    /// Commands delivered in the last `dedup_window` heights.
    pub(crate) recent: DedupWindow,
    pub(crate) stable: Stable,
    pub(crate) checkpoints: BTreeMap<u64, BTreeMap<ReplicaIndex, Checkpoint>>,
    pub(crate) own_snapshots: BTreeMap<u64, (Digest, HotStuffSnapshot)>,
    pub(crate) snapshot_meta: BTreeMap<u64, SnapshotMeta>,
    /// `(committed, high_qc.round)` at the last status broadcast.
    pub(crate) status_sent: Option<(u64, u64)>,
    /// Round-timer firings since the last status broadcast (for the heartbeat).
    pub(crate) ticks_since_status: u64,
    /// The highest committed height (or certificate round) peers showed.
    pub(crate) highest_seen: (u64, u64),
    pub(crate) stats: ConsensusStats,
    pub(crate) last_invalid: Option<Invalid>,
}

/// Most proposals or orphan blocks kept while their parents are fetched.
pub(crate) const MAX_WAITING: usize = 4096;
/// Most pending client requests.
pub(crate) const MAX_PENDING: usize = 1 << 20;

impl HotStuff {
    /// Replica `me` of `committee`, signing with `key`.
    pub fn new(
        cfg: HotStuffConfig,
        committee: ShardCommittee,
        me: ReplicaIndex,
        key: Keypair,
    ) -> Result<Self, HotStuffError> {
        cfg.validate()?;
        if committee.key(me) != Some(&key.public()) {
            return Err(HotStuffError::NotInCommittee(me));
        }
        let recent = DedupWindow::new(cfg.dedup_window);
        Ok(HotStuff {
            cfg,
            me,
            committee,
            key,
            round: 1,
            last_voted_round: 0,
            locked: QuorumCert::genesis(),
            high_qc: QuorumCert::genesis(),
            commit_qc: QuorumCert::genesis(),
            last_tc: None,
            timeouts_in_a_row: 0,
            proposed_round: 0,
            blocks: DigestMap::default(),
            root: Root { digest: genesis(), height: 0, round: 0 },
            committed: BTreeMap::new(),
            votes: BTreeMap::new(),
            timeouts: BTreeMap::new(),
            verified_qcs: DigestMap::default(),
            waiting: DigestMap::default(),
            orphans: DigestMap::default(),
            wanted: DigestMap::default(),
            fetch_timer_set: false,
            fetch_attempt: 0,
            proposed: VecDeque::new(),
            pending: Pending::default(),
            batch_timer_round: 0,
            batch_fired_round: 0,
            recent,
            stable: Stable::default(),
            checkpoints: BTreeMap::new(),
            own_snapshots: BTreeMap::new(),
            snapshot_meta: BTreeMap::new(),
            status_sent: None,
            ticks_since_status: 0,
            highest_seen: (0, 0),
            stats: ConsensusStats::default(),
            last_invalid: None,
        })
    }

    /// The current round.
    pub fn round(&self) -> u64 {
        self.round
    }

    /// The highest round this replica voted in.
    pub fn last_voted_round(&self) -> u64 {
        self.last_voted_round
    }

    /// The round of the locked certificate.
    pub fn locked_round(&self) -> u64 {
        self.locked.round
    }

    /// The highest quorum certificate known.
    pub fn high_qc(&self) -> &QuorumCert {
        &self.high_qc
    }

    /// The last committed height.
    pub fn committed_height(&self) -> u64 {
        self.root.height
    }

    /// The last stable checkpoint's height.
    pub fn stable_checkpoint(&self) -> u64 {
        self.stable.height
    }

    /// Blocks held (for garbage-collection tests).
    pub fn blocks_len(&self) -> usize {
        self.blocks.len()
    }

    /// Requests waiting to be ordered.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Why the last invalid message was dropped.
    pub fn last_invalid(&self) -> Option<&Invalid> {
        self.last_invalid.as_ref()
    }

    pub(crate) fn n(&self) -> usize {
        self.committee.n()
    }

    pub(crate) fn quorum(&self) -> usize {
        self.committee.quorum()
    }

    pub(crate) fn is_leader(&self, round: u64) -> bool {
        leader(round, self.n()) == self.me
    }

    /// Whether `digest` is in the tree (or is its root).
    pub(crate) fn known(&self, digest: &Digest) -> bool {
        *digest == self.root.digest || self.blocks.contains_key(digest)
    }

    /// Drop an invalid message, counting it.
    pub(crate) fn invalid(&mut self, why: Invalid) {
        self.stats.invalid_messages += 1;
        self.last_invalid = Some(why);
    }

    /// Ignore a stale message, counting it.
    pub(crate) fn ignore(&mut self) {
        self.stats.ignored_messages += 1;
    }

    fn add_request(&mut self, command: Command) {
        let d = command.digest();
        if self.recent.contains(&d) || self.pending.contains(&d) {
            return;
        }
        if self.pending.len() >= MAX_PENDING {
            self.ignore();
            return;
        }
        self.pending.push(command);
    }

    pub(crate) fn remove_pending(&mut self, d: &Digest) {
        self.pending.remove(d);
    }
}

impl Consensus for HotStuff {
    type Message = Message;
    type Timer = Timer;

    fn index(&self) -> ReplicaIndex {
        self.me
    }

    fn on_start(&mut self, out: &mut Out) {
        self.fetch_timer_set = false;
        self.batch_timer_round = 0;
        out.set_timer(Timer::Round(self.round), self.round_timeout());
        if !self.wanted.is_empty() {
            self.arm_fetch(out);
        }
        self.maybe_propose(out);
    }

    fn propose(&mut self, command: Command, out: &mut Out) {
        self.add_request(command);
        self.maybe_propose(out);
    }

    fn on_message(&mut self, from: ReplicaIndex, msg: Message, out: &mut Out) {
        if !self.committee.contains(from) || from == self.me {
            self.invalid(Invalid::UnknownReplica(from));
            return;
        }
        match msg {
            Message::Request(batch) => {
                if let Err(e) = self.cfg.batch_limits().check(&batch) {
                    return self.invalid(e.into());
                }
                for c in batch {
                    self.add_request(c);
                }
                self.maybe_propose(out);
            }
            Message::Proposal(p) => self.on_proposal(from, p, out),
            Message::Vote(v) => self.on_vote(from, v, out),
            Message::Timeout(t) => self.on_timeout(from, t, out),
            Message::Sync(s) => self.on_sync(from, s, out),
            Message::Status(s) => self.on_status(from, s, out),
            Message::BlockRequest(r) => self.on_block_request(from, r, out),
            Message::Blocks(b) => self.on_blocks(from, b, out),
            Message::Checkpoint(c) => self.on_checkpoint(from, c, out),
            Message::StateReply(s) => self.on_state_reply(from, s, out),
            Message::ProposalDigests(p) => self.on_proposal_digests(from, p, out),
            Message::FetchProposal(f) => self.on_fetch_proposal(from, f, out),
        }
    }

    fn on_timer(&mut self, timer: Timer, out: &mut Out) {
        match timer {
            Timer::Round(r) => self.on_round_timer(r, out),
            Timer::Batch => {
                self.batch_timer_round = 0;
                self.batch_fired_round = self.round;
                self.maybe_propose(out);
            }
            Timer::Fetch => self.on_fetch_timer(out),
        }
    }

    fn on_snapshot(&mut self, sequence: u64, snapshot: Snapshot, out: &mut Out) {
        self.take_checkpoint(sequence, snapshot, out);
    }

    fn last_delivered(&self) -> u64 {
        self.root.height
    }

    fn stats(&self) -> ConsensusStats {
        self.stats
    }

    fn delivered_recently(&self, command: &Digest) -> bool {
        self.recent.contains(command)
    }

    /// Both parts of the durable state only grow: their sum changes whenever either does.
    fn durable_version(&self) -> u64 {
        self.last_voted_round + self.locked.round
    }

    fn durable_state(&self) -> Vec<u8> {
        let state =
            Durable { last_voted_round: self.last_voted_round, locked: self.locked.clone() };
        postcard::to_allocvec(&state).unwrap_or_default()
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), chainspace_core::Error> {
        let d: Durable = postcard::from_bytes(state).map_err(|e| {
            chainspace_core::Error::InvalidSnapshot { reason: format!("HotStuff state: {e}") }
        })?;
        // The lock's certificate was verified before it was written; a replica never
        // needs its block to apply the voting rule, which compares digests and rounds.
        self.last_voted_round = self.last_voted_round.max(d.last_voted_round);
        if d.locked.round > self.locked.round {
            self.locked = d.locked;
        }
        Ok(())
    }
}

/// What a HotStuff replica must remember across a crash (Yin et al., section 4.2: the
/// safety rules need `vheight` and `lockedQC` on stable storage): the highest round it
/// voted or timed out in, so it never votes twice in a round, and its lock, so it never
/// votes against it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Durable {
    last_voted_round: u64,
    locked: QuorumCert,
}
