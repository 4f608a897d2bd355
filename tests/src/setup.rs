//! Building simulated worlds.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chainspace_core::committee::Committee;
use chainspace_core::replica::{Replica, ReplicaConfig};
use chainspace_core::sim::{NetworkModel, SimChecker, World};
use chainspace_core::types::ReplicaId;
pub use consensus_any::Protocol;
use consensus_any::{AnyConsensus, ProtocolConfig};
use consensus_hotstuff::HotStuffConfig;
use consensus_pbft::PbftConfig;

/// PBFT scaled for simulations: small batches, checkpoints and window, so that garbage
/// collection and state transfer happen within short runs.
pub fn pbft_config() -> PbftConfig {
    PbftConfig {
        max_batch: 32,
        max_batch_bytes: 1 << 20,
        batch_timeout: Duration::from_millis(1),
        max_in_flight: 4,
        checkpoint_interval: 16,
        window: 32,
        tick: Duration::from_millis(25),
        request_timeout_ticks: 6,
        view_change_timeout: Duration::from_millis(300),
        dedup_window: 1024,
        catch_up_batches: 32,
        status_interval_ticks: 10,
        request_digests: true,
    }
}

/// HotStuff scaled for simulations like [`pbft_config`]: small blocks and checkpoints,
/// round timeouts of the same order as PBFT's request timeout.
pub fn hotstuff_config() -> HotStuffConfig {
    HotStuffConfig {
        max_batch: 32,
        max_batch_bytes: 1 << 20,
        max_batch_delay: Duration::from_millis(1),
        round_timeout: Duration::from_millis(150),
        max_backoff_exponent: 4,
        checkpoint_interval: 16,
        dedup_window: 1024,
        fetch_blocks: 32,
        fetch_retry: Duration::from_millis(50),
        status_interval_ticks: 2,
        proposal_digests: true,
    }
}

/// The simulation parameters of `protocol`.
pub fn sim_config(protocol: Protocol) -> ProtocolConfig {
    match protocol {
        Protocol::Pbft => ProtocolConfig::Pbft(pbft_config()),
        Protocol::HotStuff => ProtocolConfig::HotStuff(hotstuff_config()),
    }
}

/// Which protocol each shard runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mix {
    /// The same protocol in every shard.
    All(Protocol),
    /// PBFT in even shards, HotStuff in odd ones (shard 0 PBFT, shard 1 HotStuff).
    Alternate,
}

impl Mix {
    /// The protocol of `shard`.
    pub fn of(self, shard: u32) -> Protocol {
        match self {
            Mix::All(p) => p,
            Mix::Alternate if shard.is_multiple_of(2) => Protocol::Pbft,
            Mix::Alternate => Protocol::HotStuff,
        }
    }

    /// A short name for test messages.
    pub fn name(self) -> &'static str {
        match self {
            Mix::All(p) => p.name(),
            Mix::Alternate => "pbft+hotstuff",
        }
    }
}

/// The native contracts as simulator checkers.
pub fn native_checkers() -> HashMap<String, SimChecker> {
    chainspace_contracts::all()
        .into_iter()
        .map(|c| {
            let id = c.id().to_string();
            let f: SimChecker = Arc::new(move |r| c.check(r));
            (id, f)
        })
        .collect()
}

/// Parameters of a simulated deployment.
#[derive(Clone, Debug)]
pub struct Deployment {
    /// Shards.
    pub shards: u32,
    /// Replicas per shard.
    pub replicas: u32,
    /// Clients.
    pub clients: usize,
    /// The network.
    pub network: NetworkModel,
    /// How long a client waits before re-sending.
    pub client_retry: Duration,
    /// The consensus protocol of each shard.
    pub mix: Mix,
    /// Whether replicas serve the consensus-only workload
    /// ([`ReplicaConfig::ordering`]).
    pub ordering: bool,
}

impl Deployment {
    /// `shards` x `replicas`, one client, a LAN, PBFT everywhere.
    pub fn new(shards: u32, replicas: u32) -> Self {
        Deployment {
            shards,
            replicas,
            clients: 1,
            network: NetworkModel::default(),
            client_retry: Duration::from_millis(400),
            mix: Mix::All(Protocol::Pbft),
            ordering: false,
        }
    }

    /// Build the world for `seed`, each shard running the protocol `mix` gives it.
    pub fn world(&self, seed: u64) -> World<AnyConsensus> {
        let (committee, keys) = Committee::for_test(self.shards, self.replicas);
        let c = committee.clone();
        let mix = self.mix;
        let ordering = self.ordering;
        let factory = Box::new(move |id: ReplicaId, store| {
            let key = keys[id.shard.0 as usize][id.index as usize].clone();
            let shard = c.shards[id.shard.0 as usize].clone();
            let consensus = sim_config(mix.of(id.shard.0))
                .build(shard, id.index, key.clone())
                .expect("valid replica");
            let cfg = ReplicaConfig { check_timeout: Duration::from_millis(200), ordering };
            Replica::new(id, key, c.clone(), cfg, consensus, store)
        });
        World::new(
            committee,
            self.clients,
            self.client_retry,
            seed,
            self.network.clone(),
            native_checkers(),
            factory,
        )
    }
}
