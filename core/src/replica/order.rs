//! The replica's side of the consensus-only workload ([`crate::order`]): a client's
//! command is proposed to the shard's consensus and, once delivered, reported ordered to
//! the clients that sent it to this replica.

use super::*;
use crate::sbac::{Outcome, OutcomeReport};

impl<C: Consensus> Replica<C> {
    /// Client `client` asks for `request` to be ordered.
    pub(super) fn on_order(&mut self, client: u64, request: OrderRequest, out: &mut ReplicaOut<C>) {
        if !self.cfg.ordering || request.shard != self.id.shard {
            self.stats.refused_submissions += 1;
            return;
        }
        let command = request.command();
        let id = TxId(command.digest());
        if self.consensus.delivered_recently(&id.0) {
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
