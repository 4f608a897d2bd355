//! Building simulated worlds.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chainspace_core::committee::Committee;
use chainspace_core::replica::{Replica, ReplicaConfig};
use chainspace_core::sim::{NetworkModel, SimChecker, World};
use chainspace_core::types::ReplicaId;
use consensus_pbft::{Pbft, PbftConfig};

/// PBFT scaled for simulations: small batches, checkpoints and window, so that garbage
/// collection and state transfer happen within short runs.
pub fn pbft_config() -> PbftConfig {
    PbftConfig {
        max_batch: 32,
        batch_timeout: Duration::from_millis(1),
        max_in_flight: 4,
        checkpoint_interval: 16,
        window: 32,
        tick: Duration::from_millis(25),
        request_timeout_ticks: 6,
        view_change_timeout: Duration::from_millis(300),
        dedup_window: 1024,
        catch_up_batches: 32,
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
}

impl Deployment {
    /// `shards` x `replicas`, one client, a LAN.
    pub fn new(shards: u32, replicas: u32) -> Self {
        Deployment {
            shards,
            replicas,
            clients: 1,
            network: NetworkModel::default(),
            client_retry: Duration::from_millis(400),
        }
    }

    /// Build the world for `seed`, with PBFT in every shard.
    pub fn world(&self, seed: u64) -> World<Pbft> {
        let (committee, keys) = Committee::for_test(self.shards, self.replicas);
        let c = committee.clone();
        let factory = Box::new(move |id: ReplicaId, store| {
            let key = keys[id.shard.0 as usize][id.index as usize].clone();
            let shard = c.shards[id.shard.0 as usize].clone();
            let pbft =
                Pbft::new(pbft_config(), shard, id.index, key.clone()).expect("valid replica");
            let cfg = ReplicaConfig { check_timeout: Duration::from_millis(200) };
            Replica::new(id, key, c.clone(), cfg, pbft, store)
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
