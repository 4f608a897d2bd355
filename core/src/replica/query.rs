//! Reads: a client asks a replica for an object or for what became of a transaction,
//! and the replica answers from its state without ordering anything.
//!
//! One replica's answer is only its own word: a client that must not be misled by a
//! Byzantine replica asks every replica of the shard and takes an answer given by
//! `f + 1` of them (see [`Answer::agrees`]). A replica that lags its shard answers from
//! older state; asking again later, or waiting for `f + 1` matching answers, handles it.

use serde::{Deserialize, Serialize};

use super::{Addr, Replica, ReplicaAction, ReplicaMessage, ReplicaOut};
use crate::consensus::Consensus;
use crate::object::{Object, ObjectId};
use crate::sbac::engine::TxRecord;
use crate::transaction::TxId;
use crate::types::ShardId;

/// What a client asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// Chosen by the client to match answers to questions.
    pub id: u64,
    /// What it wants to know.
    pub about: Subject,
}

/// The subject of a [`Query`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subject {
    /// An object: its value and status.
    Object(ObjectId),
    /// A transaction: this shard's record of it.
    Transaction(TxId),
}

/// A replica's answer to a [`Query`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The query's `id`.
    pub id: u64,
    /// The shard of the replica that answers.
    pub shard: ShardId,
    /// What it knows.
    pub body: AnswerBody,
}

/// The content of an [`Answer`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnswerBody {
    /// The object, if this replica's store holds it.
    Object(ObjectId, Option<Object>),
    /// The shard's record of the transaction, if it has one.
    Transaction(TxId, Option<TxRecord>),
    /// The replica could not read its store.
    Unavailable,
}

impl Answer {
    /// Whether two answers say the same thing (for counting `f + 1` of them).
    pub fn agrees(&self, other: &Answer) -> bool {
        self.shard == other.shard && self.body == other.body
    }
}

impl<C: Consensus> Replica<C> {
    /// Answer a client's read. Replicas do not query each other.
    pub(super) fn on_query(&mut self, from: Addr, q: Query, out: &mut ReplicaOut<C>) {
        if matches!(from, Addr::Replica(_)) {
            self.stats.misdirected_messages += 1;
            return;
        }
        let body = match q.about {
            Subject::Object(id) => match self.engine.store().get(&id) {
                Ok(o) => AnswerBody::Object(id, o),
                Err(_) => {
                    self.stats.store_errors += 1;
                    AnswerBody::Unavailable
                }
            },
            Subject::Transaction(tx) => {
                AnswerBody::Transaction(tx, self.engine.record(&tx).cloned())
            }
        };
        let answer = Answer { id: q.id, shard: self.id.shard, body };
        out.push(ReplicaAction::Send { to: from, msg: ReplicaMessage::Answer(answer) });
    }
}
