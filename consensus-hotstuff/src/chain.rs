//! The chain: proposals, votes, quorum certificates, the safety rules and the three-chain
//! commit rule (Yin et al., PODC 2019, section 5, Algorithm 3), and delivery.
//!
//! Two refinements, both from LibraBFT (the HotStuff variant in production at Diem):
//! a block's parent is always the block its `justify` certifies, and the commit rule
//! asks for a three-chain of *consecutive rounds*, which is what makes the rule safe
//! without the paper's dummy blocks for skipped rounds.
//!
//! Votes are broadcast to every replica rather than sent to the next leader only. With
//! round-robin leaders and a crashed replica, the next leader is dead one round in `n`;
//! were votes sent to it alone, `n = 4` with one crash would never complete a three-chain
//! of consecutive rounds (three live leaders in a row make only two certificates). With
//! votes broadcast, every replica forms the certificate itself and commits without
//! waiting for the next proposal.

use chainspace_core::consensus::Action;
use chainspace_core::crypto::{Digest, DigestSet, verify_batch};
use chainspace_core::types::{Command, ReplicaIndex};

use crate::error::Invalid;
use crate::message::{
    Block, DigestProposal, FetchProposal, Message, Proposal, QuorumCert, Vote, domain,
};
use crate::replica::{HotStuff, MAX_WAITING, Out, Root, SnapshotMeta};

/// How many of its latest proposals a leader keeps to answer [`FetchProposal`]s: a
/// replica asks for the proposal of the round it is in, which is this replica's latest
/// or, after a timeout, one of the few before.
const KEEP_PROPOSALS: usize = 4;

impl HotStuff {
    /// Verify a certificate once; later copies of it hit the cache.
    pub(crate) fn check_qc(&mut self, qc: &QuorumCert) -> Result<(), Invalid> {
        if self.verified_qcs.get(&qc.block) == Some(&(qc.round, qc.height)) {
            return Ok(());
        }
        qc.verify(&self.committee)?;
        self.verified_qcs.insert(qc.block, (qc.round, qc.height));
        Ok(())
    }

    pub(crate) fn on_proposal(&mut self, from: ReplicaIndex, p: Proposal, out: &mut Out) {
        if p.block.author != from {
            self.invalid(Invalid::WrongSender { from, what: "proposal" });
            return;
        }
        if p.block.height <= self.root.height {
            // Below the committed chain: nothing in it is news.
            self.ignore();
            return;
        }
        let digest = match p.verify(&self.committee, self.cfg.batch_limits()) {
            Ok(d) => d,
            Err(e) => return self.invalid(e),
        };
        if let Err(e) = self.check_qc(&p.block.justify) {
            return self.invalid(e);
        }
        if let Some(tc) = &p.tc
            && let Err(e) = tc.verify(&self.committee)
        {
            return self.invalid(e);
        }
        let justify = p.block.justify.clone();
        self.process_qc(&justify, from, out);
        if let Some(tc) = p.tc.clone() {
            self.process_tc(tc, out);
        }
        let parent = p.block.parent();
        if self.known(&parent) {
            self.on_connected_proposal(digest, p.block, out);
        } else if p.block.height > self.root.height + 1 {
            let height = p.block.height - 1;
            let list = self.waiting.entry(parent).or_default();
            if list.len() < MAX_WAITING {
                list.push((from, p));
            }
            self.want(parent, height, from, out);
        }
    }

    /// A proposal naming its commands by digest: rebuilt from the commands this replica
    /// holds and handled as the full one, or, when any is missing, asked of the leader in
    /// full. A replica never votes for a block whose commands it does not hold.
    pub(crate) fn on_proposal_digests(
        &mut self,
        from: ReplicaIndex,
        p: DigestProposal,
        out: &mut Out,
    ) {
        if p.author != from {
            self.invalid(Invalid::WrongSender { from, what: "proposal" });
            return;
        }
        if let Err(e) = p.check(self.cfg.batch_limits()) {
            return self.invalid(e);
        }
        let mut payload = Vec::with_capacity(p.commands.len());
        for d in &p.commands {
            match self.pending.get(d) {
                Some(c) => payload.push(c.clone()),
                None => break,
            }
        }
        if payload.len() == p.commands.len() {
            return self.on_proposal(from, p.with_payload(payload), out);
        }
        // Ask only for what would be used: not for a block at or below the committed
        // chain, of a round this replica has left (it no longer votes there; should the
        // chain need the block, it is fetched as any missing ancestor is), or one held.
        let block = p.block_digest();
        if p.height <= self.root.height || p.round < self.round || self.known(&block) {
            self.ignore();
            return;
        }
        self.stats.proposals_fetched += 1;
        out.send(from, Message::FetchProposal(FetchProposal { round: p.round, block }));
    }

