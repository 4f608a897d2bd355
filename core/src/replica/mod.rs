//! A Chainspace replica as a sans-IO state machine: a shard's consensus, the S-BAC
//! engine, the store and the checker joined together.
//!
//! Consensus orders opaque commands; the replica gives them meaning. Submissions become
//! `Prepare` commands, vote certificates become `Accept` commands, and every delivered
//! command is applied to the [`SbacEngine`] in order. Contract checks are effects
//! ([`ReplicaAction::Check`], answered by [`Replica::on_check_result`]): each starts as
//! soon as a submission arrives, many run at once, and applying the ordered log waits
//! for one only until the configured timeout, after which it counts as a rejection.
//!
//! Checkers must be deterministic. A replica whose checker answers differently, or times
//! out where the others' do not, votes differently from its shard for that transaction,
//! and counts among the `f` faulty replicas the shard tolerates.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::checker::{CheckRequest, CheckVerdict};
use crate::committee::Committee;
use crate::consensus::{Action, Actions, Consensus, ProtocolMessage};
use crate::crypto::{Digest, DigestBuildHasher, DigestMap, Keypair, Signature};
use crate::order::OrderRequest;
use crate::sbac::engine::{Effect, SbacEngine};
use crate::sbac::messages::{
    Accept, OutcomeReport, SbacCommand, ShardCertificate, Submission, Vote,
};
use crate::shard::{concerned_shards, involved_shards};
use crate::store::{Store, WriteBatch};
use crate::transaction::{Transaction, TxId};
use crate::types::{Command, ReplicaId, ShardId};

/// Who a message goes to or comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Addr {
    /// A replica.
    Replica(ReplicaId),
    /// A client, by the number its connection was given.
    Client(u64),
}

/// A vote on the wire, with the transaction for shards that only create its outputs
/// (they never saw its submission, yet must order its accept).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteMessage {
    /// The vote.
    pub vote: Vote,
    /// The transaction, for output-only shards.
    pub transaction: Option<Transaction>,
    /// Whether this answers a late vote (never answered in turn, so two shards that
    /// both finished cannot echo votes at each other for ever).
    pub reply: bool,
}

/// Everything replicas and clients exchange.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplicaMessage<M> {
    /// A shard's consensus, between replicas of that shard.
    Consensus(M),
    /// A client submits a transaction.
    Submit(Submission),
    /// A prepared vote, between shards.
    Vote(VoteMessage),
    /// An outcome, to a client.
    Outcome(OutcomeReport),
    /// A client reads an object or a transaction's record.
    Query(Query),
    /// A replica's answer to a query.
    Answer(Answer),
    /// A client's command for the consensus-only workload ([`crate::order`]).
    Order(OrderRequest),
    /// Several such commands in one message (a client with many outstanding sends
    /// those it has ready together): at most [`MAX_ORDERS`].
    Orders(Vec<OrderRequest>),
    /// Several outcomes for one client in one message (the commands of one delivered
    /// batch that it sent).
    Outcomes(Vec<OutcomeReport>),
}

/// The most commands one [`ReplicaMessage::Orders`] may carry; a longer one is refused
/// whole.
pub const MAX_ORDERS: usize = 4096;

