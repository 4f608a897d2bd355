//! HotStuff's messages (Yin et al., PODC 2019, sections 4-5; the pacemaker's `Timeout` and
//! `TimeoutCert` as in LibraBFT / DiemBFT) and their checks.
//!
//! What must convince a third replica is signed with ed25519: votes (collected into
//! quorum certificates), timeouts (collected into timeout certificates) and checkpoints.
//! Certificates are verified in one batch.
//!
//! Proposals are not signed. A replica accepts a proposal only from its author, over the
//! transport's authenticated channel (QUIC with pinned committee keys, or the simulator,
//! which names senders itself), so its origin is known without a signature; and no
//! replica ever shows a proposal to a third one as proof of anything: a block fetched from
//! someone else is taken on the strength of the certificate that names its digest
//! ([`crate::sync`]). This is the paper's model (Yin et al., PODC 2019, section 4: only
//! votes carry signatures, as partial signatures of the certificate), and it spares one
//! signature and `n - 1` verifications per block; the leader's signature, as LibraBFT
//! has it, bought accountability for equivocation, which nothing here uses. In
//! consensus-only runs those verifications were 6% of the CPU (BENCHMARKS.md, ninth
//! round).

use chainspace_core::committee::ShardCommittee;
use chainspace_core::consensus::ProtocolMessage;
use chainspace_core::crypto::{
    Digest, Keypair, Signature, digest_of_digests, sha256, sha256_parts, verify_batch,
};
use chainspace_core::types::{Command, ReplicaIndex};
use serde::{Deserialize, Serialize};

use crate::error::Invalid;

/// Signature domains: a signature made for one message kind never verifies as another.
pub(crate) mod domain {
    pub const VOTE: &[u8] = b"chainspace/hotstuff/vote";
    pub const TIMEOUT: &[u8] = b"chainspace/hotstuff/timeout";
    pub const CHECKPOINT: &[u8] = b"chainspace/hotstuff/checkpoint";
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("encoding to a Vec cannot fail")
}

pub use chainspace_core::consensus::BatchLimits;
use chainspace_core::consensus::BatchTooBig;

impl From<BatchTooBig> for Invalid {
    fn from(e: BatchTooBig) -> Self {
        match e {
            BatchTooBig::Commands { len, max } => Invalid::BatchTooLarge { len, max },
            BatchTooBig::Bytes { bytes, max } => Invalid::BatchTooManyBytes { bytes, max },
        }
    }
}

/// The digest of the genesis block, the root of every chain (round 0, height 0).
pub fn genesis() -> Digest {
    sha256(b"chainspace/hotstuff/genesis")
}

/// The leader of `round` in a shard of `n`: round robin, round 1 led by replica 0.
pub fn leader(round: u64, n: usize) -> ReplicaIndex {
    (round.saturating_sub(1) % n as u64) as ReplicaIndex
}

/// The digest of a block's commands (over the commands' own digests).
pub fn payload_digest(payload: &[Command]) -> Digest {
    digest_of_digests(payload.iter().map(Command::digest))
}

/// A block's digest from its header and [`payload_digest`]: what a full block and one
/// named by its commands' digests ([`DigestProposal`]) share.
fn block_digest(
    round: u64,
    height: u64,
    justify: &QuorumCert,
    author: ReplicaIndex,
    payload: Digest,
) -> Digest {
    let head = encode(&(round, height, justify.block, justify.round, justify.height, author));
    sha256_parts(&[&head, &payload.0])
}

/// A quorum certificate: `quorum` votes for one block (its digest, round and height).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumCert {
    /// The certified block.
    pub block: Digest,
    /// Its round.
    pub round: u64,
    /// Its height: the sequence number it is delivered at once committed.
    pub height: u64,
    /// The votes, by distinct replicas.
    pub votes: Vec<(ReplicaIndex, Signature)>,
}

impl QuorumCert {
    /// The certificate of the genesis block, which needs no votes.
    pub fn genesis() -> Self {
        QuorumCert { block: genesis(), round: 0, height: 0, votes: Vec::new() }
    }

    /// Whether this is the genesis certificate.
    pub fn is_genesis(&self) -> bool {
        self.round == 0 && self.height == 0 && self.block == genesis() && self.votes.is_empty()
    }

