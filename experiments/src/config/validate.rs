//! From the file as written ([`super::file`]) to a checked [`Experiment`].

use std::path::Path;
use std::time::Duration;

use chainspace_core::sim::CostModel;
use chainspace_core::types::{ReplicaId, ShardId};
use chainspace_node::config::file::{HotStuffParams, PbftParams};
use chainspace_node::config::{CheckerKind, MIN_REPLICAS, apply_hotstuff, apply_pbft};
use consensus_any::{Protocol, ProtocolConfig};
use serde::Deserialize;

use super::file::{ClusterSection, ExperimentFile, FaultSection, SimSection, WorkloadSection};
use super::{
    Byzantine, Cluster, ConfigError, Experiment, Fault, FaultKind, Load, Processes, SimParams,
    StoreKind, TransportKind, Workload, WorkloadKind,
};

/// The contracts the workload generator knows.
pub const WORKLOAD_CONTRACTS: [&str; 1] = ["dummy"];

/// Errors about the file `path`.
pub(super) struct Ctx<'a> {
    pub path: &'a Path,
}

impl Ctx<'_> {
    pub fn invalid(&self, key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    fn range(&self, key: &str, v: f64, lo: f64, hi: f64) -> Result<f64, ConfigError> {
        if v.is_finite() && v >= lo && v <= hi {
            Ok(v)
        } else {
            Err(self.invalid(key, format!("{v} is out of range: expected {lo} to {hi}")))
        }
    }
}

/// Check the experiment held in `value` (the file `path`, whose text is `text`).
pub fn from_value(path: &Path, text: &str, value: toml::Value) -> Result<Experiment, ConfigError> {
    let table = value.as_table().cloned().unwrap_or_default();
    let file = ExperimentFile::deserialize(value)
        .map_err(|e| ConfigError::Syntax { path: path.to_path_buf(), message: e.to_string() })?;
    let cx = Ctx { path };
    let name = match file.name {
        Some(n) => n,
        None => path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    if name.is_empty()
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(cx.invalid("name", format!("{name:?}: use letters, digits, '-', '_', '.'")));
    }
    let cluster = cluster(&cx, file.cluster, &file.sim)?;
    let workload = workload(&cx, file.workload, &cluster)?;
    let mut faults = Vec::new();
    for (i, f) in file.faults.into_iter().enumerate() {
        let f = fault(&cx, i, f, &cluster)?;
        if matches!(f.kind, FaultKind::Byzantine(..))
            && matches!(workload.kind, WorkloadKind::Consensus { .. })
        {
            return Err(cx.invalid(
                format!("faults[{i}].kind"),
                "Byzantine behaviours are of S-BAC votes: none with workload.kind = \"consensus\"",
            ));
        }
        faults.push(f);
    }
    faults.sort_by_key(|f| f.at);
    fault_order(&cx, &faults)?;
    Ok(Experiment {
        name,
        seed: file.seed,
        output: file.output,
        cluster,
        workload,
        faults,
        path: path.to_path_buf(),
        text: text.to_string(),
        value: table,
    })
}

fn protocol(
    cx: &Ctx<'_>,
    name: &str,
    pbft: Option<&PbftParams>,
    hotstuff: Option<&HotStuffParams>,
) -> Result<ProtocolConfig, ConfigError> {
    let p: Protocol = name.parse().map_err(|e: consensus_any::ProtocolError| {
        cx.invalid("cluster.consensus", e.to_string())
    })?;
    // Parameters of the protocol not run are checked too: a sweep over protocols, or the
    // day the protocol is switched, would meet them.
    if let (Protocol::HotStuff, Some(params)) = (p, pbft) {
        let mut cfg = consensus_pbft::PbftConfig::default();
        apply_pbft(&mut cfg, params);
        cfg.validate().map_err(|e| cx.invalid("cluster.pbft", e.to_string()))?;
    }
    if let (Protocol::Pbft, Some(params)) = (p, hotstuff) {
        let mut cfg = consensus_hotstuff::HotStuffConfig::default();
        apply_hotstuff(&mut cfg, params);
        cfg.validate().map_err(|e| cx.invalid("cluster.hotstuff", e.to_string()))?;
    }
    let mut config = p.default_config();
    match &mut config {
        ProtocolConfig::Pbft(cfg) => {
            apply_pbft(cfg, pbft.unwrap_or(&PbftParams::default()));
            cfg.validate().map_err(|e| cx.invalid("cluster.pbft", e.to_string()))?;
        }
        ProtocolConfig::HotStuff(cfg) => {
            apply_hotstuff(cfg, hotstuff.unwrap_or(&HotStuffParams::default()));
            cfg.validate().map_err(|e| cx.invalid("cluster.hotstuff", e.to_string()))?;
        }
    }
    Ok(config)
}