    /// A replica asks for the full proposal of `round`: sent if it is one of this
    /// replica's latest (one not answered is fetched later as any missing block is).
    pub(crate) fn on_fetch_proposal(
        &mut self,
        from: ReplicaIndex,
        f: FetchProposal,
        out: &mut Out,
    ) {
        let p = self.proposed.iter().find(|p| p.block.round == f.round);
        match p {
            Some(p) if p.block.digest() == f.block => {
                out.send(from, Message::Proposal(p.clone()));
            }
            _ => self.ignore(),
        }
    }

    /// A verified proposal whose parent is in the tree: store it, and vote if the safety
    /// rules allow.
    pub(crate) fn on_connected_proposal(&mut self, digest: Digest, block: Block, out: &mut Out) {
        if block.height <= self.root.height {
            return;
        }
        self.insert_block(digest, block, out);
        self.try_vote(digest, out);
    }

    /// The safety rules: one vote per round, and only for a block of the current round
    /// that extends the locked block or is justified by a certificate newer than the lock
    /// (the paper's `safeNode`).
    pub(crate) fn safe_to_vote(&self, block: &Block) -> bool {
        block.round == self.round
            && block.round > self.last_voted_round
            && (block.justify.block == self.locked.block || block.justify.round > self.locked.round)
    }

    fn try_vote(&mut self, digest: Digest, out: &mut Out) {
        let Some(block) = self.blocks.get(&digest) else { return };
        if !self.safe_to_vote(block) {
            return;
        }
        let (round, height) = (block.round, block.height);
        self.last_voted_round = round;
        let vote = Vote::new(digest, round, height, self.me, &self.key);
        out.broadcast(Message::Vote(vote.clone()));
        let set = self.votes.entry((round, digest, height)).or_default();
        set.verified.insert(self.me, vote.signature);
        self.try_form_qc((round, digest, height), out);
    }

    pub(crate) fn on_vote(&mut self, from: ReplicaIndex, v: Vote, out: &mut Out) {
        if v.replica != from {
            self.invalid(Invalid::WrongSender { from, what: "vote" });
            return;
        }
        if v.round <= self.high_qc.round || v.height <= self.root.height {
            self.ignore();
            return;
        }
        if v.round > self.round + crate::pacemaker::MAX_ROUNDS_AHEAD {
            self.ignore();
            return;
        }
        let key = (v.round, v.block, v.height);
        let set = self.votes.entry(key).or_default();
        if set.done || set.verified.contains_key(&from) || set.unverified.contains_key(&from) {
            return;
        }
        set.unverified.insert(from, v.signature);
        self.try_form_qc(key, out);
    }

    /// With a quorum of votes in, check the unverified ones in one batch (one by one only
    /// if the batch fails, to find the bad ones) and form the certificate.
    fn try_form_qc(&mut self, key: (u64, Digest, u64), out: &mut Out) {
        let quorum = self.quorum();
        let Some(set) = self.votes.get_mut(&key) else { return };
        if set.done || set.verified.len() + set.unverified.len() < quorum {
            return;
        }
        let (round, block, height) = key;
        let bytes = QuorumCert::vote_bytes(block, round, height);
        let items: Vec<_> = set
            .unverified
            .iter()
            .filter_map(|(r, s)| self.committee.key(*r).map(|k| (*k, bytes.as_slice(), *s)))
            .collect();
        let mut bad = 0;
        if verify_batch(domain::VOTE, &items) {
            let verified = std::mem::take(&mut set.unverified);
            set.verified.extend(verified);
        } else {
            for (r, s) in std::mem::take(&mut set.unverified) {
                let ok = self.committee.key(r).is_some_and(|k| k.verify(domain::VOTE, &bytes, &s));
                if ok {
                    set.verified.insert(r, s);
                } else {
                    bad += 1;
                }
            }
        }
        for _ in 0..bad {
            self.invalid(Invalid::Signature("vote"));
        }
        let Some(set) = self.votes.get_mut(&key) else { return };
        if set.verified.len() < quorum {
            return;
        }
        set.done = true;
        let votes = set.verified.iter().take(quorum).map(|(r, s)| (*r, *s)).collect();
        let qc = QuorumCert { block, round, height, votes };
        self.verified_qcs.insert(block, (round, height));
        let from = self.me;
        self.process_qc(&qc, from, out);
    }