    /// What a vote for `(block, round, height)` signs.
    pub fn vote_bytes(block: Digest, round: u64, height: u64) -> Vec<u8> {
        encode(&(block, round, height))
    }

    /// Check a quorum of distinct committee members signed it (one batch verification).
    pub fn verify(&self, committee: &ShardCommittee) -> Result<(), Invalid> {
        if self.is_genesis() {
            return Ok(());
        }
        if self.round == 0 || self.height == 0 {
            return Err(Invalid::Proof("certificate for round or height 0"));
        }
        let bytes = Self::vote_bytes(self.block, self.round, self.height);
        let mut seen = Vec::with_capacity(self.votes.len());
        let mut items = Vec::with_capacity(self.votes.len());
        for (r, s) in &self.votes {
            if seen.contains(r) {
                return Err(Invalid::Proof("certificate repeats a voter"));
            }
            seen.push(*r);
            let key = committee.key(*r).ok_or(Invalid::UnknownReplica(*r))?;
            items.push((*key, bytes.as_slice(), *s));
        }
        if seen.len() < committee.quorum() {
            return Err(Invalid::Proof("certificate below quorum"));
        }
        if !verify_batch(domain::VOTE, &items) {
            return Err(Invalid::Signature("vote"));
        }
        Ok(())
    }
}

/// A block: a batch of commands extending the block its certificate `justify` certifies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The round it was proposed in.
    pub round: u64,
    /// Its height: `justify.height + 1`.
    pub height: u64,
    /// The certificate of its parent (chained HotStuff's `justify`).
    pub justify: QuorumCert,
    /// The leader that proposed it.
    pub author: ReplicaIndex,
    /// The commands.
    pub payload: Vec<Command>,
}

impl Block {
    /// The block's identity: covers every field but the parent's votes.
    pub fn digest(&self) -> Digest {
        block_digest(
            self.round,
            self.height,
            &self.justify,
            self.author,
            payload_digest(&self.payload),
        )
    }

    /// The parent's digest.
    pub fn parent(&self) -> Digest {
        self.justify.block
    }

    /// Structural checks that need no keys.
    pub fn check_shape(&self, limits: BatchLimits) -> Result<(), Invalid> {
        limits.check(&self.payload)?;
        if self.round <= self.justify.round || self.height != self.justify.height + 1 {
            return Err(Invalid::Proof("block does not follow its certificate"));
        }
        Ok(())
    }
}

/// A leader's proposal of a block, with the timeout certificate that let it skip rounds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The block.
    pub block: Block,
    /// Present when `block.justify` is not of the previous round.
    pub tc: Option<TimeoutCert>,
}

impl Proposal {
    /// The proposal of `block`, after timeout certificate `tc` if any.
    pub fn new(block: Block, tc: Option<TimeoutCert>) -> Self {
        Proposal { block, tc }
    }

    /// Check everything but the certificates (checked by the caller, with a cache) and
    /// the sender (the caller checks it is the author): shape, the author is the round's
    /// leader, the timeout certificate justifies the round. Returns the block digest.
    pub fn verify(
        &self,
        committee: &ShardCommittee,
        limits: BatchLimits,
    ) -> Result<Digest, Invalid> {
        let b = &self.block;
        b.check_shape(limits)?;
        if b.author != leader(b.round, committee.n()) {
            return Err(Invalid::Proof("proposal not by the round's leader"));
        }
        if committee.key(b.author).is_none() {
            return Err(Invalid::UnknownReplica(b.author));
        }
        let digest = b.digest();
        match &self.tc {
            None if b.round != b.justify.round + 1 => {
                Err(Invalid::Proof("round skipped without a timeout certificate"))
            }
            Some(tc) if tc.round + 1 != b.round || b.justify.round < tc.max_high_qc_round() => {
                Err(Invalid::Proof("timeout certificate does not justify the round"))
            }
            _ => Ok(digest),
        }
    }

    /// The same proposal naming its commands by digest (see [`DigestProposal`]).
    pub fn by_digest(&self) -> DigestProposal {
        let b = &self.block;
        DigestProposal {
            round: b.round,
            height: b.height,
            justify: b.justify.clone(),
            author: b.author,
            commands: b.payload.iter().map(Command::digest).collect(),
            tc: self.tc.clone(),
        }
    }
}

