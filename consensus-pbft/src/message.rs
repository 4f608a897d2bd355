//! PBFT's messages (Castro and Liskov, OSDI 1999, sections 4.2-4.4) and their checks.
//!
//! The transport authenticates who sent each message, which replaces the MACs of the
//! original protocol for everything used once. What must convince a *third* replica
//! later — the pre-prepares and prepares of a prepared certificate, checkpoints, and
//! view-change messages — is signed with ed25519, as in the signature variant of PBFT
//! and in BFT-SMaRt's synchronisation phase. Commits are never forwarded and carry no
//! signature.

use chainspace_core::committee::ShardCommittee;
use chainspace_core::consensus::ProtocolMessage;
use chainspace_core::crypto::{Digest, Keypair, Signature, digest_of_digests, verify_batch};
use chainspace_core::types::{Command, ReplicaIndex};
use serde::{Deserialize, Serialize};

use crate::error::Invalid;

/// Signature domains: a signature made for one message kind never verifies as another.
pub(crate) mod domain {
    pub const PRE_PREPARE: &[u8] = b"chainspace/pbft/pre-prepare";
    pub const PREPARE: &[u8] = b"chainspace/pbft/prepare";
    pub const CHECKPOINT: &[u8] = b"chainspace/pbft/checkpoint";
    pub const VIEW_CHANGE: &[u8] = b"chainspace/pbft/view-change";
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

/// The digest of a batch: what pre-prepares, prepares and commits agree on. It covers the
/// commands' digests (each a SHA-256 of the command's bytes, computed once when the
/// command is built or decoded), not their bytes again.
pub fn batch_digest(batch: &[Command]) -> Digest {
    digest_of_digests(batch.iter().map(Command::digest))
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("encoding to a Vec cannot fail")
}

/// The primary of `view` in a shard of `n`: round robin, as in PBFT and BFT-SMaRt.
pub fn primary(view: u64, n: usize) -> ReplicaIndex {
    (view % n as u64) as ReplicaIndex
}

/// The primary assigns sequence number `seq` to `batch` in `view`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrePrepare {
    /// View.
    pub view: u64,
    /// Sequence number.
    pub seq: u64,
    /// `batch_digest(batch)`.
    pub digest: Digest,
    /// The requests; empty for a null request chosen in a view change.
    pub batch: Vec<Command>,
    /// The primary's signature over `(view, seq, digest)`.
    pub signature: Signature,
}

impl PrePrepare {
    /// Build and sign.
    pub fn new(view: u64, seq: u64, batch: Vec<Command>, key: &Keypair) -> Self {
        let digest = batch_digest(&batch);
        let signature = key.sign(domain::PRE_PREPARE, &encode(&(view, seq, digest)));
        PrePrepare { view, seq, digest, batch, signature }
    }

    /// The signed bytes.
    pub fn signed_bytes(&self) -> Vec<u8> {
        encode(&(self.view, self.seq, self.digest))
    }

    /// Check the digest and the primary's signature.
    pub fn verify(&self, committee: &ShardCommittee, limits: BatchLimits) -> Result<(), Invalid> {
        limits.check(&self.batch)?;
        if batch_digest(&self.batch) != self.digest {
            return Err(Invalid::Digest);
        }
        let p = primary(self.view, committee.n());
        let key = committee.key(p).ok_or(Invalid::UnknownReplica(p))?;
        if !key.verify(domain::PRE_PREPARE, &self.signed_bytes(), &self.signature) {
            return Err(Invalid::Signature("pre-prepare"));
        }
        Ok(())
    }
}

impl PrePrepare {
    /// The same pre-prepare naming its requests by digest, for backups that received the
    /// requests from the clients (see [`DigestPrePrepare`]).
    pub fn by_digest(&self) -> DigestPrePrepare {
        DigestPrePrepare {
            view: self.view,
            seq: self.seq,
            digest: self.digest,
            requests: self.batch.iter().map(Command::digest).collect(),
            signature: self.signature,
        }
    }
}

/// A pre-prepare that names its requests by digest instead of carrying them: PBFT's
/// separate request transmission (Castro, PhD thesis, section 5.1.1). Clients send each
/// request to every replica, so the backups already hold the bytes; sending them again
/// inside the pre-prepare would carry every command over the network a second time. The
/// primary signs the same `(view, seq, digest)` as for the full [`PrePrepare`] (the batch
/// digest is over the commands' digests), so a backup that holds every request rebuilds
/// exactly the pre-prepare the primary signed, and one that lacks any asks the primary for
/// it ([`FetchPrePrepare`]). A backup prepares only once it holds the whole batch, so a
/// prepared batch is held by at least `f + 1` correct replicas, as with full pre-prepares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestPrePrepare {
    /// View.
    pub view: u64,
    /// Sequence number.
    pub seq: u64,
    /// `batch_digest` of the requests: `digest_of_digests(requests)`.
    pub digest: Digest,
    /// The requests' digests, in batch order.
    pub requests: Vec<Digest>,
    /// The primary's signature over `(view, seq, digest)`, as in [`PrePrepare`].
    pub signature: Signature,
}

