//! The simulated network: per-link latency with jitter, loss, duplication, reordering, and
//! partitions over time windows.

use rand::RngExt;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::types::ReplicaIndex;

/// How the simulated network treats each message.
#[derive(Clone, Debug)]
pub struct NetworkModel {
    /// One-way latency of every link without an override.
    pub latency: Duration,
    /// Extra delay drawn uniformly from `[0, jitter)` per message.
    pub jitter: Duration,
    /// Per-link one-way latency overrides, `(from, to) -> latency`.
    pub links: BTreeMap<(ReplicaIndex, ReplicaIndex), Duration>,
    /// Probability a message is lost.
    pub drop_rate: f64,
    /// Probability a message is delivered twice (with independent delays).
    pub duplicate_rate: f64,
    /// Probability a message is held back by up to `reorder_delay` more, so that later
    /// messages overtake it.
    pub reorder_rate: f64,
    /// The longest extra delay of a reordered message.
    pub reorder_delay: Duration,
}

impl Default for NetworkModel {
    /// A LAN: 1 ms links with 0.5 ms of jitter, no loss.
    fn default() -> Self {
        NetworkModel {
            latency: Duration::from_millis(1),
            jitter: Duration::from_micros(500),
            links: BTreeMap::new(),
            drop_rate: 0.0,
            duplicate_rate: 0.0,
            reorder_rate: 0.0,
            reorder_delay: Duration::from_millis(10),
        }
    }
}

impl NetworkModel {
    /// A network with no jitter or faults at all: message timing is fixed, which keeps
    /// snapshot traces small and readable.
    pub fn fixed(latency: Duration) -> Self {
        NetworkModel { latency, jitter: Duration::ZERO, ..Self::default() }
    }

    /// Draw the fate of one message: `None` if lost, else the delays of each copy.
    pub fn delays(
        &self,
        from: ReplicaIndex,
        to: ReplicaIndex,
        rng: &mut impl RngExt,
    ) -> Option<Vec<Duration>> {
        if self.drop_rate > 0.0 && rng.random_bool(self.drop_rate.min(1.0)) {
            return None;
        }
        let copies = if self.duplicate_rate > 0.0 && rng.random_bool(self.duplicate_rate.min(1.0)) {
            2
        } else {
            1
        };
        let base = self.links.get(&(from, to)).copied().unwrap_or(self.latency);
        Some((0..copies).map(|_| base + self.extra(rng)).collect())
    }

    fn extra(&self, rng: &mut impl RngExt) -> Duration {
        let mut extra = Duration::ZERO;
        if !self.jitter.is_zero() {
            extra += Duration::from_nanos(rng.random_range(0..self.jitter.as_nanos() as u64));
        }
        if self.reorder_rate > 0.0
            && !self.reorder_delay.is_zero()
            && rng.random_bool(self.reorder_rate.min(1.0))
        {
            extra +=
                Duration::from_nanos(rng.random_range(0..self.reorder_delay.as_nanos() as u64));
        }
        extra
    }
}

/// A partition: from `start` until `end`, replicas only reach replicas of their own
/// group; a replica in no group reaches nobody.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// When the partition starts.
    pub start: Duration,
    /// When it heals.
    pub end: Duration,
    /// The sides of the partition.
    pub groups: Vec<Vec<ReplicaIndex>>,
}

impl Partition {
    /// Cut `isolated` off from everyone between `start` and `end`.
    pub fn isolate(isolated: ReplicaIndex, start: Duration, end: Duration) -> Self {
        Partition { start, end, groups: vec![vec![isolated]] }
    }

    /// Whether this partition separates `a` from `b` at time `at`.
    pub fn separates(&self, a: ReplicaIndex, b: ReplicaIndex, at: Duration) -> bool {
        if at < self.start || at >= self.end {
            return false;
        }
        let group_of = |r| self.groups.iter().position(|g| g.contains(&r));
        match (group_of(a), group_of(b)) {
            (Some(x), Some(y)) => x != y,
            // Replicas outside every group of a partition that names one group form the
            // rest of the network together; with several groups they are isolated.
            (None, None) => self.groups.len() > 1,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn partitions_separate_only_while_active() {
        let p = Partition {
            start: Duration::from_secs(1),
            end: Duration::from_secs(2),
            groups: vec![vec![0, 1], vec![2, 3]],
        };
        let t = Duration::from_millis(1500);
        assert!(p.separates(0, 2, t));
        assert!(!p.separates(0, 1, t));
        assert!(!p.separates(0, 2, Duration::from_millis(500)));
        assert!(!p.separates(0, 2, Duration::from_secs(2)));
        let iso = Partition::isolate(0, Duration::ZERO, Duration::from_secs(1));
        assert!(iso.separates(0, 3, Duration::ZERO));
        assert!(!iso.separates(1, 3, Duration::ZERO), "the rest still talk");
    }

    #[test]
    fn loss_and_duplication_follow_their_rates() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let net = NetworkModel { drop_rate: 0.1, duplicate_rate: 0.2, ..NetworkModel::default() };
        let (mut lost, mut dup) = (0, 0);
        for _ in 0..10_000 {
            match net.delays(0, 1, &mut rng) {
                None => lost += 1,
                Some(d) if d.len() == 2 => dup += 1,
                Some(d) => {
                    assert!(d[0] >= net.latency && d[0] < net.latency + net.jitter);
                }
            }
        }
        assert!((800..1200).contains(&lost), "lost {lost}");
        assert!((1500..2100).contains(&dup), "duplicated {dup}");
    }

    #[test]
    fn link_overrides_apply_in_one_direction() {
        let mut net = NetworkModel::fixed(Duration::from_millis(1));
        net.links.insert((0, 1), Duration::from_millis(50));
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(net.delays(0, 1, &mut rng), Some(vec![Duration::from_millis(50)]));
        assert_eq!(net.delays(1, 0, &mut rng), Some(vec![Duration::from_millis(1)]));
    }
}
