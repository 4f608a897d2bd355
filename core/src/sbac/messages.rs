//! S-BAC's messages: what shards order, the votes they exchange, and what clients hear.
//!
//! Every vote and certificate is bound to one transaction, one *instance* (attempt) of
//! it, one shard and one decision, and the signature covers all four under its own
//! domain. A vote recorded in an earlier attempt therefore never counts in a later one:
//! this is the defence against the replay attacks of Sonnino, Bano, Al-Bassam and
//! Danezis (EuroS&P 2020), where an attacker who only records and re-sends messages makes
//! one shard commit while another aborts, or keeps objects locked.

use serde::{Deserialize, Serialize};

use crate::committee::Committee;
use crate::crypto::{Keypair, Signature, verify_batch};
use crate::error::Error;
use crate::transaction::{Transaction, TransactionRequest, TxId};
use crate::types::{ReplicaIndex, ShardId};

const VOTE_DOMAIN: &[u8] = b"chainspace/sbac/prepared-vote";

/// What a client sends to the replicas of every concerned shard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// The transaction and the values the client claims for the objects it reads.
    pub request: TransactionRequest,
    /// Which attempt this is: 1 for the first, one more for each retry after an abort.
    pub instance: u64,
}

/// What a shard's consensus orders. Every state change of S-BAC happens when one of these
/// is delivered, so all correct replicas of a shard hold the same state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SbacCommand {
    /// Step 2 of S-BAC: check and lock this shard's inputs. For a transaction whose
    /// concerned and output shards are this shard alone, prepare and accept fuse.
    Prepare(Submission),
    /// Step 4 of S-BAC: apply the decision the certificates prove.
    Accept(Accept),
    /// A prepare ordered again: the first time, an older instance still held this
    /// shard's locks and it was put aside; now they are released. (Distinct bytes, so
    /// that consensus, which orders a command once, orders it again.)
    Reprepare(Submission),
    /// Not S-BAC: a command of the consensus-only workload ([`crate::order`]), ordered
    /// and reported, changing nothing.
    Order(crate::order::OrderRequest),
}

/// The index of [`SbacCommand::Order`] among the variants, as postcard writes it.
pub(crate) const ORDER_VARIANT: u32 = 3;

impl SbacCommand {
    /// The bytes consensus orders. Deterministic, so that replicas proposing the same
    /// command propose the same bytes and consensus orders it once.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("encoding to a Vec cannot fail")
    }

    /// Whether `bytes` decode as [`SbacCommand::Order`], checked without copying the
    /// payload out: exactly when [`SbacCommand::decode`] would give an `Order`.
    pub fn is_order(bytes: &[u8]) -> bool {
        /// `Order`'s fields, borrowed (postcard writes an enum as its variant's index, a
        /// varint, then the fields).
        #[derive(Deserialize)]
        struct OrderRef<'a> {
            _shard: crate::types::ShardId,
            #[serde(borrow)]
            _payload: &'a [u8],
        }
        matches!(postcard::from_bytes::<(u32, OrderRef)>(bytes), Ok((ORDER_VARIANT, _)))
    }

    /// Decode ordered bytes; a command that does not decode is ignored by every replica
    /// alike (a faulty proposer may order garbage).
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        postcard::from_bytes(bytes).map_err(|e| Error::InvalidJson {
            path: "command".into(),
            reason: format!("not an S-BAC command: {e}"),
        })
    }
}

/// The accept step: the transaction and one certificate per concerned shard (for a
/// commit), or at least one abort certificate (for an abort).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accept {
    /// The transaction (output-only shards never saw its prepare).
    pub transaction: Transaction,
    /// The attempt the certificates belong to.
    pub instance: u64,
    /// Shard certificates.
    pub certificates: Vec<ShardCertificate>,
}

/// One replica's signed prepared vote `(tx, instance, shard, commit)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// Transaction.
    pub tx: TxId,
    /// Attempt.
    pub instance: u64,
    /// The voter's shard.
    pub shard: ShardId,
    /// The voter's index in its shard.
    pub replica: ReplicaIndex,
    /// Commit (true) or abort (false).
    pub commit: bool,
    /// Why it aborted (not signed: for the client's information only).
    pub reason: Option<String>,
    /// Signature over `(tx, instance, shard, replica, commit)`.
    pub signature: Signature,
}

