//! Committees: who the replicas of each shard are, their public keys, and quorum sizes.
//!
//! A shard of `n` replicas tolerates `f = (n - 1) / 3` Byzantine ones (Castro and Liskov,
//! OSDI 1999, section 3). Quorums are `ceil((n + f + 1) / 2)`, which is `2f + 1` when
//! `n = 3f + 1` and still intersects in a correct replica when `n` is not of that form.

use serde::{Deserialize, Serialize};

use crate::crypto::{Keypair, PublicKey};
use crate::error::Error;
use crate::types::{ReplicaId, ReplicaIndex, ShardId};

/// The replicas of one shard, by index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardCommittee {
    /// The shard this committee runs.
    pub shard: ShardId,
    /// Public keys by replica index: the key pins who may speak as that replica.
    pub members: Vec<PublicKey>,
}

impl ShardCommittee {
    /// Build a shard committee; rejects an empty one and repeated keys (one key speaking as
    /// two replicas would count twice towards every quorum).
    pub fn new(shard: ShardId, members: Vec<PublicKey>) -> Result<Self, Error> {
        if members.is_empty() {
            return Err(Error::InvalidCommittee {
                reason: format!("shard {shard} has no replicas"),
            });
        }
        let mut sorted = members.clone();
        sorted.sort();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::InvalidCommittee {
                reason: format!("shard {shard} lists one public key twice"),
            });
        }
        Ok(ShardCommittee { shard, members })
    }

    /// Number of replicas.
    pub fn n(&self) -> usize {
        self.members.len()
    }

    /// Number of Byzantine replicas tolerated.
    pub fn f(&self) -> usize {
        (self.n() - 1) / 3
    }

    /// Size of a quorum: any two quorums share a correct replica.
    pub fn quorum(&self) -> usize {
        (self.n() + self.f() + 1).div_ceil(2)
    }

    /// `f + 1`: at least one correct replica among that many.
    pub fn weak_quorum(&self) -> usize {
        self.f() + 1
    }

    /// The key of replica `index`, if it exists.
    pub fn key(&self, index: ReplicaIndex) -> Option<&PublicKey> {
        self.members.get(index as usize)
    }

    /// The index of the replica holding `key`.
    pub fn index_of(&self, key: &PublicKey) -> Option<ReplicaIndex> {
        self.members.iter().position(|k| k == key).map(|i| i as ReplicaIndex)
    }

    /// Whether `index` names a replica of this shard.
    pub fn contains(&self, index: ReplicaIndex) -> bool {
        (index as usize) < self.n()
    }

    /// All replica indices.
    pub fn indices(&self) -> impl Iterator<Item = ReplicaIndex> + use<> {
        0..self.n() as ReplicaIndex
    }
}

/// Every shard's committee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committee {
    /// Shards by id (`shards[i].shard == ShardId(i)`).
    pub shards: Vec<ShardCommittee>,
}

impl Committee {
    /// Build a committee; shard ids must be `0..len` in order and no key may serve twice.
    pub fn new(shards: Vec<ShardCommittee>) -> Result<Self, Error> {
        if shards.is_empty() {
            return Err(Error::InvalidCommittee { reason: "no shards".into() });
        }
        for (i, s) in shards.iter().enumerate() {
            if s.shard.0 as usize != i {
                return Err(Error::InvalidCommittee {
                    reason: format!("shard at position {i} has id {}", s.shard),
                });
            }
        }
        let mut all: Vec<PublicKey> = shards.iter().flat_map(|s| s.members.clone()).collect();
        all.sort();
        if all.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::InvalidCommittee {
                reason: "one public key serves in two places".into(),
            });
        }
        Ok(Committee { shards })
    }

    /// Number of shards.
    pub fn num_shards(&self) -> u32 {
        self.shards.len() as u32
    }

    /// The committee of `shard`.
    pub fn shard(&self, shard: ShardId) -> Option<&ShardCommittee> {
        self.shards.get(shard.0 as usize)
    }

    /// Which replica holds `key`, in any shard.
    pub fn replica_of(&self, key: &PublicKey) -> Option<ReplicaId> {
        self.shards
            .iter()
            .find_map(|s| s.index_of(key).map(|index| ReplicaId { shard: s.shard, index }))
    }

    /// A deterministic committee of `shards` x `replicas` with keys derived from labels,
    /// and those keys. For simulations and tests only: the keys are public knowledge.
    pub fn for_test(shards: u32, replicas: u32) -> (Committee, Vec<Vec<Keypair>>) {
        let keys: Vec<Vec<Keypair>> = (0..shards)
            .map(|s| {
                (0..replicas).map(|r| Keypair::from_label(&format!("test-s{s}r{r}"))).collect()
            })
            .collect();
        let shards = keys
            .iter()
            .enumerate()
            .map(|(s, ks)| ShardCommittee {
                shard: ShardId(s as u32),
                members: ks.iter().map(Keypair::public).collect(),
            })
            .collect();
        (Committee { shards }, keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_sizes_follow_n_and_f() {
        let cases = [(1, 0, 1, 1), (4, 1, 3, 2), (5, 1, 4, 2), (7, 2, 5, 3), (10, 3, 7, 4)];
        for (n, f, q, w) in cases {
            let (c, _) = Committee::for_test(1, n);
            let s = &c.shards[0];
            assert_eq!((s.f(), s.quorum(), s.weak_quorum()), (f, q, w), "n = {n}");
        }
    }

    #[test]
    fn repeated_keys_are_rejected() {
        let k = Keypair::from_label("k").public();
        assert!(ShardCommittee::new(ShardId(0), vec![k, k]).is_err());
        assert!(ShardCommittee::new(ShardId(0), vec![]).is_err());
        let a = ShardCommittee::new(ShardId(0), vec![k]).unwrap();
        let b = ShardCommittee::new(ShardId(1), vec![k]).unwrap();
        assert!(Committee::new(vec![a.clone(), b]).is_err());
        assert!(Committee::new(vec![ShardCommittee { shard: ShardId(3), ..a }]).is_err());
    }

    #[test]
    fn keys_map_back_to_replicas() {
        let (c, keys) = Committee::for_test(2, 4);
        let id = c.replica_of(&keys[1][2].public()).unwrap();
        assert_eq!(id, ReplicaId { shard: ShardId(1), index: 2 });
        assert_eq!(c.replica_of(&Keypair::from_label("stranger").public()), None);
    }
}