    /// A verified certificate: raise the high certificate, enter the next round, update
    /// the lock and commit. `from` has the certified block, if it is missing here.
    pub(crate) fn process_qc(&mut self, qc: &QuorumCert, from: ReplicaIndex, out: &mut Out) {
        if qc.round > self.high_qc.round {
            self.high_qc = qc.clone();
        }
        // Lock and commit first, so that entering the next round sees what is left to do.
        if self.known(&qc.block) {
            self.update_chain(qc, out);
        } else if qc.height > self.root.height && from != self.me {
            self.want(qc.block, qc.height, from, out);
        }
        if qc.round >= self.round {
            self.advance_round(qc.round + 1, true, out);
        }
        self.maybe_propose(out);
    }

    /// Algorithm 3's update for a certificate on `b2`: lock on `b2.justify`, and commit
    /// `b0` if `b0 <- b1 <- b2` are in consecutive rounds.
    pub(crate) fn update_chain(&mut self, qc: &QuorumCert, out: &mut Out) {
        let Some(b2) = self.blocks.get(&qc.block) else { return };
        if b2.justify.round > self.locked.round {
            self.locked = b2.justify.clone();
        }
        let b1_digest = b2.justify.block;
        let b2_round = b2.round;
        let Some(b1) = self.blocks.get(&b1_digest) else { return };
        let b0_digest = b1.justify.block;
        let b0_round = b1.justify.round;
        if b2_round == b1.round + 1
            && b1.round == b0_round + 1
            && b1.justify.height > self.root.height
        {
            self.commit_qc = qc.clone();
            self.commit(b0_digest, out);
        }
    }

    /// Commit `digest` and every uncommitted ancestor, in height order.
    fn commit(&mut self, digest: Digest, out: &mut Out) {
        match self.blocks.get(&digest) {
            Some(b) if b.height > self.root.height => {}
            _ => return,
        }
        let mut chain = Vec::new();
        let mut cursor = digest;
        while cursor != self.root.digest {
            let Some(b) = self.blocks.get(&cursor) else { return };
            if b.height <= self.root.height {
                // Not a descendant of the root: a conflicting commit, which a quorum
                // intersection rules out with at most f faults. Refuse it.
                self.invalid(Invalid::Proof("commit does not extend the committed chain"));
                return;
            }
            chain.push(cursor);
            cursor = b.parent();
        }
        for d in chain.into_iter().rev() {
            self.execute(d, out);
        }
        let root = self.root;
        let committed = &self.committed;
        self.blocks.retain(|d, b| b.height > root.height || committed.get(&b.height) == Some(d));
        self.votes.retain(|k, _| k.2 > root.height);
        self.waiting.retain(|_, w| {
            w.retain(|(_, p)| p.block.height > root.height);
            !w.is_empty()
        });
        self.orphans.retain(|_, c| {
            c.retain(|b| b.height > root.height);
            !c.is_empty()
        });
        self.maybe_propose(out);
    }

    /// Deliver one committed block at sequence number = its height.
    fn execute(&mut self, digest: Digest, out: &mut Out) {
        let Some(block) = self.blocks.get(&digest) else { return };
        let (height, round) = (block.height, block.round);
        let payload = block.payload.clone();
        let mut delivered = Vec::with_capacity(payload.len());
        for c in payload {
            let d = c.digest();
            self.remove_pending(&d);
            if self.recent.insert(height, d) {
                delivered.push(c);
            }
        }
        self.recent.seal(height);
        self.root = Root { digest, height, round };
        self.committed.insert(height, digest);
        out.deliver(height, delivered);
        if height.is_multiple_of(self.cfg.checkpoint_interval) {
            let meta = SnapshotMeta { recent: self.recent.state(), root: self.root };
            self.snapshot_meta.insert(height, meta);
            out.push(Action::TakeSnapshot { sequence: height });
        }
    }

