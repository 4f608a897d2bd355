//! Byzantine replicas for the S-BAC suites and the experiments runner: interceptors that rewrite what a replica
//! sends, so it votes for the wrong decision, signs garbage, equivocates or stays silent,
//! while running the real protocol underneath.

use crate::consensus::ProtocolMessage;
use crate::crypto::{Keypair, Signature};
use crate::replica::{Addr, ReplicaMessage};
use crate::sbac::Vote;
use crate::sim::world::WorldInterceptor;

/// How a Byzantine replica misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Byzantine {
    /// Sends nothing at all.
    Silent,
    /// Votes the opposite of what its shard decided, with a valid signature.
    WrongVote,
    /// Votes with a signature that verifies under no key.
    GarbageSignature,
    /// Votes commit to some replicas and abort to others, both validly signed.
    Equivocate,
}

fn resign(v: &Vote, commit: bool, key: &Keypair) -> Vote {
    Vote::new(v.tx, v.instance, v.shard, v.replica, commit, v.reason.clone(), key)
}

/// The interceptor for a replica holding `key` that misbehaves as `how`.
pub fn interceptor<M: ProtocolMessage>(how: Byzantine, key: Keypair) -> WorldInterceptor<M> {
    Box::new(move |to: Addr, msg: ReplicaMessage<M>| match (how, msg) {
        (Byzantine::Silent, _) => vec![],
        (Byzantine::WrongVote, ReplicaMessage::Vote(mut m)) => {
            m.vote = resign(&m.vote, !m.vote.commit, &key);
            vec![ReplicaMessage::Vote(m)]
        }
        (Byzantine::GarbageSignature, ReplicaMessage::Vote(mut m)) => {
            m.vote.signature = Signature([0x5a; 64]);
            vec![ReplicaMessage::Vote(m)]
        }
        (Byzantine::Equivocate, ReplicaMessage::Vote(mut m)) => {
            let odd = match to {
                Addr::Replica(r) => r.index % 2 == 1,
                Addr::Client(c) => c % 2 == 1,
            };
            m.vote = resign(&m.vote, odd, &key);
            vec![ReplicaMessage::Vote(m)]
        }
        (_, other) => vec![other],
    })
}
