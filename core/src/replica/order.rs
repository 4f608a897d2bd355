//! The replica's side of the consensus-only workload ([`crate::order`]): a client's
//! command is proposed to the shard's consensus and, once delivered, reported ordered to
//! the clients that sent it to this replica.

use super::*;
use crate::sbac::{Outcome, OutcomeReport};

/// How many ordered command IDs a replica remembers, to answer a client whose command
/// arrived after it was ordered (sent to every replica, it may reach a slow one late).
const RECENT: usize = 1 << 16;

/// Command IDs ordered lately, oldest first, bounded by [`RECENT`]. IDs are digests:
/// hashed as they are ([`DigestBuildHasher`]), not through SipHash again.
#[derive(Default)]
pub(super) struct Recent {
    order: VecDeque<TxId>,
    set: HashSet<TxId, DigestBuildHasher>,
}

impl Recent {
    fn insert(&mut self, id: TxId) {
        if self.set.insert(id) {
            self.order.push_back(id);
            if self.order.len() > RECENT
                && let Some(old) = self.order.pop_front()
            {
                self.set.remove(&old);
            }
        }
    }

    fn contains(&self, id: &TxId) -> bool {
        self.set.contains(id)
    }
}

impl<C: Consensus> Replica<C> {
    /// Client `client` asks for `request` to be ordered.
    pub(super) fn on_order(&mut self, client: u64, request: OrderRequest, out: &mut ReplicaOut<C>) {
        if !self.cfg.ordering || request.shard != self.id.shard {
            self.stats.refused_submissions += 1;
            return;
        }
        let command = request.command();
        let id = TxId(command.digest());
        if self.recently_ordered.contains(&id) {
            let report = self.ordered_report(id);
            self.ordered_reports.entry(client).or_default().push(report);
            return;
        }
        let list = self.submitters.entry(id).or_default();
        if !list.contains(&client) {
            list.push(client);
        }
        let mut a = std::mem::take(&mut self.scratch);
        self.consensus.propose(command, &mut a);
        self.consensus_actions(&mut a, out);
        self.scratch = a;
    }

    /// Command `id` was delivered: report it to the clients that sent it here.
    pub(super) fn ordered(&mut self, id: TxId) {
        self.recently_ordered.insert(id);
        let clients = self.submitters.remove(&id).unwrap_or_default();
        for c in clients {
            let report = self.ordered_report(id);
            self.ordered_reports.entry(c).or_default().push(report);
        }
    }

    /// Send the reports gathered while handling the current event: one message per
    /// client, however many of its commands one delivered batch held.
    pub(super) fn flush_ordered(&mut self, out: &mut ReplicaOut<C>) {
        for (c, mut reports) in std::mem::take(&mut self.ordered_reports) {
            let msg = if reports.len() == 1 {
                ReplicaMessage::Outcome(reports.pop().expect("one"))
            } else {
                ReplicaMessage::Outcomes(reports)
            };
            out.push(ReplicaAction::Send { to: Addr::Client(c), msg });
        }
    }

    fn ordered_report(&self, id: TxId) -> OutcomeReport {
        OutcomeReport { tx: id, instance: 1, shard: self.id.shard, outcome: Outcome::Commit }
    }
}