    /// The uncommitted blocks from `tip` down to the root, newest first.
    pub(crate) fn branch(&self, tip: Digest) -> Vec<&Block> {
        let mut out = Vec::new();
        let mut cursor = tip;
        while cursor != self.root.digest {
            let Some(b) = self.blocks.get(&cursor) else { break };
            if b.height <= self.root.height {
                break;
            }
            out.push(b);
            cursor = b.parent();
        }
        out
    }

    /// Whether the branch of the high certificate holds uncommitted commands: the chain
    /// must keep growing until they commit.
    pub(crate) fn chain_busy(&self) -> bool {
        self.branch(self.high_qc.block).iter().any(|b| !b.payload.is_empty())
    }

    /// Whether this replica waits for anything (then a silent round is a fault).
    pub(crate) fn busy(&self) -> bool {
        !self.pending.is_empty() || self.chain_busy()
    }

    /// Pending commands not already in the branch being extended, in arrival order, up to
    /// `max_batch` commands and `max_batch_bytes` bytes (a command larger than that goes
    /// alone).
    pub(crate) fn select_batch(&self) -> Vec<Command> {
        let in_branch: DigestSet = self
            .branch(self.high_qc.block)
            .iter()
            .flat_map(|b| b.payload.iter().map(|c| c.digest()))
            .collect();
        let mut batch = Vec::new();
        let mut bytes = 0;
        // A pending command was not delivered within the dedup window (`add_request`
        // refuses those, and delivery removes it from `pending`): only the branch can
        // hold it already, and the branch's set is small enough to stay in cache.
        for c in self.pending.iter() {
            if batch.len() >= self.cfg.max_batch {
                break;
            }
            if in_branch.contains(&c.digest()) {
                continue;
            }
            if !batch.is_empty() && bytes + c.len() > self.cfg.max_batch_bytes {
                break;
            }
            bytes += c.len();
            batch.push(c.clone());
        }
        batch
    }

    /// The leader of the current round proposes once, when there is work: new commands,
    /// or uncommitted ones to push through the three-chain. A partial batch with nothing
    /// else to drive waits up to `max_batch_delay` for more.
    pub(crate) fn maybe_propose(&mut self, out: &mut Out) {
        let round = self.round;
        if !self.is_leader(round) || self.proposed_round >= round {
            return;
        }
        if !self.known(&self.high_qc.block) {
            return;
        }
        let tc = match &self.last_tc {
            Some(tc) if tc.round + 1 == round => Some(tc.clone()),
            _ => None,
        };
        if self.high_qc.round + 1 != round && tc.is_none() {
            return;
        }
        let busy = self.chain_busy();
        if !busy {
            // The branch holds no command, so the batch would be the first pending ones,
            // full exactly when all of them reach a limit. Decided without cutting it:
            // a leader waiting for its batch timer is called for every command that
            // arrives meanwhile, and cutting the batch each time walked every pending
            // command (4-5% of a consensus-only run's CPU).
            if self.pending.is_empty() {
                return;
            }
            let full = self.pending.len() >= self.cfg.max_batch
                || self.pending.bytes() >= self.cfg.max_batch_bytes;
            if !full && self.batch_fired_round != round {
                if self.batch_timer_round != round {
                    self.batch_timer_round = round;
                    out.set_timer(crate::replica::Timer::Batch, self.cfg.max_batch_delay);
                }
                return;
            }
        }
        let batch = self.select_batch();
        if self.batch_timer_round != 0 {
            self.batch_timer_round = 0;
            out.cancel_timer(crate::replica::Timer::Batch);
        }
        self.proposed_round = round;
        let block = Block {
            round,
            height: self.high_qc.height + 1,
            justify: self.high_qc.clone(),
            author: self.me,
            payload: batch,
        };
        let digest = block.digest();
        let proposal = Proposal::new(block.clone(), tc);
        if self.cfg.proposal_digests {
            out.broadcast(Message::ProposalDigests(proposal.by_digest()));
            if self.proposed.len() == KEEP_PROPOSALS {
                self.proposed.pop_front();
            }
            self.proposed.push_back(proposal);
        } else {
            out.broadcast(Message::Proposal(proposal));
        }
        self.on_connected_proposal(digest, block, out);
    }
}