fn cluster(cx: &Ctx<'_>, c: ClusterSection, sim: &SimSection) -> Result<Cluster, ConfigError> {
    if !(1..=256).contains(&c.shards) {
        return Err(cx.invalid("cluster.shards", format!("{}: expected 1 to 256", c.shards)));
    }
    if c.replicas < MIN_REPLICAS as u32 || c.replicas > 100 {
        return Err(cx.invalid(
            "cluster.replicas",
            format!("{}: expected {MIN_REPLICAS} (3f+1 with f=1) to 100", c.replicas),
        ));
    }
    // Parameters of both protocols may be given, so that a sweep over `cluster.consensus`
    // compares them each with its own settings.
    let protocol = protocol(cx, &c.consensus, c.pbft.as_ref(), c.hotstuff.as_ref())?;
    // `[sim]` is checked even when unused, so a mistake in it never waits for the day the
    // transport is switched.
    let sim = sim_params(cx, sim)?;
    let transport = match (c.transport.as_str(), c.processes.as_str()) {
        ("sim", "one") => TransportKind::Sim(sim),
        ("sim", other) => {
            return Err(cx.invalid(
                "cluster.processes",
                format!("{other:?}: the simulator runs in one process; remove the key"),
            ));
        }
        ("quic", "one") => TransportKind::Quic { processes: Processes::One },
        ("quic", "many") => TransportKind::Quic { processes: Processes::Many },
        ("quic", other) => {
            return Err(
                cx.invalid("cluster.processes", format!("{other:?}: expected \"one\" or \"many\""))
            );
        }
        (other, _) => {
            return Err(
                cx.invalid("cluster.transport", format!("{other:?}: expected \"quic\" or \"sim\""))
            );
        }
    };
    let store = match c.store.as_str() {
        "memory" => StoreKind::Memory,
        "redb" if matches!(transport, TransportKind::Sim(_)) => {
            return Err(cx.invalid(
                "cluster.store",
                "\"redb\": the simulator keeps objects in memory (its restarts model a durable store)",
            ));
        }
        "redb" => StoreKind::Redb,
        other => {
            return Err(
                cx.invalid("cluster.store", format!("{other:?}: expected \"memory\" or \"redb\""))
            );
        }
    };
    if c.check_timeout_ms == 0 {
        return Err(cx.invalid("cluster.check_timeout_ms", "must be at least 1"));
    }
    let base = cx.path.parent().unwrap_or(Path::new("."));
    let mut warnings = Vec::new();
    let checkers = chainspace_node::config::read_checkers(cx.path, base, c.checkers, &mut warnings)
        .map_err(|e| match e {
            chainspace_node::config::ConfigError::Invalid { key, reason, .. } => {
                cx.invalid(format!("cluster.{key}"), reason)
            }
            other => cx.invalid("cluster.checkers", other.to_string()),
        })?;
    for w in warnings {
        tracing::warn!("{}: {w}", cx.path.display());
    }
    if matches!(transport, TransportKind::Sim(_))
        && let Some((id, _)) = checkers.contracts.iter().find(|(_, k)| **k != CheckerKind::Native)
    {
        return Err(cx.invalid(
            format!("cluster.checkers.{id}"),
            "the simulator runs native checkers only (its checks are synchronous calls)",
        ));
    }
    Ok(Cluster {
        shards: c.shards,
        replicas: c.replicas,
        protocol,
        transport,
        store,
        check_timeout: Duration::from_millis(c.check_timeout_ms),
        checkers,
    })
}