impl<M: ProtocolMessage> ProtocolMessage for ReplicaMessage<M> {
    fn kind(&self) -> &'static str {
        match self {
            ReplicaMessage::Consensus(m) => m.kind(),
            ReplicaMessage::Submit(_) => "Submit",
            ReplicaMessage::Vote(_) => "Vote",
            ReplicaMessage::Outcome(_) => "Outcome",
            ReplicaMessage::Query(_) => "Query",
            ReplicaMessage::Answer(_) => "Answer",
            ReplicaMessage::Order(_) => "Order",
            ReplicaMessage::Orders(_) => "Orders",
            ReplicaMessage::Outcomes(_) => "Outcomes",
        }
    }
    fn trace_fields(&self) -> String {
        match self {
            ReplicaMessage::Consensus(m) => m.trace_fields(),
            ReplicaMessage::Submit(s) => {
                format!("tx={} i={}", s.request.transaction.digest().0.short(), s.instance)
            }
            ReplicaMessage::Vote(v) => format!(
                "tx={} i={} {}{}",
                v.vote.tx.0.short(),
                v.vote.instance,
                if v.vote.commit { "commit" } else { "abort" },
                if v.transaction.is_some() { " +tx" } else { "" }
            ),
            ReplicaMessage::Outcome(o) => {
                format!("tx={} i={} {}", o.tx.0.short(), o.instance, o.outcome.name())
            }
            ReplicaMessage::Query(q) => format!("q={} {:?}", q.id, q.about),
            ReplicaMessage::Answer(a) => format!("q={} s{}", a.id, a.shard.0),
            ReplicaMessage::Order(o) => format!("cmd={} s{}", o.id().0.short(), o.shard.0),
            ReplicaMessage::Orders(v) => format!("{} commands", v.len()),
            ReplicaMessage::Outcomes(v) => format!("{} outcomes", v.len()),
        }
    }
}

/// The replica's timers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReplicaTimer<T> {
    /// The consensus protocol's own.
    Consensus(T),
    /// The check with this key takes too long.
    Check(Digest),
}

/// What a replica asks its driver to do. (Actions live only until the driver carries
/// them out, so the size of the message variant does not matter.)
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum ReplicaAction<M, T> {
    /// Send a message.
    Send {
        /// Recipient.
        to: Addr,
        /// Message.
        msg: ReplicaMessage<M>,
    },
    /// Send one message to each of several recipients (a consensus broadcast): drivers
    /// encode it once, not once per recipient, which matters for batches and view
    /// changes of megabytes.
    Broadcast {
        /// Recipients, in order.
        to: Vec<Addr>,
        /// Message.
        msg: ReplicaMessage<M>,
    },
    /// (Re)start a timer.
    SetTimer {
        /// Which.
        timer: ReplicaTimer<T>,
        /// Delay.
        after: Duration,
    },
    /// Cancel a timer.
    CancelTimer {
        /// Which.
        timer: ReplicaTimer<T>,
    },
    /// Run these checks (all must accept) and report with [`Replica::on_check_result`].
    Check {
        /// The key to report under.
        key: Digest,
        /// One request per contract call.
        requests: Vec<CheckRequest>,
    },
    /// A step of S-BAC was applied here: for measurements (per-phase times), nothing to
    /// carry out. Drivers that do not measure ignore it.
    Milestone(Milestone),
}

/// A step of S-BAC a replica applied, for measuring how long each phase takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Milestone {
    /// Transaction.
    pub tx: TxId,
    /// Attempt.
    pub instance: u64,
    /// The replica's shard.
    pub shard: ShardId,
    /// Which step.
    pub step: Step,
}

/// The steps a [`Milestone`] marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// The prepare was applied and this shard's vote cast (a transaction spanning
    /// shards; a single-shard one goes straight to [`Step::Accepted`]).
    Prepared,
    /// The outcome is final here: the accept applied, or the fused single-shard step.
    Accepted,
}

/// Output buffer of a replica.
pub type ReplicaOut<C> = Vec<ReplicaAction<<C as Consensus>::Message, <C as Consensus>::Timer>>;

/// Replica parameters.
#[derive(Clone, Debug)]
pub struct ReplicaConfig {
    /// How long applying the ordered log waits for one check.
    pub check_timeout: Duration,
    /// Whether the replica serves the consensus-only workload ([`crate::order`]): orders
    /// clients' opaque commands and reports them ordered. Off by default, so a replica of
    /// a real deployment refuses commands that would fill its log and do nothing.
    pub ordering: bool,
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        ReplicaConfig { check_timeout: Duration::from_secs(2), ordering: false }
    }
}

