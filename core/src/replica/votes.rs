//! The replica's side of S-BAC's vote exchange: signing and sending its shard's votes,
//! gathering other replicas' votes into shard certificates, and proposing the accept
//! once the certificates decide the transaction.

use super::*;

impl<C: Consensus> Replica<C> {
    /// Carry out what the engine asked for after applying a command.
    pub(super) fn effects(
        &mut self,
        effects: Vec<Effect>,
        cmd: &SbacCommand,
        out: &mut ReplicaOut<C>,
    ) {
        let transaction = match cmd {
            SbacCommand::Prepare(s) | SbacCommand::Reprepare(s) => &s.request.transaction,
            SbacCommand::Accept(a) => &a.transaction,
            // Ordering-service commands have no S-BAC effects.
            SbacCommand::Order(_) => return,
        };
        for effect in effects {
            match effect {
                Effect::Vote { tx, instance, commit, reason, involved } => {
                    let shard = self.id.shard;
                    let step = Step::Prepared;
                    out.push(ReplicaAction::Milestone(Milestone { tx, instance, shard, step }));
                    let vote = Vote::new(
                        tx,
                        instance,
                        self.id.shard,
                        self.id.index,
                        commit,
                        reason,
                        &self.key,
                    );
                    let concerned = concerned_shards(transaction, self.committee.num_shards());
                    for shard in &involved {
                        let Some(sc) = self.committee.shard(*shard) else { continue };
                        let carry = !concerned.contains(shard);
                        for index in sc.indices() {
                            let to = ReplicaId { shard: *shard, index };
                            if to == self.id {
                                continue;
                            }
                            let msg = VoteMessage {
                                vote: vote.clone(),
                                transaction: carry.then(|| transaction.clone()),
                                reply: false,
                            };
                            out.push(ReplicaAction::Send {
                                to: Addr::Replica(to),
                                msg: ReplicaMessage::Vote(msg),
                            });
                        }
                    }
                    self.record_vote(vote, Some(transaction.clone()), out);
                }
                Effect::Reprepare(sub) => {
                    let command = Command::new(SbacCommand::Reprepare(sub.clone()).encode());
                    self.start_check(command.digest(), &sub, out);
                    let mut a = std::mem::take(&mut self.scratch);
                    self.consensus.propose(command, &mut a);
                    self.consensus_actions(&mut a, out);
                    self.scratch = a;
                }
                Effect::Report(report) => {
                    out.push(ReplicaAction::Milestone(Milestone {
                        tx: report.tx,
                        instance: report.instance,
                        shard: self.id.shard,
                        step: Step::Accepted,
                    }));
                    self.ballots.remove(&(report.tx, report.instance));
                    let clients = self.submitters.remove(&report.tx).unwrap_or_default();
                    for c in clients {
                        out.push(ReplicaAction::Send {
                            to: Addr::Client(c),
                            msg: ReplicaMessage::Outcome(report.clone()),
                        });
                    }
                }
            }
        }
    }

    pub(super) fn on_vote(&mut self, from: ReplicaId, m: VoteMessage, out: &mut ReplicaOut<C>) {
        let v = &m.vote;
        if v.replica != from.index || v.shard != from.shard {
            self.stats.invalid_votes += 1;
            return;
        }
        if let Some(tx) = &m.transaction
            && tx.digest() != v.tx
        {
            self.stats.invalid_votes += 1;
            return;
        }
        // Checked before it is kept: a forged vote must not take the place of the
        // genuine one from the same replica.
        if !v.verify(&self.committee) {
            self.stats.invalid_votes += 1;
            return;
        }
        // A vote for an instance this shard already finished (or moved past) needs no
        // certificate here; but its sender may have missed this shard's vote, so answer
        // with it (once: replies are not answered).
        if let Some(commit) = self.engine.late_vote(&v.tx, v.instance) {
            if !m.reply {
                let vote = Vote::new(
                    v.tx,
                    v.instance,
                    self.id.shard,
                    self.id.index,
                    commit,
                    None,
                    &self.key,
                );
                let msg = VoteMessage { vote, transaction: None, reply: true };
                out.push(ReplicaAction::Send {
                    to: Addr::Replica(from),
                    msg: ReplicaMessage::Vote(msg),
                });
            }
            return;
        }
        self.record_vote(m.vote, m.transaction, out);
    }

    fn record_vote(&mut self, vote: Vote, tx: Option<Transaction>, out: &mut ReplicaOut<C>) {
        let key = (vote.tx, vote.instance);
        let ballot = self.ballots.entry(key).or_default();
        if ballot.transaction.is_none() {
            ballot.transaction = tx;
        }
        let by_replica = ballot.votes.entry(vote.shard).or_default();
        if by_replica.values().any(|m| m.contains_key(&vote.replica)) {
            return; // One vote per replica and instance; a second is ignored.
        }
        by_replica
            .entry(vote.commit)
            .or_default()
            .insert(vote.replica, (vote.signature, vote.reason));
        self.try_accept(key, out);
    }

    /// With certificates that decide the transaction, propose the accept (once).
    fn try_accept(&mut self, key: (TxId, u64), out: &mut ReplicaOut<C>) {
        let n = self.committee.num_shards();
        let Some(ballot) = self.ballots.get_mut(&key) else { return };
        if ballot.accept_proposed {
            return;
        }
        let Some(tx) = ballot.transaction.clone() else { return };
        let concerned = concerned_shards(&tx, n);
        let mut certs = Vec::new();
        let mut abort = None;
        for shard in &concerned {
            if let Some(cert) = ballot.certified.get(shard) {
                if cert.commit {
                    certs.push(cert.clone());
                } else {
                    abort = Some(cert.clone());
                }
                continue;
            }
            let Some(q) = self.committee.shard(*shard).map(|s| s.quorum()) else { return };
            let Some(decisions) = ballot.votes.get_mut(shard) else { continue };
            for commit in [false, true] {
                let Some(votes) = decisions.get_mut(&commit) else { continue };
                if votes.len() < q {
                    continue;
                }
                let cert = ShardCertificate {
                    shard: *shard,
                    commit,
                    votes: votes.iter().take(q).map(|(r, (s, _))| (*r, *s)).collect(),
                    reason: votes.values().find_map(|(_, r)| r.clone()),
                };
                ballot.certified.insert(*shard, cert.clone());
                if commit {
                    certs.push(cert);
                } else {
                    abort = Some(cert);
                }
                break;
            }
        }
        let certificates = match abort {
            Some(a) => vec![a],
            None if certs.len() == concerned.len() => certs,
            None => return,
        };
        ballot.accept_proposed = true;
        let accept = SbacCommand::Accept(Accept { transaction: tx, instance: key.1, certificates });
        let mut a = std::mem::take(&mut self.scratch);
        self.consensus.propose(Command::new(accept.encode()), &mut a);
        self.consensus_actions(&mut a, out);
        self.scratch = a;
    }
}