fn sim_params(cx: &Ctx<'_>, s: &SimSection) -> Result<SimParams, ConfigError> {
    let latency = cx.range("sim.latency_ms", s.latency_ms, 0.0, 10_000.0)?;
    let jitter = cx.range("sim.jitter_ms", s.jitter_ms, 0.0, 10_000.0)?;
    let loss = cx.range("sim.loss", s.loss, 0.0, 0.99)?;
    let per_message = cx.range("sim.per_message_us", s.per_message_us, 0.0, 1e6)?;
    let per_check = cx.range("sim.per_check_us", s.per_check_us, 0.0, 1e6)?;
    let calibration = s.calibration.clone().unwrap_or_else(|| {
        if per_message == super::DEFAULT_PER_MESSAGE_US && per_check == super::DEFAULT_PER_CHECK_US
        {
            "defaults: measured over QUIC on the reference machine (BENCHMARKS.md, Calibration)"
                .into()
        } else {
            "set in the config file".into()
        }
    });
    let us = |v: f64| Duration::from_nanos((v * 1e3).round() as u64);
    Ok(SimParams {
        latency: us(latency * 1e3),
        jitter: us(jitter * 1e3),
        loss,
        cost: CostModel { per_message: us(per_message), per_check: us(per_check) },
        calibration,
    })
}

fn workload(cx: &Ctx<'_>, w: WorkloadSection, c: &Cluster) -> Result<Workload, ConfigError> {
    let defaults = WorkloadSection::default();
    let kind = match w.kind.as_str() {
        "sbac" => {
            if w.command_bytes != defaults.command_bytes {
                return Err(cx.invalid(
                    "workload.command_bytes",
                    "only for workload.kind = \"consensus\" (S-BAC sends dummy transactions)",
                ));
            }
            WorkloadKind::Sbac
        }
        "consensus" => {
            // Keys that only shape S-BAC transactions would be silently ignored: refuse them.
            let sbac_only = [
                ("workload.contract", w.contract != defaults.contract),
                ("workload.inputs", w.inputs != defaults.inputs),
                ("workload.outputs", w.outputs != defaults.outputs),
                ("workload.cross_shard", w.cross_shard != defaults.cross_shard),
                ("workload.conflict", w.conflict != defaults.conflict),
                ("workload.pool", w.pool != defaults.pool),
                ("workload.prefill", w.prefill != defaults.prefill),
            ];
            if let Some((key, _)) = sbac_only.iter().find(|(_, set)| *set) {
                return Err(cx.invalid(
                    *key,
                    "shapes S-BAC transactions: not with workload.kind = \"consensus\"",
                ));
            }
            if !(16..=1 << 20).contains(&w.command_bytes) {
                return Err(cx.invalid(
                    "workload.command_bytes",
                    format!("{}: expected 16 to 1048576", w.command_bytes),
                ));
            }
            WorkloadKind::Consensus { command_bytes: w.command_bytes }
        }
        other => {
            return Err(cx.invalid(
                "workload.kind",
                format!("{other:?}: expected \"sbac\" or \"consensus\""),
            ));
        }
    };
    if !WORKLOAD_CONTRACTS.contains(&w.contract.as_str()) {
        return Err(cx.invalid(
            "workload.contract",
            format!(
                "{:?}: the workload generator knows {}",
                w.contract,
                WORKLOAD_CONTRACTS.join(", ")
            ),
        ));
    }
    if !c.checkers.contracts.contains_key(&w.contract) {
        return Err(cx.invalid(
            "cluster.checkers",
            format!("no checker for the workload's contract {:?}", w.contract),
        ));
    }
    if !(1..=64).contains(&w.inputs) {
        return Err(cx.invalid("workload.inputs", format!("{}: expected 1 to 64", w.inputs)));
    }
    if w.outputs > 1 {
        return Err(cx.invalid("workload.outputs", format!("{}: dummy creates 0 or 1", w.outputs)));
    }
    let cross_shard = cx.range("workload.cross_shard", w.cross_shard, 0.0, 1.0)?;
    if cross_shard > 0.0 && (c.shards < 2 || w.inputs < 2) {
        return Err(cx.invalid(
            "workload.cross_shard",
            "spanning shards needs cluster.shards >= 2 and workload.inputs >= 2",
        ));
    }
    let conflict = cx.range("workload.conflict", w.conflict, 0.0, 1.0)?;
    if !(1..=100_000).contains(&w.clients) {
        return Err(cx.invalid("workload.clients", format!("{}: expected 1 to 100000", w.clients)));
    }
    let load = match w.rate {
        None => Load::Closed,
        Some(rate) => Load::Open { rate: cx.range("workload.rate", rate, 0.001, 1e7)? },
    };
    let duration = cx.range("workload.duration_s", w.duration_s, 0.001, 1e6)?;
    let warmup = cx.range("workload.warmup_s", w.warmup_s, 0.0, 1e6)?;
    if w.transactions == Some(0) {
        return Err(cx.invalid("workload.transactions", "must be at least 1 (or absent)"));
    }
    // A refill is asked for below max(pool / 2, inputs x shards) objects: a smaller pool
    // would refill without end.
    let least = 2 * w.inputs * c.shards as usize;
    if w.pool < least || w.pool > 100_000 {
        return Err(cx.invalid(
            "workload.pool",
            format!(
                "{}: expected 2 x workload.inputs x cluster.shards ({least}) to 100000",
                w.pool
            ),
        ));
    }
    if w.prefill > 1_000_000 {
        return Err(cx.invalid("workload.prefill", format!("{}: expected 0 to 1000000", w.prefill)));
    }
    if w.max_in_flight == 0 {
        return Err(cx.invalid("workload.max_in_flight", "must be at least 1"));
    }
    Ok(Workload {
        kind,
        contract: w.contract,
        inputs: w.inputs,
        outputs: w.outputs,
        cross_shard,
        conflict,
        clients: w.clients,
        load,
        duration: Duration::from_secs_f64(duration),
        warmup: Duration::from_secs_f64(warmup),
        transactions: w.transactions,
        pool: w.pool,
        prefill: w.prefill,
        max_in_flight: w.max_in_flight,
    })
}