/// Counters for tests and reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicaStats {
    /// Votes dropped: wrong sender, bad signature, unknown transaction shape.
    pub invalid_votes: u64,
    /// Submissions refused before ordering (not for this shard, bad instance).
    pub refused_submissions: u64,
    /// Ordered commands that did not decode.
    pub undecodable_commands: u64,
    /// Checks that timed out.
    pub check_timeouts: u64,
    /// Messages of a kind the sender may not send (a client speaking consensus, an
    /// outcome sent to a replica).
    pub misdirected_messages: u64,
    /// Store failures while applying a command or installing a snapshot. Any is serious:
    /// the replica's state may now lag its shard's (state transfer repairs it).
    pub store_errors: u64,
}

/// One shard's votes: decision (commit?) -> replica -> (signature, abort reason).
type Decisions = BTreeMap<bool, BTreeMap<u32, (Signature, Option<String>)>>;

/// Votes gathered for one instance of one transaction.
#[derive(Default)]
struct Ballot {
    transaction: Option<Transaction>,
    votes: BTreeMap<ShardId, Decisions>,
    /// Certificates already verified, by shard, so later votes do not re-verify them.
    certified: BTreeMap<ShardId, ShardCertificate>,
    accept_proposed: bool,
}

enum Item {
    Command(Command),
    Snapshot(u64),
}

/// A replica.
pub struct Replica<C: Consensus> {
    id: ReplicaId,
    key: Keypair,
    committee: Committee,
    cfg: ReplicaConfig,
    consensus: C,
    engine: SbacEngine,
    queue: VecDeque<Item>,
    verdicts: DigestMap<CheckVerdict>,
    checking: HashSet<Digest>,
    /// The clients that sent each transaction or command here, to report its outcome to.
    /// Almost always one: kept inline, so an entry costs no allocation of its own.
    submitters: HashMap<TxId, SmallVec<[u64; 2]>, DigestBuildHasher>,
    /// Reports of ordered commands not yet sent, by client (sent together, one message
    /// per client, once the current event is handled).
    ordered_reports: BTreeMap<u64, Vec<OutcomeReport>>,
    ballots: HashMap<(TxId, u64), Ballot>,
    stats: ReplicaStats,
    scratch: Actions<C::Message, C::Timer>,
    /// The [`Consensus::durable_version`] last written to the store.
    persisted_version: u64,
}

/// The store's metadata key of consensus's durable state.
pub const CONSENSUS_STATE: &str = "consensus/state";

impl<C: Consensus> Replica<C> {
    /// Replica `id`, running `consensus` over objects in `store`, resuming from the
    /// S-BAC state the store holds, if any. A store that cannot be read is an error.
    pub fn open(
        id: ReplicaId,
        key: Keypair,
        committee: Committee,
        cfg: ReplicaConfig,
        mut consensus: C,
        store: std::sync::Arc<dyn Store>,
    ) -> Result<Self, crate::Error> {
        if let Some(state) = store.get_meta(CONSENSUS_STATE)? {
            consensus.restore(&state)?;
        }
        let engine = SbacEngine::open(id.shard, committee.clone(), store)?;
        Ok(Self::with_engine(id, key, committee, cfg, consensus, engine))
    }

    /// Like [`Replica::open`], for stores that cannot fail to read (memory, a new
    /// file): if reading the store's state fails anyway, the replica starts from its
    /// objects alone and counts one store error in its stats.
    pub fn new(
        id: ReplicaId,
        key: Keypair,
        committee: Committee,
        cfg: ReplicaConfig,
        mut consensus: C,
        store: std::sync::Arc<dyn Store>,
    ) -> Self {
        let restored = match store.get_meta(CONSENSUS_STATE) {
            Ok(Some(state)) => consensus.restore(&state).is_ok(),
            Ok(None) => true,
            Err(_) => false,
        };
        let mut r = match SbacEngine::open(id.shard, committee.clone(), store.clone()) {
            Ok(engine) => Self::with_engine(id, key, committee, cfg, consensus, engine),
            Err(_) => {
                let engine = SbacEngine::new(id.shard, committee.clone(), store);
                let mut r = Self::with_engine(id, key, committee, cfg, consensus, engine);
                r.stats.store_errors += 1;
                r
            }
        };
        r.stats.store_errors += u64::from(!restored);
        r
    }

