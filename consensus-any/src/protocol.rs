//! Which protocol a shard runs, with its parameters.

use std::fmt;
use std::str::FromStr;

use chainspace_core::committee::ShardCommittee;
use chainspace_core::crypto::Keypair;
use chainspace_core::types::ReplicaIndex;
use consensus_hotstuff::{HotStuff, HotStuffConfig, HotStuffError};
use consensus_pbft::{Pbft, PbftConfig, PbftError};

use crate::any::AnyConsensus;

/// The consensus protocols a shard can run, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// PBFT in the style of BFT-SMaRt's Mod-SMaRt (`"pbft"`).
    Pbft,
    /// Chained HotStuff with a DiemBFT pacemaker (`"hotstuff"`).
    HotStuff,
}

impl Protocol {
    /// Every protocol, in a fixed order (for sweeps and tests).
    pub const ALL: [Protocol; 2] = [Protocol::Pbft, Protocol::HotStuff];

    /// The name used in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Pbft => "pbft",
            Protocol::HotStuff => "hotstuff",
        }
    }

    /// The protocol's default parameters.
    pub fn default_config(self) -> ProtocolConfig {
        match self {
            Protocol::Pbft => ProtocolConfig::Pbft(PbftConfig::default()),
            Protocol::HotStuff => ProtocolConfig::HotStuff(HotStuffConfig::default()),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Protocol {
    type Err = ProtocolError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Protocol::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| ProtocolError::Unknown { name: s.to_string() })
    }
}

/// A protocol with its parameters: what one shard runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolConfig {
    /// PBFT.
    Pbft(PbftConfig),
    /// HotStuff.
    HotStuff(HotStuffConfig),
}

impl ProtocolConfig {
    /// Which protocol this configures.
    pub fn protocol(&self) -> Protocol {
        match self {
            ProtocolConfig::Pbft(_) => Protocol::Pbft,
            ProtocolConfig::HotStuff(_) => Protocol::HotStuff,
        }
    }

    /// Replica `me` of `committee`, signing with `key`.
    pub fn build(
        &self,
        committee: ShardCommittee,
        me: ReplicaIndex,
        key: Keypair,
    ) -> Result<AnyConsensus, ProtocolError> {
        Ok(match self {
            ProtocolConfig::Pbft(cfg) => Pbft::new(cfg.clone(), committee, me, key)?.into(),
            ProtocolConfig::HotStuff(cfg) => HotStuff::new(cfg.clone(), committee, me, key)?.into(),
        })
    }
}

/// Why a protocol could not be chosen or built.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// No protocol has this name.
    #[error("unknown consensus protocol {name:?} (expected one of: pbft, hotstuff)")]
    Unknown {
        /// The name given.
        name: String,
    },
    /// PBFT refused its parameters or identity.
    #[error("pbft: {0}")]
    Pbft(#[from] PbftError),
    /// HotStuff refused its parameters or identity.
    #[error("hotstuff: {0}")]
    HotStuff(#[from] HotStuffError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainspace_core::committee::Committee;

    #[test]
    fn names_round_trip_and_unknown_names_are_explained() {
        for p in Protocol::ALL {
            assert_eq!(p.name().parse::<Protocol>().unwrap(), p);
            assert_eq!(p.default_config().protocol(), p);
        }
        let e = "raft".parse::<Protocol>().unwrap_err().to_string();
        assert!(e.contains("raft") && e.contains("pbft") && e.contains("hotstuff"), "{e}");
    }

    #[test]
    fn build_checks_parameters_and_identity() {
        let (committee, keys) = Committee::for_test(1, 4);
        let shard = committee.shards[0].clone();
        for p in Protocol::ALL {
            let c = p.default_config().build(shard.clone(), 2, keys[0][2].clone()).unwrap();
            assert_eq!(c.protocol(), p);
            // Replica 2 does not hold replica 1's key.
            let e = p.default_config().build(shard.clone(), 1, keys[0][2].clone());
            assert!(e.is_err(), "{p}: a wrong key is refused");
        }
        let bad = ProtocolConfig::Pbft(PbftConfig { max_batch: 0, ..PbftConfig::default() });
        let e = bad.build(shard, 0, keys[0][0].clone()).unwrap_err().to_string();
        assert!(e.starts_with("pbft:") && e.contains("max_batch"), "{e}");
    }
}
