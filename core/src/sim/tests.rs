//! Tests of the simulator itself, on a toy protocol: replica 0 sequences every proposal
//! and broadcasts it; the others deliver what they receive. Not fault tolerant at all,
//! which is the point: every fault the simulator injects shows in what gets delivered.

use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::*;
use crate::consensus::{Action, Actions, Consensus, ConsensusStats, ProtocolMessage};
use crate::snapshot::Snapshot;
use crate::types::{Command, ReplicaIndex};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Seq(u64, Command);

impl ProtocolMessage for Seq {
    fn kind(&self) -> &'static str {
        "Seq"
    }
    fn trace_fields(&self) -> String {
        format!("n={}", self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum T {
    Ping,
    Cancelled,
}

struct Toy {
    me: ReplicaIndex,
    next: u64,
    pings: u32,
    snapshots: Vec<u64>,
}

impl Consensus for Toy {
    type Message = Seq;
    type Timer = T;
    fn index(&self) -> ReplicaIndex {
        self.me
    }
    fn on_start(&mut self, out: &mut Actions<Seq, T>) {
        out.set_timer(T::Ping, Duration::from_millis(10));
        out.set_timer(T::Cancelled, Duration::from_millis(5));
        out.cancel_timer(T::Cancelled);
    }
    fn propose(&mut self, command: Command, out: &mut Actions<Seq, T>) {
        if self.me == 0 {
            self.next += 1;
            out.broadcast(Seq(self.next, command.clone()));
            out.deliver(self.next, vec![command]);
            out.push(Action::TakeSnapshot { sequence: self.next });
        }
    }
    fn on_message(&mut self, _from: ReplicaIndex, msg: Seq, out: &mut Actions<Seq, T>) {
        if msg.0 == self.next + 1 {
            self.next = msg.0;
            out.deliver(msg.0, vec![msg.1]);
        }
    }
    fn on_timer(&mut self, timer: T, out: &mut Actions<Seq, T>) {
        assert_eq!(timer, T::Ping, "a cancelled timer never fires");
        self.pings += 1;
        // Re-setting before it fires replaces it: only the later one counts.
        out.set_timer(T::Ping, Duration::from_millis(10));
        out.set_timer(T::Ping, Duration::from_millis(20));
    }
    fn on_snapshot(&mut self, sequence: u64, _snapshot: Snapshot, _out: &mut Actions<Seq, T>) {
        self.snapshots.push(sequence);
    }
    fn last_delivered(&self) -> u64 {
        self.next
    }
    fn stats(&self) -> ConsensusStats {
        ConsensusStats::default()
    }
}

fn toy_sim(seed: u64, network: NetworkModel) -> Simulation<Toy> {
    Simulation::new(3, seed, network, |me| Toy { me, next: 0, pings: 0, snapshots: vec![] })
}

fn cmd(k: u32) -> Command {
    Command::new(format!("c{k}").into_bytes())
}

#[test]
fn messages_take_the_link_latency_and_timers_replace_each_other() {
    let mut sim = toy_sim(1, NetworkModel::fixed(Duration::from_millis(3)));
    sim.propose_at(Duration::from_millis(1), 0, cmd(1));
    sim.run_until(Duration::from_millis(3));
    assert_eq!(sim.app(1).last(), 0, "not yet arrived at 3 ms");
    sim.run_until(Duration::from_millis(4));
    assert_eq!(sim.app(1).last(), 1, "arrived at 1 + 3 ms");
    sim.run_until(Duration::from_millis(100));
    // Pings at 10, 30, 50, 70, 90 ms: each re-set to 20 ms replaced the 10 ms one.
    assert_eq!(sim.consensus(0).pings, 5);
    assert_eq!(sim.consensus(0).snapshots, vec![1], "TakeSnapshot reached on_snapshot");
}

#[test]
fn crashed_replicas_miss_messages_and_restart_fresh_when_wiped() {
    let mut sim = toy_sim(1, NetworkModel::fixed(Duration::from_millis(1)));
    sim.crash_at(Duration::from_millis(5), 2);
    sim.propose_at(Duration::from_millis(10), 0, cmd(1));
    sim.restart_at(Duration::from_millis(20), 2, true);
    sim.propose_at(Duration::from_millis(30), 0, cmd(2));
    sim.run_until(Duration::from_millis(50));
    assert_eq!(sim.app(1).last(), 2);
    assert_eq!(sim.app(2).last(), 0, "missed n=1, so the toy cannot deliver n=2");
    assert!(sim.is_up(2));
    let drops = sim.trace.lines_where(|e| matches!(e.kind, TraceKind::Drop { to: 2, .. }));
    assert_eq!(drops.len(), 1, "{drops:?}");
}

#[test]
fn partitions_cut_links_only_while_active() {
    let mut sim = toy_sim(1, NetworkModel::fixed(Duration::from_millis(1)));
    sim.partition(Partition::isolate(1, Duration::from_millis(5), Duration::from_millis(15)));
    sim.propose_at(Duration::from_millis(10), 0, cmd(1));
    sim.propose_at(Duration::from_millis(20), 0, cmd(2));
    sim.run_until(Duration::from_millis(30));
    assert_eq!(sim.app(2).last(), 2);
    assert_eq!(sim.app(1).last(), 0, "n=1 was cut off, so n=2 cannot follow");
}

#[test]
fn interceptors_rewrite_what_a_byzantine_replica_sends() {
    let mut sim = toy_sim(1, NetworkModel::fixed(Duration::from_millis(1)));
    sim.intercept(
        0,
        Box::new(|to, Seq(n, c)| if to == 1 { vec![Seq(n, cmd(99))] } else { vec![Seq(n, c)] }),
    );
    sim.propose_at(Duration::ZERO, 0, cmd(1));
    sim.run_until(Duration::from_millis(5));
    assert_eq!(sim.app(1).batches[&1], vec![cmd(99)]);
    assert_eq!(sim.app(2).batches[&1], vec![cmd(1)]);
}

#[test]
fn loss_and_duplication_are_seeded() {
    let net = NetworkModel { drop_rate: 0.3, duplicate_rate: 0.3, ..NetworkModel::default() };
    let run = |seed| {
        let mut sim = toy_sim(seed, net.clone());
        for k in 0..50 {
            sim.propose_at(Duration::from_millis(k as u64), 0, cmd(k));
        }
        sim.run_until(Duration::from_millis(200));
        (sim.trace.lines(), sim.messages_sent)
    };
    let (a, sent) = run(3);
    assert_eq!(run(3).0, a, "same seed, same trace");
    assert_ne!(run(4).0, a, "another seed, another trace");
    let lost = a.iter().filter(|l| l.contains("DROPPED (loss)")).count() as u64;
    assert!(lost > 10, "about 30 of 100 messages lost: {lost}");
    assert!(
        sent > 100 - lost + 10,
        "about 30% duplicated: {sent} copies of {} messages",
        100 - lost
    );
}

#[test]
fn propose_now_acts_at_once_and_skips_crashed_replicas() {
    let mut sim = toy_sim(1, NetworkModel::fixed(Duration::from_millis(1)));
    sim.propose_now(0, cmd(1));
    assert_eq!(sim.app(0).last(), 1, "the sequencer delivered without any event run");
    sim.run_until(Duration::from_millis(2));
    assert_eq!(sim.app(1).last(), 1);
    sim.crash_at(Duration::from_millis(3), 0);
    sim.run_until(Duration::from_millis(4));
    sim.propose_now(0, cmd(2));
    assert_eq!(sim.app(0).last(), 1, "a crashed replica takes no proposal");
}