    fn with_engine(
        id: ReplicaId,
        key: Keypair,
        committee: Committee,
        cfg: ReplicaConfig,
        consensus: C,
        engine: SbacEngine,
    ) -> Self {
        let consensus_version = consensus.durable_version();
        Replica {
            id,
            key,
            committee,
            cfg,
            consensus,
            engine,
            queue: VecDeque::new(),
            verdicts: DigestMap::default(),
            checking: HashSet::new(),
            submitters: HashMap::default(),
            ordered_reports: BTreeMap::new(),
            ballots: HashMap::new(),
            stats: ReplicaStats::default(),
            scratch: Actions::new(),
            persisted_version: consensus_version,
        }
    }

    /// This replica's identity.
    pub fn id(&self) -> ReplicaId {
        self.id
    }
    /// Its consensus protocol.
    pub fn consensus(&self) -> &C {
        &self.consensus
    }
    /// Its S-BAC engine (state, records).
    pub fn engine(&self) -> &SbacEngine {
        &self.engine
    }
    /// Its counters.
    pub fn stats(&self) -> ReplicaStats {
        self.stats
    }
    /// Ordered commands waiting to be applied (non-zero while a check is awaited).
    pub fn backlog(&self) -> usize {
        self.queue.len()
    }

    /// Start (or restart).
    pub fn on_start(&mut self, out: &mut ReplicaOut<C>) {
        let mut a = std::mem::take(&mut self.scratch);
        self.consensus.on_start(&mut a);
        self.consensus_actions(&mut a, out);
        self.scratch = a;
    }

    /// A message arrived; the transport authenticated `from`.
    pub fn on_message(
        &mut self,
        from: Addr,
        msg: ReplicaMessage<C::Message>,
        out: &mut ReplicaOut<C>,
    ) {
        match (from, msg) {
            (Addr::Replica(r), ReplicaMessage::Consensus(m)) if r.shard == self.id.shard => {
                let mut a = std::mem::take(&mut self.scratch);
                self.consensus.on_message(r.index, m, &mut a);
                self.consensus_actions(&mut a, out);
                self.scratch = a;
            }
            (_, ReplicaMessage::Submit(sub)) => self.on_submit(from, sub, out),
            (Addr::Replica(r), ReplicaMessage::Vote(v)) => self.on_vote(r, v, out),
            (_, ReplicaMessage::Query(q)) => self.on_query(from, q, out),
            (Addr::Client(c), ReplicaMessage::Order(o)) => {
                self.on_order(c, o, out);
                self.flush_ordered(out);
            }
            (Addr::Client(c), ReplicaMessage::Orders(v)) if v.len() <= MAX_ORDERS => {
                for o in v {
                    self.on_order(c, o, out);
                }
                self.flush_ordered(out);
            }
            (Addr::Client(_), ReplicaMessage::Orders(_)) => self.stats.refused_submissions += 1,
            _ => self.stats.misdirected_messages += 1,
        }
    }

    /// A timer fired.
    pub fn on_timer(&mut self, timer: ReplicaTimer<C::Timer>, out: &mut ReplicaOut<C>) {
        match timer {
            ReplicaTimer::Consensus(t) => {
                let mut a = std::mem::take(&mut self.scratch);
                self.consensus.on_timer(t, &mut a);
                self.consensus_actions(&mut a, out);
                self.scratch = a;
            }
            ReplicaTimer::Check(key) => {
                if self.checking.remove(&key) && !self.verdicts.contains_key(&key) {
                    self.stats.check_timeouts += 1;
                    self.verdicts.insert(key, CheckVerdict::reject("checker timed out"));
                    self.apply_queue(out);
                }
            }
        }
    }

