//! The client's reads, as a small state machine of their own: which queries are open, what
//! each replica of the asked shard last answered, and when `f + 1` of those answers agree.
//!
//! One replica's answer is only its word (a Byzantine replica may lie, a lagging one
//! answers from old state), so a read asks every replica of the shard and resolves with
//! an answer that `f + 1` of them give: at least one of those is correct, so the value was
//! really the shard's at some point (core `replica::query`). Only each replica's latest
//! answer counts, so that re-asking while the shard moves on (an object going from active
//! to inactive) converges on the new state instead of mixing old and new answers.

use std::collections::{BTreeMap, HashMap};

use chainspace_core::replica::{Answer, AnswerBody, Query, Subject};
use chainspace_core::types::{ReplicaId, ShardId};
use tokio::sync::oneshot;

/// One open read.
struct OpenRead {
    /// The shard asked; answers from any other are ignored.
    shard: ShardId,
    /// What was asked, to re-send and to check that answers are about it.
    subject: Subject,
    /// `f + 1` of the shard.
    need: usize,
    /// Each replica's latest answer, by index.
    answers: BTreeMap<u32, AnswerBody>,
    /// Who waits for the result.
    reply: oneshot::Sender<AnswerBody>,
}

/// The open reads of one client.
#[derive(Default)]
pub(crate) struct Reads {
    /// The next query id: ids are never reused, so a late answer to a finished read cannot
    /// count towards another.
    next_id: u64,
    open: HashMap<u64, OpenRead>,
}

impl Reads {
    /// Open a read of `subject` on `shard`, resolved when `need` replicas agree. Returns the
    /// query to send to every replica of the shard.
    pub(crate) fn open(
        &mut self,
        subject: Subject,
        shard: ShardId,
        need: usize,
        reply: oneshot::Sender<AnswerBody>,
    ) -> Query {
        let id = self.next_id;
        self.next_id += 1;
        let read = OpenRead { shard, subject, need, answers: BTreeMap::new(), reply };
        self.open.insert(id, read);
        Query { id, about: subject }
    }

    /// Take `from`'s answer. Returns whether it resolved its read.
    pub(crate) fn on_answer(&mut self, from: ReplicaId, answer: Answer) -> bool {
        let Some(read) = self.open.get_mut(&answer.id) else { return false };
        let about_it = match (&answer.body, read.subject) {
            (AnswerBody::Object(id, _), Subject::Object(asked)) => *id == asked,
            (AnswerBody::Transaction(tx, _), Subject::Transaction(asked)) => *tx == asked,
            (AnswerBody::Unavailable, _) => true,
            _ => false,
        };
        if from.shard != read.shard || answer.shard != read.shard || !about_it {
            return false;
        }
        read.answers.insert(from.index, answer.body.clone());
        // "I could not read my store" is no statement about the object, however many say it.
        if answer.body == AnswerBody::Unavailable
            || read.answers.values().filter(|b| **b == answer.body).count() < read.need
        {
            return false;
        }
        if let Some(read) = self.open.remove(&answer.id) {
            let _ = read.reply.send(answer.body);
        }
        true
    }

    /// The query to send again for read `id` and the shard to send it to, or `None` if the
    /// read is over or its caller stopped waiting (then it is dropped).
    pub(crate) fn retry(&mut self, id: u64) -> Option<(ShardId, Query)> {
        let read = self.open.get(&id)?;
        if read.reply.is_closed() {
            self.open.remove(&id);
            return None;
        }
        Some((read.shard, Query { id, about: read.subject }))
    }

    /// How many reads are open.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainspace_core::object::{Object, ObjectId, ObjectStatus};

    fn from(index: u32) -> ReplicaId {
        ReplicaId { shard: ShardId(1), index }
    }

    fn object(status: ObjectStatus) -> Object {
        Object { id: ObjectId::default(), value: "7".into(), status }
    }

    fn says(id: u64, o: Option<Object>) -> Answer {
        Answer { id, shard: ShardId(1), body: AnswerBody::Object(ObjectId::default(), o) }
    }

    #[test]
    fn a_read_resolves_on_f_plus_one_matching_latest_answers() {
        let mut reads = Reads::default();
        let (tx, mut rx) = oneshot::channel();
        let q = reads.open(Subject::Object(ObjectId::default()), ShardId(1), 2, tx);
        let active = Some(object(ObjectStatus::Active));
        let inactive = Some(object(ObjectStatus::Inactive));
        // Answers from another shard, to another query, or about another object: ignored.
        let other_shard = ReplicaId { shard: ShardId(0), index: 1 };
        assert!(!reads.on_answer(other_shard, says(q.id, active.clone())));
        assert!(!reads.on_answer(from(1), says(q.id + 1, active.clone())));
        let other =
            Answer { body: AnswerBody::Transaction(Default::default(), None), ..says(q.id, None) };
        assert!(!reads.on_answer(from(1), other));
        // Replica 0 said "active", then moved on to "inactive": only its latest counts,
        // so one more "active" is not two.
        assert!(!reads.on_answer(from(0), says(q.id, active.clone())));
        assert!(!reads.on_answer(from(0), says(q.id, inactive.clone())));
        assert!(!reads.on_answer(from(1), says(q.id, active)));
        // Two "unavailable" agree, yet say nothing.
        let unavailable = Answer { body: AnswerBody::Unavailable, ..says(q.id, None) };
        assert!(!reads.on_answer(from(2), unavailable.clone()));
        assert!(!reads.on_answer(from(3), unavailable));
        assert!(rx.try_recv().is_err());
        assert!(reads.on_answer(from(1), says(q.id, inactive.clone())));
        assert_eq!(rx.try_recv().ok(), Some(AnswerBody::Object(ObjectId::default(), inactive)));
        assert_eq!(reads.len(), 0);
        assert!(reads.retry(q.id).is_none(), "nothing to re-send once resolved");
    }

    #[test]
    fn a_read_nobody_waits_for_is_dropped_at_its_next_retry() {
        let mut reads = Reads::default();
        let (tx, rx) = oneshot::channel();
        let q = reads.open(Subject::Object(ObjectId::default()), ShardId(1), 2, tx);
        assert_eq!(reads.retry(q.id), Some((ShardId(1), q.clone())));
        drop(rx);
        assert_eq!(reads.retry(q.id), None);
        assert_eq!(reads.len(), 0);
    }
}