impl DigestPrePrepare {
    /// The checks that need no request bytes: the batch's length and its digest. The
    /// signature (and the byte limit) are checked on the rebuilt [`PrePrepare`].
    pub fn check(&self, limits: BatchLimits) -> Result<(), Invalid> {
        if self.requests.len() > limits.max_batch {
            return Err(Invalid::BatchTooLarge { len: self.requests.len(), max: limits.max_batch });
        }
        if digest_of_digests(self.requests.iter().copied()) != self.digest {
            return Err(Invalid::Digest);
        }
        Ok(())
    }

    /// The full pre-prepare, given the batch's commands in order.
    pub fn with_batch(self, batch: Vec<Command>) -> PrePrepare {
        PrePrepare {
            view: self.view,
            seq: self.seq,
            digest: self.digest,
            batch,
            signature: self.signature,
        }
    }
}

/// A backup lacks some requests of the primary's pre-prepare `(view, seq)` and asks the
/// primary for the full [`PrePrepare`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchPrePrepare {
    /// View.
    pub view: u64,
    /// Sequence number.
    pub seq: u64,
}

/// A backup accepted the pre-prepare `(view, seq, digest)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepare {
    /// View.
    pub view: u64,
    /// Sequence number.
    pub seq: u64,
    /// Batch digest.
    pub digest: Digest,
    /// Who prepares.
    pub replica: ReplicaIndex,
    /// Signature over `(view, seq, digest, replica)`.
    pub signature: Signature,
}

impl Prepare {
    /// Build and sign.
    pub fn new(view: u64, seq: u64, digest: Digest, replica: ReplicaIndex, key: &Keypair) -> Self {
        let signature = key.sign(domain::PREPARE, &encode(&(view, seq, digest, replica)));
        Prepare { view, seq, digest, replica, signature }
    }

    /// The signed bytes.
    pub fn signed_bytes(&self) -> Vec<u8> {
        encode(&(self.view, self.seq, self.digest, self.replica))
    }
}

/// A replica is prepared for `(view, seq, digest)` and commits to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    /// View.
    pub view: u64,
    /// Sequence number.
    pub seq: u64,
    /// Batch digest.
    pub digest: Digest,
}

/// A replica's state digest after sequence `seq` (section 4.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Sequence number of the checkpoint.
    pub seq: u64,
    /// Digest of the snapshot at `seq`.
    pub state: Digest,
    /// Who vouches for it.
    pub replica: ReplicaIndex,
    /// Signature over `(seq, state, replica)`.
    pub signature: Signature,
}

impl Checkpoint {
    /// Build and sign.
    pub fn new(seq: u64, state: Digest, replica: ReplicaIndex, key: &Keypair) -> Self {
        let signature = key.sign(domain::CHECKPOINT, &encode(&(seq, state, replica)));
        Checkpoint { seq, state, replica, signature }
    }

    /// The signed bytes.
    pub fn signed_bytes(&self) -> Vec<u8> {
        encode(&(self.seq, self.state, self.replica))
    }
}