/// A [`Proposal`] whose block names its commands by their digests instead of carrying
/// them. Clients send every command to every replica, so the other replicas hold the
/// bytes already; the block digest covers the commands only through their digests, so a
/// replica holding every command rebuilds exactly the block the leader proposed. One
/// lacking any asks the leader for the full proposal ([`FetchProposal`]): a replica
/// votes only for a block whose commands it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestProposal {
    /// The block's round.
    pub round: u64,
    /// Its height.
    pub height: u64,
    /// Its parent's certificate.
    pub justify: QuorumCert,
    /// The leader that proposed it.
    pub author: ReplicaIndex,
    /// The commands' digests, in block order.
    pub commands: Vec<Digest>,
    /// As in [`Proposal`].
    pub tc: Option<TimeoutCert>,
}

impl DigestProposal {
    /// The check that needs no command bytes: how many commands. The shape and the byte
    /// limit are checked on the rebuilt [`Proposal`].
    pub fn check(&self, limits: BatchLimits) -> Result<(), Invalid> {
        if self.commands.len() > limits.max_batch {
            return Err(Invalid::BatchTooLarge { len: self.commands.len(), max: limits.max_batch });
        }
        Ok(())
    }

    /// The digest of the block it names.
    pub fn block_digest(&self) -> Digest {
        let payload = digest_of_digests(self.commands.iter().copied());
        block_digest(self.round, self.height, &self.justify, self.author, payload)
    }

    /// The full proposal, given the block's commands in order.
    pub fn with_payload(self, payload: Vec<Command>) -> Proposal {
        let block = Block {
            round: self.round,
            height: self.height,
            justify: self.justify,
            author: self.author,
            payload,
        };
        Proposal { block, tc: self.tc }
    }
}

/// A replica lacks some commands of the leader's proposal of `round` (block `block`) and
/// asks the leader for the full [`Proposal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchProposal {
    /// The proposal's round.
    pub round: u64,
    /// Its block's digest.
    pub block: Digest,
}

/// A vote for a block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// The block.
    pub block: Digest,
    /// Its round.
    pub round: u64,
    /// Its height.
    pub height: u64,
    /// Who votes.
    pub replica: ReplicaIndex,
    /// Signature over `(block, round, height)`.
    pub signature: Signature,
}

impl Vote {
    /// Build and sign.
    pub fn new(
        block: Digest,
        round: u64,
        height: u64,
        replica: ReplicaIndex,
        key: &Keypair,
    ) -> Self {
        let signature = key.sign(domain::VOTE, &QuorumCert::vote_bytes(block, round, height));
        Vote { block, round, height, replica, signature }
    }
}

/// A replica gave up on `round`; carries its highest certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeout {
    /// The round given up.
    pub round: u64,
    /// The sender's highest quorum certificate.
    pub high_qc: QuorumCert,
    /// Who.
    pub replica: ReplicaIndex,
    /// Signature over `(round, high_qc.round)`.
    pub signature: Signature,
}

impl Timeout {
    /// What a timeout signs.
    pub fn signed_bytes(round: u64, high_qc_round: u64) -> Vec<u8> {
        encode(&(round, high_qc_round))
    }

    /// Build and sign.
    pub fn new(round: u64, high_qc: QuorumCert, replica: ReplicaIndex, key: &Keypair) -> Self {
        let signature = key.sign(domain::TIMEOUT, &Self::signed_bytes(round, high_qc.round));
        Timeout { round, high_qc, replica, signature }
    }

    /// Check the signature (the certificate inside is checked by the caller).
    pub fn verify(&self, committee: &ShardCommittee) -> Result<(), Invalid> {
        if self.high_qc.round >= self.round {
            return Err(Invalid::Proof("timeout's certificate not below its round"));
        }
        let key = committee.key(self.replica).ok_or(Invalid::UnknownReplica(self.replica))?;
        let bytes = Self::signed_bytes(self.round, self.high_qc.round);
        if !key.verify(domain::TIMEOUT, &bytes, &self.signature) {
            return Err(Invalid::Signature("timeout"));
        }
        Ok(())
    }
}

/// A quorum of timeouts for one round: the round may be left without a block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeoutCert {
    /// The round given up.
    pub round: u64,
    /// `(replica, round of its high QC, signature)`.
    pub timeouts: Vec<(ReplicaIndex, u64, Signature)>,
}