fn vote_bytes(
    tx: &TxId,
    instance: u64,
    shard: ShardId,
    replica: ReplicaIndex,
    commit: bool,
) -> Vec<u8> {
    postcard::to_allocvec(&(tx.0, instance, shard, replica, commit)).expect("encoding cannot fail")
}

impl Vote {
    /// Whether the signature is the voter's, for exactly these fields.
    pub fn verify(&self, committee: &Committee) -> bool {
        let Some(key) = committee.shard(self.shard).and_then(|s| s.key(self.replica)) else {
            return false;
        };
        let m = vote_bytes(&self.tx, self.instance, self.shard, self.replica, self.commit);
        key.verify(VOTE_DOMAIN, &m, &self.signature)
    }

    /// Sign a vote.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tx: TxId,
        instance: u64,
        shard: ShardId,
        replica: ReplicaIndex,
        commit: bool,
        reason: Option<String>,
        key: &Keypair,
    ) -> Self {
        let signature = key.sign(VOTE_DOMAIN, &vote_bytes(&tx, instance, shard, replica, commit));
        Vote { tx, instance, shard, replica, commit, reason, signature }
    }
}

/// A quorum of matching votes of one shard: that shard's prepared decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardCertificate {
    /// The shard.
    pub shard: ShardId,
    /// Its decision.
    pub commit: bool,
    /// Signers and signatures, by replica index.
    pub votes: Vec<(ReplicaIndex, Signature)>,
    /// An abort reason given by a voter, if any.
    pub reason: Option<String>,
}

impl ShardCertificate {
    /// Check the certificate for `(tx, instance)`: a quorum of distinct members of the
    /// shard, each signature valid (verified in one batch).
    pub fn verify(&self, committee: &Committee, tx: &TxId, instance: u64) -> Result<(), Error> {
        let bad = |reason: &str| Err(Error::InvalidCertificate { reason: reason.into() });
        let Some(shard) = committee.shard(self.shard) else {
            return bad("unknown shard");
        };
        let mut seen: Vec<ReplicaIndex> = self.votes.iter().map(|(r, _)| *r).collect();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != self.votes.len() {
            return bad("a replica signs twice");
        }
        if seen.len() < shard.quorum() {
            return bad("below quorum");
        }
        if !self.verify_signatures(committee, tx, instance) {
            return bad("bad signature");
        }
        Ok(())
    }

    /// Whether every signature is a valid vote of its replica for `(tx, instance)` and
    /// this certificate's shard and decision (verified in one batch).
    pub fn verify_signatures(&self, committee: &Committee, tx: &TxId, instance: u64) -> bool {
        let Some(shard) = committee.shard(self.shard) else { return false };
        let messages: Vec<Vec<u8>> = self
            .votes
            .iter()
            .map(|(r, _)| vote_bytes(tx, instance, self.shard, *r, self.commit))
            .collect();
        let mut items = Vec::with_capacity(self.votes.len());
        for ((r, sig), m) in self.votes.iter().zip(&messages) {
            let Some(key) = shard.key(*r) else { return false };
            items.push((*key, m.as_slice(), *sig));
        }
        verify_batch(VOTE_DOMAIN, &items)
    }
}

/// The outcome a replica reports to a submitter, with the original's names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Outcome {
    /// `accepted_t_commit`: inputs consumed, outputs created.
    Commit,
    /// `accepted_t_abort`: a concerned shard aborted; locks released everywhere.
    Abort(String),
    /// `prepared_t_abort`: a single-shard transaction rejected in its one step.
    PreparedAbort(String),
}

impl Outcome {
    /// The original's outcome string.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Commit => "accepted_t_commit",
            Outcome::Abort(_) => "accepted_t_abort",
            Outcome::PreparedAbort(_) => "prepared_t_abort",
        }
    }

    /// Why it aborted, if it did.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Commit => None,
            Outcome::Abort(r) | Outcome::PreparedAbort(r) => Some(r),
        }
    }
}

/// A replica's report of a transaction's outcome to its submitter. The submitter takes
/// the outcome once `f + 1` replicas of one shard report the same one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeReport {
    /// Transaction.
    pub tx: TxId,
    /// Attempt.
    pub instance: u64,
    /// The reporter's shard.
    pub shard: ShardId,
    /// The outcome.
    pub outcome: Outcome,
}