/// `s{shard}r{index}` of a replica in the cluster.
fn replica(cx: &Ctx<'_>, key: &str, name: &str, c: &Cluster) -> Result<ReplicaId, ConfigError> {
    let bad = || cx.invalid(key, format!("{name:?}: expected s<shard>r<index>, like \"s0r1\""));
    let rest = name.strip_prefix('s').ok_or_else(bad)?;
    let (s, r) = rest.split_once('r').ok_or_else(bad)?;
    let (shard, index): (u32, u32) = (s.parse().map_err(|_| bad())?, r.parse().map_err(|_| bad())?);
    if shard >= c.shards || index >= c.replicas {
        return Err(cx.invalid(
            key,
            format!(
                "{name:?} is not in the cluster ({} shards of {} replicas)",
                c.shards, c.replicas
            ),
        ));
    }
    Ok(ReplicaId { shard: ShardId(shard), index })
}

fn fault(cx: &Ctx<'_>, i: usize, f: FaultSection, c: &Cluster) -> Result<Fault, ConfigError> {
    let key = |k: &str| format!("faults[{i}].{k}");
    let at = cx.range(&key("at_s"), f.at_s, 0.0, 1e6)?;
    let one = |f: &FaultSection| -> Result<ReplicaId, ConfigError> {
        let name = f.replica.as_deref().ok_or_else(|| {
            cx.invalid(
                key("replica"),
                format!("a {:?} fault needs the replica, like \"s0r1\"", f.kind),
            )
        })?;
        replica(cx, &key("replica"), name, c)
    };
    let until = |f: &FaultSection| -> Result<Duration, ConfigError> {
        let u =
            f.until_s.ok_or_else(|| cx.invalid(key("until_s"), "needed: when the fault heals"))?;
        if !(u.is_finite() && u > at) {
            return Err(cx.invalid(key("until_s"), format!("{u}: must be after at_s ({at})")));
        }
        Ok(Duration::from_secs_f64(u))
    };
    let kind = match f.kind.as_str() {
        "crash" => FaultKind::Crash(one(&f)?),
        "restart" => {
            let from_store = match f.from.as_deref().unwrap_or("store") {
                "store" => true,
                "nothing" => false,
                other => {
                    return Err(cx.invalid(
                        key("from"),
                        format!("{other:?}: expected \"store\" or \"nothing\""),
                    ));
                }
            };
            FaultKind::Restart(one(&f)?, from_store)
        }
        "partition" => {
            let names = f.replicas.as_deref().unwrap_or_default();
            if names.is_empty() {
                return Err(
                    cx.invalid(key("replicas"), "a partition needs the replicas it cuts off")
                );
            }
            let ids = names
                .iter()
                .map(|n| replica(cx, &key("replicas"), n, c))
                .collect::<Result<Vec<_>, _>>()?;
            FaultKind::Partition(ids, until(&f)?)
        }
        "delay" => {
            let d =
                f.delay_ms.ok_or_else(|| cx.invalid(key("delay_ms"), "needed: the extra delay"))?;
            let d = cx.range(&key("delay_ms"), d, 0.001, 1e6)?;
            FaultKind::Delay(one(&f)?, Duration::from_secs_f64(d / 1e3), until(&f)?)
        }
        "byzantine" => {
            let b = match f.behaviour.as_deref() {
                Some("silent") => Byzantine::Silent,
                Some("wrong-vote") => Byzantine::WrongVote,
                Some("garbage-signature") => Byzantine::GarbageSignature,
                Some("equivocate") => Byzantine::Equivocate,
                other => {
                    return Err(cx.invalid(
                        key("behaviour"),
                        format!(
                            "{other:?}: expected \"silent\", \"wrong-vote\", \"garbage-signature\" or \"equivocate\""
                        ),
                    ));
                }
            };
            FaultKind::Byzantine(one(&f)?, b)
        }
        other => {
            return Err(cx.invalid(
                key("kind"),
                format!("{other:?}: expected crash, restart, partition, delay or byzantine"),
            ));
        }
    };
    if let TransportKind::Quic { .. } = c.transport
        && !matches!(kind, FaultKind::Crash(_) | FaultKind::Restart(..))
    {
        return Err(cx.invalid(
            key("kind"),
            format!(
                "{:?} needs cluster.transport = \"sim\": over QUIC the runner crashes and restarts replicas only",
                f.kind
            ),
        ));
    }
    if let (
        TransportKind::Quic { processes: Processes::Many },
        StoreKind::Memory,
        FaultKind::Restart(_, true),
    ) = (&c.transport, c.store, &kind)
    {
        return Err(cx.invalid(
            key("from"),
            "\"store\" with replicas in processes of their own needs cluster.store = \"redb\" \
             (a memory store dies with its process); or restart from \"nothing\"",
        ));
    }
    Ok(Fault { at: Duration::from_secs_f64(at), kind })
}

/// Crashes and restarts must alternate per replica: crash a running one, restart a
/// crashed one (`faults` sorted by time).
fn fault_order(cx: &Ctx<'_>, faults: &[Fault]) -> Result<(), ConfigError> {
    let mut down = std::collections::BTreeSet::new();
    for f in faults {
        let at = f.at.as_secs_f64();
        match &f.kind {
            FaultKind::Crash(id) if !down.insert(*id) => {
                return Err(cx.invalid(
                    "faults",
                    format!("{} crashes at {at} s but is already down", super::replica_name(*id)),
                ));
            }
            FaultKind::Restart(id, _) if !down.remove(id) => {
                return Err(cx.invalid(
                    "faults",
                    format!("{} restarts at {at} s but is running", super::replica_name(*id)),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}