impl TimeoutCert {
    /// The highest certificate round any signer reported: a proposal after this
    /// certificate must extend a certificate at least that high.
    pub fn max_high_qc_round(&self) -> u64 {
        self.timeouts.iter().map(|t| t.1).max().unwrap_or(0)
    }

    /// Check a quorum of distinct members signed it (one batch verification).
    pub fn verify(&self, committee: &ShardCommittee) -> Result<(), Invalid> {
        let bytes: Vec<Vec<u8>> =
            self.timeouts.iter().map(|t| Timeout::signed_bytes(self.round, t.1)).collect();
        let mut seen = Vec::with_capacity(self.timeouts.len());
        let mut items = Vec::with_capacity(self.timeouts.len());
        for ((r, hq, s), b) in self.timeouts.iter().zip(&bytes) {
            if seen.contains(r) || *hq >= self.round {
                return Err(Invalid::Proof("malformed timeout certificate"));
            }
            seen.push(*r);
            let key = committee.key(*r).ok_or(Invalid::UnknownReplica(*r))?;
            items.push((*key, b.as_slice(), *s));
        }
        if seen.len() < committee.quorum() {
            return Err(Invalid::Proof("timeout certificate below quorum"));
        }
        if !verify_batch(domain::TIMEOUT, &items) {
            return Err(Invalid::Signature("timeout"));
        }
        Ok(())
    }
}

/// A replica's progress, for peers to tell whether it is behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Its round.
    pub round: u64,
    /// Its last committed height.
    pub committed: u64,
    /// The round of its highest certificate.
    pub high_qc_round: u64,
}

/// The certificates a replica that is behind needs to catch up on rounds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncInfo {
    /// The sender's highest quorum certificate.
    pub high_qc: QuorumCert,
    /// The certificate that completed the three-chain of its last commit: a replica that
    /// missed it may hold the blocks yet never see another certificate commit them
    /// (a later certificate need not form a three-chain of consecutive rounds).
    pub commit_qc: QuorumCert,
    /// Its latest timeout certificate.
    pub tc: Option<TimeoutCert>,
}

/// Ask for the block `digest` and its ancestors above height `committed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRequest {
    /// The block wanted.
    pub digest: Digest,
    /// The requester's committed height: ancestors at or below it are not needed.
    pub committed: u64,
}

/// A replica's state digest after height `height` (PBFT's checkpoints, section 4.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The committed height.
    pub height: u64,
    /// Digest of the snapshot at `height`.
    pub state: Digest,
    /// Who vouches for it.
    pub replica: ReplicaIndex,
    /// Signature over `(height, state, replica)`.
    pub signature: Signature,
}

impl Checkpoint {
    /// Build and sign.
    pub fn new(height: u64, state: Digest, replica: ReplicaIndex, key: &Keypair) -> Self {
        let signature = key.sign(domain::CHECKPOINT, &encode(&(height, state, replica)));
        Checkpoint { height, state, replica, signature }
    }

    /// The signed bytes.
    pub fn signed_bytes(&self) -> Vec<u8> {
        encode(&(self.height, self.state, self.replica))
    }
}

/// A stable checkpoint's proof: a quorum of matching signed checkpoints.
pub fn verify_checkpoint_proof(
    committee: &ShardCommittee,
    height: u64,
    state: Digest,
    proof: &[Checkpoint],
) -> Result<(), Invalid> {
    let mut seen = Vec::with_capacity(proof.len());
    let mut items = Vec::with_capacity(proof.len());
    let bytes: Vec<Vec<u8>> = proof.iter().map(Checkpoint::signed_bytes).collect();
    for (c, b) in proof.iter().zip(&bytes) {
        if c.height != height || c.state != state {
            return Err(Invalid::Proof("checkpoint proof mixes checkpoints"));
        }
        if seen.contains(&c.replica) {
            return Err(Invalid::Proof("checkpoint proof repeats a replica"));
        }
        seen.push(c.replica);
        let key = committee.key(c.replica).ok_or(Invalid::UnknownReplica(c.replica))?;
        items.push((*key, b.as_slice(), c.signature));
    }
    if seen.len() < committee.quorum() {
        return Err(Invalid::Proof("checkpoint proof below quorum"));
    }
    if !verify_batch(domain::CHECKPOINT, &items) {
        return Err(Invalid::Signature("checkpoint"));
    }
    Ok(())
}