    /// The answer to a [`ReplicaAction::Check`]. A late answer (after the timeout) is
    /// dropped: the timeout already decided.
    pub fn on_check_result(&mut self, key: Digest, verdict: CheckVerdict, out: &mut ReplicaOut<C>) {
        if !self.checking.remove(&key) {
            return;
        }
        out.push(ReplicaAction::CancelTimer { timer: ReplicaTimer::Check(key) });
        self.verdicts.insert(key, verdict);
        self.apply_queue(out);
    }

    fn on_submit(&mut self, from: Addr, sub: Submission, out: &mut ReplicaOut<C>) {
        let tx = &sub.request.transaction;
        let n = self.committee.num_shards();
        if sub.instance == 0 || !involved_shards(tx, n).contains(&self.id.shard) {
            self.stats.refused_submissions += 1;
            return;
        }
        if let Addr::Client(c) = from {
            let list = self.submitters.entry(tx.digest()).or_default();
            if !list.contains(&c) {
                list.push(c);
            }
        }
        if let Some(effects) = self.engine.answer(&sub) {
            self.effects(effects, &SbacCommand::Prepare(sub), out);
            return;
        }
        if !concerned_shards(tx, n).contains(&self.id.shard) {
            // An output-only shard orders no prepare; it reports once it accepts.
            return;
        }
        let command = Command::new(SbacCommand::Prepare(sub.clone()).encode());
        self.start_check(command.digest(), &sub, out);
        let mut a = std::mem::take(&mut self.scratch);
        self.consensus.propose(command, &mut a);
        self.consensus_actions(&mut a, out);
        self.scratch = a;
    }

    /// Ask for the verdict on a submission, once. Values come from the client's claims;
    /// the engine checks this shard's own objects against them when the prepare applies.
    fn start_check(&mut self, key: Digest, sub: &Submission, out: &mut ReplicaOut<C>) {
        if self.verdicts.contains_key(&key) || self.checking.contains(&key) {
            return;
        }
        let store = &sub.request.store;
        let lookup = |id: &crate::object::ObjectId| store.get(id).cloned();
        match CheckRequest::for_all_calls(&sub.request.transaction, &lookup) {
            Ok(requests) => {
                self.checking.insert(key);
                out.push(ReplicaAction::Check { key, requests });
                out.push(ReplicaAction::SetTimer {
                    timer: ReplicaTimer::Check(key),
                    after: self.cfg.check_timeout,
                });
            }
            Err(e) => {
                self.verdicts.insert(key, CheckVerdict::reject(format!("cannot check: {e}")));
            }
        }
    }

    /// Turn the consensus protocol's actions into the replica's, and apply deliveries.
    /// Write consensus's durable state if it changed since the last write. `false` if
    /// the write failed.
    fn persist_consensus(&mut self) -> bool {
        let version = self.consensus.durable_version();
        if version == self.persisted_version {
            return true;
        }
        let batch = WriteBatch::new().put_meta(CONSENSUS_STATE, self.consensus.durable_state());
        match self.engine.store().apply(batch) {
            Ok(()) => {
                self.persisted_version = version;
                true
            }
            Err(_) => {
                self.stats.store_errors += 1;
                false
            }
        }
    }