/// A stable checkpoint's proof: a quorum of matching signed checkpoints. Sequence 0 (the
/// initial state) needs no proof.
pub fn verify_checkpoint_proof(
    committee: &ShardCommittee,
    seq: u64,
    state: Digest,
    proof: &[Checkpoint],
) -> Result<(), Invalid> {
    if seq == 0 {
        return Ok(());
    }
    let mut seen = Vec::with_capacity(proof.len());
    let mut items = Vec::with_capacity(proof.len());
    let bytes: Vec<Vec<u8>> = proof.iter().map(Checkpoint::signed_bytes).collect();
    for (c, b) in proof.iter().zip(&bytes) {
        if c.seq != seq || c.state != state {
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

/// A prepared certificate: a pre-prepare and `quorum - 1` matching prepares from distinct
/// backups. It proves that no other batch can have committed at `seq` in `view`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedProof {
    /// The pre-prepare (carries view, sequence number, digest and the batch itself).
    pub pre_prepare: PrePrepare,
    /// The prepares.
    pub prepares: Vec<Prepare>,
}

impl PreparedProof {
    /// Check the certificate completely (batch digest, every signature, distinct backups).
    pub fn verify(&self, committee: &ShardCommittee, limits: BatchLimits) -> Result<(), Invalid> {
        let pp = &self.pre_prepare;
        pp.verify(committee, limits)?;
        let p = primary(pp.view, committee.n());
        let mut seen = Vec::with_capacity(self.prepares.len());
        let bytes: Vec<Vec<u8>> = self.prepares.iter().map(Prepare::signed_bytes).collect();
        let mut items = Vec::with_capacity(self.prepares.len());
        for (x, b) in self.prepares.iter().zip(&bytes) {
            if (x.view, x.seq, x.digest) != (pp.view, pp.seq, pp.digest) {
                return Err(Invalid::Proof("prepare does not match its pre-prepare"));
            }
            if x.replica == p || seen.contains(&x.replica) {
                return Err(Invalid::Proof("prepares must come from distinct backups"));
            }
            seen.push(x.replica);
            let key = committee.key(x.replica).ok_or(Invalid::UnknownReplica(x.replica))?;
            items.push((*key, b.as_slice(), x.signature));
        }
        if seen.len() + 1 < committee.quorum() {
            return Err(Invalid::Proof("prepared certificate below quorum"));
        }
        if !verify_batch(domain::PREPARE, &items) {
            return Err(Invalid::Signature("prepare"));
        }
        Ok(())
    }
}

/// A replica's request to move to `new_view` (section 4.4), with what it knows: its
/// stable checkpoint with proof, and a prepared certificate for every sequence number
/// above it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewChange {
    /// The view the replica wants to move to.
    pub new_view: u64,
    /// Its stable checkpoint.
    pub stable_seq: u64,
    /// The state digest of that checkpoint.
    pub stable_state: Digest,
    /// The checkpoint's proof.
    pub checkpoint_proof: Vec<Checkpoint>,
    /// Its prepared certificates above `stable_seq`, at most one per sequence number.
    pub prepared: Vec<PreparedProof>,
    /// Who sends it.
    pub replica: ReplicaIndex,
    /// Signature over all the claims above.
    pub signature: Signature,
}

/// What a view-change signature covers. The certificates inside are signed by their own
/// authors; this binds the sender to its claims about them.
fn view_change_claims(
    new_view: u64,
    stable_seq: u64,
    stable_state: Digest,
    prepared: &[PreparedProof],
    replica: ReplicaIndex,
) -> Vec<u8> {
    let cert_ids: Vec<(u64, u64, Digest)> = prepared
        .iter()
        .map(|p| (p.pre_prepare.seq, p.pre_prepare.view, p.pre_prepare.digest))
        .collect();
    encode(&(new_view, stable_seq, stable_state, cert_ids, replica))
}

impl ViewChange {
    /// Build and sign.
    pub fn new(
        new_view: u64,
        stable: (u64, Digest, Vec<Checkpoint>),
        prepared: Vec<PreparedProof>,
        replica: ReplicaIndex,
        key: &Keypair,
    ) -> Self {
        let (stable_seq, stable_state, checkpoint_proof) = stable;
        let claims = view_change_claims(new_view, stable_seq, stable_state, &prepared, replica);
        let signature = key.sign(domain::VIEW_CHANGE, &claims);
        ViewChange {
            new_view,
            stable_seq,
            stable_state,
            checkpoint_proof,
            prepared,
            replica,
            signature,
        }
    }

    /// Check everything: the signature, the checkpoint proof, and each certificate (for a
    /// view below `new_view`, above the checkpoint, within the window, one per sequence).
    pub fn verify(
        &self,
        committee: &ShardCommittee,
        limits: BatchLimits,
        window: u64,
    ) -> Result<(), Invalid> {
        let key = committee.key(self.replica).ok_or(Invalid::UnknownReplica(self.replica))?;
        let claims = view_change_claims(
            self.new_view,
            self.stable_seq,
            self.stable_state,
            &self.prepared,
            self.replica,
        );
        if !key.verify(domain::VIEW_CHANGE, &claims, &self.signature) {
            return Err(Invalid::Signature("view-change"));
        }
        verify_checkpoint_proof(
            committee,
            self.stable_seq,
            self.stable_state,
            &self.checkpoint_proof,
        )?;
        let mut last = self.stable_seq;
        for p in &self.prepared {
            let pp = &p.pre_prepare;
            if pp.seq <= last || pp.seq > self.stable_seq + window {
                return Err(Invalid::Proof("certificates out of order or out of window"));
            }
            if pp.view >= self.new_view {
                return Err(Invalid::Proof("certificate from a view not below the new view"));
            }
            last = pp.seq;
            p.verify(committee, limits)?;
        }
        Ok(())
    }
}

/// The new primary's announcement of `view` (section 4.4): a quorum of view changes, and
/// the pre-prepares it derives from them, which every backup recomputes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewView {
    /// The new view.
    pub view: u64,
    /// A quorum of view changes for `view`, from distinct replicas.
    pub view_changes: Vec<ViewChange>,
    /// The pre-prepares for the sequence numbers between the highest stable checkpoint
    /// and the highest prepared certificate in `view_changes`.
    pub pre_prepares: Vec<PrePrepare>,
}

