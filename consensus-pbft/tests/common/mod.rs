//! What the PBFT test suites share: the conformance subject and small helpers.
#![allow(dead_code)]

use std::time::Duration;

use chainspace_core::committee::Committee;
use chainspace_core::sim::Interceptor;
use chainspace_core::sim::conformance::Subject;
use chainspace_core::types::{Command, ReplicaIndex};
use consensus_pbft::message::PrePrepare;
use consensus_pbft::{Message, Pbft, PbftConfig};

/// A configuration scaled for simulations: small checkpoint interval and window, so that
/// garbage collection and state transfer happen within a short run.
pub fn sim_config() -> PbftConfig {
    PbftConfig {
        max_batch: 8,
        batch_timeout: Duration::from_millis(2),
        max_in_flight: 4,
        checkpoint_interval: 8,
        window: 16,
        tick: Duration::from_millis(25),
        request_timeout_ticks: 4,
        view_change_timeout: Duration::from_millis(200),
        dedup_window: 256,
        catch_up_batches: 32,
    }
}

/// PBFT as a conformance subject.
#[derive(Clone)]
pub struct PbftSubject {
    pub cfg: PbftConfig,
}

impl Default for PbftSubject {
    fn default() -> Self {
        PbftSubject { cfg: sim_config() }
    }
}

pub fn replica(cfg: &PbftConfig, n: usize, index: ReplicaIndex) -> Pbft {
    let (committee, keys) = Committee::for_test(1, n as u32);
    Pbft::new(cfg.clone(), committee.shards[0].clone(), index, keys[0][index as usize].clone())
        .expect("valid test replica")
}

impl Subject for PbftSubject {
    type C = Pbft;

    fn make(&self, n: usize, index: ReplicaIndex) -> Pbft {
        replica(&self.cfg, n, index)
    }

    fn first_leader(&self, _n: usize) -> ReplicaIndex {
        0
    }

    /// Odd-numbered replicas get a different, validly signed batch for every sequence
    /// number the leader proposes.
    fn equivocator(&self, n: usize, index: ReplicaIndex) -> Interceptor<Message> {
        let (_, keys) = Committee::for_test(1, n as u32);
        let key = keys[0][index as usize].clone();
        Box::new(move |to, msg| match msg {
            Message::PrePrepare(pp) if to % 2 == 1 => {
                let mut batch = vec![Command::new(format!("forged-v{}-n{}", pp.view, pp.seq))];
                batch.extend(pp.batch.iter().take(pp.batch.len().saturating_sub(1)).cloned());
                vec![Message::PrePrepare(PrePrepare::new(pp.view, pp.seq, batch, &key))]
            }
            other => vec![other],
        })
    }
}