    fn consensus_actions(
        &mut self,
        a: &mut Actions<C::Message, C::Timer>,
        out: &mut ReplicaOut<C>,
    ) {
        let shard = self.id.shard;
        let n = self.committee.shard(shard).map_or(0, |s| s.n()) as u32;
        let mut delivered = false;
        // What consensus must remember across a crash goes to the store before any of
        // its messages leave; if it cannot be written, the messages are not sent.
        let persisted = self.persist_consensus();
        for action in a.drain() {
            match action {
                Action::Send { .. } | Action::Broadcast { .. } if !persisted => {}
                Action::Send { to, msg } => out.push(ReplicaAction::Send {
                    to: Addr::Replica(ReplicaId { shard, index: to }),
                    msg: ReplicaMessage::Consensus(msg),
                }),
                Action::Broadcast { msg } => {
                    let to = (0..n)
                        .filter(|i| *i != self.id.index)
                        .map(|index| Addr::Replica(ReplicaId { shard, index }))
                        .collect();
                    out.push(ReplicaAction::Broadcast { to, msg: ReplicaMessage::Consensus(msg) });
                }
                Action::SetTimer { timer, after } => out
                    .push(ReplicaAction::SetTimer { timer: ReplicaTimer::Consensus(timer), after }),
                Action::CancelTimer { timer } => {
                    out.push(ReplicaAction::CancelTimer { timer: ReplicaTimer::Consensus(timer) })
                }
                Action::Deliver { commands, .. } => {
                    self.queue.extend(commands.into_iter().map(Item::Command));
                    delivered = true;
                }
                Action::TakeSnapshot { sequence } => {
                    self.queue.push_back(Item::Snapshot(sequence));
                    delivered = true;
                }
                Action::InstallSnapshot { snapshot, .. } => {
                    // Everything still queued is older than the snapshot.
                    self.queue.clear();
                    if self.engine.install(&snapshot).is_err() {
                        self.stats.store_errors += 1;
                    }
                }
            }
        }
        if delivered {
            self.apply_queue(out);
        }
    }

    /// Apply ordered commands in order, stopping at a prepare whose check is pending.
    fn apply_queue(&mut self, out: &mut ReplicaOut<C>) {
        self.apply_ordered_log(out);
        self.flush_ordered(out);
    }

    fn apply_ordered_log(&mut self, out: &mut ReplicaOut<C>) {
        while let Some(item) = self.queue.front() {
            match item {
                Item::Snapshot(seq) => {
                    let seq = *seq;
                    self.queue.pop_front();
                    if let Ok(snapshot) = self.engine.snapshot() {
                        let mut a = std::mem::take(&mut self.scratch);
                        self.consensus.on_snapshot(seq, snapshot, &mut a);
                        self.consensus_actions(&mut a, out);
                        self.scratch = a;
                    }
                }
                Item::Command(c) => {
                    let key = c.digest();
                    // A command of the ordering service needs only its digest: checked
                    // well formed without copying its payload out.
                    if SbacCommand::is_order(c.as_bytes()) {
                        self.queue.pop_front();
                        self.ordered(TxId(key));
                        continue;
                    }
                    let Ok(cmd) = SbacCommand::decode(c.as_bytes()) else {
                        self.stats.undecodable_commands += 1;
                        self.queue.pop_front();
                        continue;
                    };
                    let effects = match &cmd {
                        SbacCommand::Prepare(sub) | SbacCommand::Reprepare(sub) => {
                            if !self.engine.needs_check(sub) {
                                // A duplicate or stale prepare: any verdict is moot.
                                self.verdicts.remove(&key);
                                self.engine.prepare(sub, &CheckVerdict::accept())
                            } else if let Some(v) = self.verdicts.remove(&key) {
                                self.engine.prepare(sub, &v)
                            } else {
                                // Not submitted here (or the check is running): wait.
                                self.start_check(key, sub, out);
                                if let Some(v) = self.verdicts.remove(&key) {
                                    self.engine.prepare(sub, &v)
                                } else {
                                    return;
                                }
                            }
                        }
                        SbacCommand::Accept(acc) => self.engine.accept(acc),
                        SbacCommand::Order(_) => {
                            self.queue.pop_front();
                            self.ordered(TxId(key));
                            continue;
                        }
                    };
                    self.queue.pop_front();
                    match effects {
                        Ok(effects) => self.effects(effects, &cmd, out),
                        Err(_) => self.stats.store_errors += 1,
                    }
                }
            }
        }
    }
}

mod order;
mod query;
mod votes;

pub use query::{Answer, AnswerBody, Query, Subject};