/// A replica's progress, sent when it suspects it is behind; peers answer with what it
/// is missing (decided batches, a snapshot, or the new-view message of a later view).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The sender's installed view.
    pub view: u64,
    /// The last sequence number it executed.
    pub last_executed: u64,
}

/// A batch the sender executed at `seq`. A replica that is behind accepts it once `f + 1`
/// replicas sent the same one: at least one of them is correct.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decided {
    /// Sequence number.
    pub seq: u64,
    /// The batch as executed.
    pub batch: Vec<Command>,
}

/// The sender's stable checkpoint with its proof and the snapshot itself, for a replica
/// that is behind the sender's garbage-collected log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateReply {
    /// The checkpoint's sequence number.
    pub seq: u64,
    /// The quorum proof of the checkpoint.
    pub proof: Vec<Checkpoint>,
    /// The snapshot, encoded (see `checkpoint::PbftSnapshot`): the application's
    /// chunks and the dedup window, whose digest is the checkpoint's state digest.
    pub snapshot: Vec<u8>,
}

/// Every PBFT message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// Client requests forwarded to the primary by a backup whose requests wait too long.
    Request(Vec<Command>),
    /// Section 4.2.
    PrePrepare(PrePrepare),
    /// Section 4.2.
    Prepare(Prepare),
    /// Section 4.2.
    Commit(Commit),
    /// Section 4.3.
    Checkpoint(Checkpoint),
    /// Section 4.4.
    ViewChange(ViewChange),
    /// Section 4.4.
    NewView(NewView),
    /// Catch-up: "this is how far I am".
    Status(Status),
    /// Catch-up: a decided batch.
    Decided(Decided),
    /// Catch-up: a stable checkpoint and its snapshot.
    StateReply(StateReply),
    /// Section 4.2, with requests named by digest (sent instead of `PrePrepare` when
    /// `PbftConfig::request_digests` is set).
    PrePrepareDigests(DigestPrePrepare),
    /// A backup asks the primary for a full pre-prepare whose requests it lacks.
    FetchPrePrepare(FetchPrePrepare),
}

impl ProtocolMessage for Message {
    fn kind(&self) -> &'static str {
        match self {
            Message::Request(_) => "Request",
            Message::PrePrepare(_) => "PrePrepare",
            Message::Prepare(_) => "Prepare",
            Message::Commit(_) => "Commit",
            Message::Checkpoint(_) => "Checkpoint",
            Message::ViewChange(_) => "ViewChange",
            Message::NewView(_) => "NewView",
            Message::Status(_) => "Status",
            Message::Decided(_) => "Decided",
            Message::StateReply(_) => "StateReply",
            Message::PrePrepareDigests(_) => "PrePrepareDigests",
            Message::FetchPrePrepare(_) => "FetchPrePrepare",
        }
    }

    fn trace_fields(&self) -> String {
        match self {
            Message::Request(b) => format!("({} commands)", b.len()),
            Message::PrePrepare(m) => {
                format!(
                    "v={} n={} d={} ({} commands)",
                    m.view,
                    m.seq,
                    m.digest.short(),
                    m.batch.len()
                )
            }
            Message::Prepare(m) => format!("v={} n={} d={}", m.view, m.seq, m.digest.short()),
            Message::Commit(m) => format!("v={} n={} d={}", m.view, m.seq, m.digest.short()),
            Message::Checkpoint(m) => format!("n={} state={}", m.seq, m.state.short()),
            Message::ViewChange(m) => format!(
                "v={} stable={} prepared={:?}",
                m.new_view,
                m.stable_seq,
                m.prepared.iter().map(|p| p.pre_prepare.seq).collect::<Vec<_>>()
            ),
            Message::NewView(m) => format!(
                "v={} from={:?} pre-prepares={:?}",
                m.view,
                m.view_changes.iter().map(|v| v.replica).collect::<Vec<_>>(),
                m.pre_prepares.iter().map(|p| p.seq).collect::<Vec<_>>()
            ),
            Message::Status(m) => format!("v={} executed={}", m.view, m.last_executed),
            Message::Decided(m) => format!("n={} ({} commands)", m.seq, m.batch.len()),
            Message::StateReply(m) => format!("n={} ({} bytes)", m.seq, m.snapshot.len()),
            Message::PrePrepareDigests(m) => format!(
                "v={} n={} d={} ({} digests)",
                m.view,
                m.seq,
                m.digest.short(),
                m.requests.len()
            ),
            Message::FetchPrePrepare(m) => format!("v={} n={}", m.view, m.seq),
        }
    }
}