/// A stable checkpoint with its snapshot, for a replica behind the sender's collected log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateReply {
    /// The checkpoint's height.
    pub height: u64,
    /// Its quorum proof.
    pub proof: Vec<Checkpoint>,
    /// The snapshot, encoded (see `sync::HotStuffSnapshot`): the application's chunks,
    /// the dedup window and the committed block, whose digest is the checkpoint's state.
    pub snapshot: Vec<u8>,
}

/// Every HotStuff message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// Client commands forwarded to the leader by a replica whose commands wait too long.
    Request(Vec<Command>),
    /// A leader's block.
    Proposal(Proposal),
    /// A vote, sent to every replica so that any of them can form the certificate.
    Vote(Vote),
    /// A replica gave up on a round.
    Timeout(Timeout),
    /// Certificates for a replica that is behind.
    Sync(SyncInfo),
    /// "This is how far I am".
    Status(Status),
    /// Ask for missing blocks.
    BlockRequest(BlockRequest),
    /// Blocks asked for, newest first.
    Blocks(Vec<Block>),
    /// A signed checkpoint.
    Checkpoint(Checkpoint),
    /// A stable checkpoint and its snapshot.
    StateReply(StateReply),
    /// A leader's block naming its commands by digest (appended: earlier variants keep
    /// their wire tags).
    ProposalDigests(DigestProposal),
    /// Ask the leader for the full proposal of a [`DigestProposal`].
    FetchProposal(FetchProposal),
}

impl ProtocolMessage for Message {
    fn kind(&self) -> &'static str {
        match self {
            Message::Request(_) => "Request",
            Message::Proposal(_) => "Proposal",
            Message::Vote(_) => "Vote",
            Message::Timeout(_) => "Timeout",
            Message::Sync(_) => "Sync",
            Message::Status(_) => "Status",
            Message::BlockRequest(_) => "BlockRequest",
            Message::Blocks(_) => "Blocks",
            Message::Checkpoint(_) => "Checkpoint",
            Message::StateReply(_) => "StateReply",
            Message::ProposalDigests(_) => "ProposalDigests",
            Message::FetchProposal(_) => "FetchProposal",
        }
    }

    fn trace_fields(&self) -> String {
        match self {
            Message::Request(b) => format!("({} commands)", b.len()),
            Message::Proposal(p) => format!(
                "r={} h={} d={} qc=r{}{} ({} commands)",
                p.block.round,
                p.block.height,
                p.block.digest().short(),
                p.block.justify.round,
                p.tc.as_ref().map(|t| format!(" tc=r{}", t.round)).unwrap_or_default(),
                p.block.payload.len()
            ),
            Message::Vote(v) => format!("r={} h={} d={}", v.round, v.height, v.block.short()),
            Message::Timeout(t) => format!("r={} qc=r{}", t.round, t.high_qc.round),
            Message::Sync(s) => format!(
                "qc=r{} commit-qc=r{}{}",
                s.high_qc.round,
                s.commit_qc.round,
                s.tc.as_ref().map(|t| format!(" tc=r{}", t.round)).unwrap_or_default()
            ),
            Message::Status(s) => {
                format!("r={} committed={} qc=r{}", s.round, s.committed, s.high_qc_round)
            }
            Message::BlockRequest(r) => format!("d={} above={}", r.digest.short(), r.committed),
            Message::Blocks(b) => format!("({} blocks)", b.len()),
            Message::Checkpoint(c) => format!("h={} state={}", c.height, c.state.short()),
            Message::StateReply(s) => format!("h={} ({} bytes)", s.height, s.snapshot.len()),
            Message::ProposalDigests(p) => format!(
                "r={} h={} d={} qc=r{}{} ({} commands)",
                p.round,
                p.height,
                p.block_digest().short(),
                p.justify.round,
                p.tc.as_ref().map(|t| format!(" tc=r{}", t.round)).unwrap_or_default(),
                p.commands.len()
            ),
            Message::FetchProposal(f) => format!("r={} d={}", f.round, f.block.short()),
        }
    }
}
