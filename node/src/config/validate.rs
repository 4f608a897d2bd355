//! From the file as written to a [`NetworkConfig`] that can be run: every check that
//! needs more than a type (names, shapes, duplicates, key files) happens here, once, so
//! the commands that use a config never meet a half-valid one.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chainspace_core::committee::{Committee, ShardCommittee};
use chainspace_core::crypto::{Keypair, PublicKey};
use chainspace_core::types::{ReplicaId, ShardId};
use consensus_any::{Protocol, ProtocolConfig};
use consensus_hotstuff::HotStuffConfig;
use consensus_pbft::PbftConfig;
use transport_quic::QuicConfig;

use super::checkers::{self, Source};
use super::file::{
    ConsensusSection, HotStuffParams, NetworkFile, PbftParams, StoreKind, TransportSection,
};
use super::{ClientApiConfig, ConfigError, NetworkConfig, ReplicaEntry, StoreConfig, keys};

/// The fewest replicas of a shard that tolerate one Byzantine replica (3f + 1, f = 1).
pub const MIN_REPLICAS: usize = 4;

/// Copies each given value over the default.
macro_rules! set {
    ($cfg:ident.$field:ident = $value:expr) => {
        if let Some(v) = $value {
            $cfg.$field = v;
        }
    };
    ($cfg:ident.$field:ident = ms $value:expr) => {
        if let Some(v) = $value {
            $cfg.$field = Duration::from_millis(v);
        }
    };
}

/// Names the file in every error.
struct Ctx<'a> {
    path: &'a Path,
    base: PathBuf,
}

impl Ctx<'_> {
    fn invalid(&self, key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// Paths in the file are relative to the file, not to wherever the command runs.
    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() { p.to_path_buf() } else { self.base.join(p) }
    }

    fn key_file(&self, key: &str, file: &Path) -> Result<Keypair, ConfigError> {
        keys::read(file).map_err(|reason| ConfigError::KeyFile {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            file: file.to_path_buf(),
            reason,
        })
    }
}

/// Check `raw`, read from `path`, and resolve its paths.
pub(super) fn validate(raw: NetworkFile, path: &Path) -> Result<NetworkConfig, ConfigError> {
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let cx = Ctx { path, base };
    let mut warnings = Vec::new();
    let protocol = protocol(&cx, &raw.consensus)?;

    if raw.shards.is_empty() {
        return Err(cx.invalid("shards", "no shards: add [[shards]] with [[shards.replicas]]"));
    }
    let mut replicas = BTreeMap::new();
    let mut shards = Vec::new();
    let mut seen_addr: HashMap<SocketAddr, String> = HashMap::new();
    let mut seen_key: HashMap<PublicKey, String> = HashMap::new();
    for (s, shard) in raw.shards.iter().enumerate() {
        let n = shard.replicas.len();
        if n < MIN_REPLICAS {
            return Err(cx.invalid(
                format!("shards[{s}].replicas"),
                format!("{n} replica(s); a BFT shard needs at least {MIN_REPLICAS} (3f+1, f >= 1)"),
            ));
        }
        if (n - 1) % 3 != 0 {
            let f = (n - 1) / 3;
            warnings.push(format!(
                "shards[{s}] has {n} replicas: it tolerates only f = {f}, as {} would",
                3 * f + 1
            ));
        }
        let mut members = Vec::new();
        for (r, rep) in shard.replicas.iter().enumerate() {
            let at = format!("shards[{s}].replicas[{r}]");
            if rep.address.port() == 0 || rep.address.ip().is_unspecified() {
                return Err(cx.invalid(
                    format!("{at}.address"),
                    format!("{} cannot be dialled by peers; give a host and port", rep.address),
                ));
            }
            if let Some(other) = seen_addr.insert(rep.address, at.clone()) {
                return Err(cx.invalid(
                    format!("{at}.address"),
                    format!("{} is also the address of {other}", rep.address),
                ));
            }
            let public = public_key(&rep.public_key)
                .map_err(|reason| cx.invalid(format!("{at}.public_key"), reason))?;
            if let Some(other) = seen_key.insert(public, at.clone()) {
                return Err(cx.invalid(
                    format!("{at}.public_key"),
                    format!("also the key of {other}: one key would count twice in quorums"),
                ));
            }
            let key_file = rep.key_file.as_deref().map(|f| cx.resolve(f));
            let key = match &key_file {
                Some(file) => {
                    let key = cx.key_file(&format!("{at}.key_file"), file)?;
                    if key.public() != public {
                        return Err(ConfigError::KeyFile {
                            path: path.to_path_buf(),
                            key: format!("{at}.key_file"),
                            file: file.clone(),
                            reason: format!(
                                "holds the secret of {}, not of {at}.public_key",
                                keys::public_hex(&key)
                            ),
                        });
                    }
                    Some(key)
                }
                None => None,
            };
            let id = ReplicaId { shard: ShardId(s as u32), index: r as u32 };
            replicas.insert(id, ReplicaEntry { address: rep.address, key_file, key });
            members.push(public);
        }
        let committee = ShardCommittee::new(ShardId(s as u32), members)
            .map_err(|e| cx.invalid(format!("shards[{s}]"), e.to_string()))?;
        shards.push(committee);
    }
    let committee = Committee::new(shards).map_err(|e| cx.invalid("shards", e.to_string()))?;

    let src = Source { path, base: &cx.base };
    let checkers = checkers::read(&src, raw.checkers, &mut warnings)?;
    let quic = transport(&cx, &raw.transport)?;

    let store = StoreConfig { kind: raw.store.kind, data_dir: cx.resolve(&raw.store.data_dir) };
    if store.kind == StoreKind::Memory {
        warnings.push("store.kind = \"memory\": a restarted replica starts empty".into());
    }

    let api_key_file = raw.client_api.key_file.as_deref().map(|f| cx.resolve(f));
    let api_key = match &api_key_file {
        Some(file) => {
            let key = cx.key_file("client_api.key_file", file)?;
            if let Some(at) = seen_key.get(&key.public()) {
                return Err(cx.invalid(
                    "client_api.key_file",
                    format!("holds the key of {at}: a client must not speak as a replica"),
                ));
            }
            Some(key)
        }
        None => None,
    };
    let client_api =
        ClientApiConfig { listen: raw.client_api.listen, key_file: api_key_file, key: api_key };

    Ok(NetworkConfig {
        path: path.to_path_buf(),
        protocol,
        committee,
        replicas,
        store,
        client_api,
        checkers,
        quic,
        warnings,
    })
}

fn transport(cx: &Ctx<'_>, t: &TransportSection) -> Result<QuicConfig, ConfigError> {
    let mut q = QuicConfig::default();
    set!(q.idle_timeout = ms t.idle_timeout_ms);
    set!(q.keep_alive = ms t.keep_alive_ms);
    set!(q.connect_timeout = ms t.connect_timeout_ms);
    set!(q.backoff_max = ms t.backoff_max_ms);
    set!(q.max_udp_payload = t.max_udp_payload);
    let payloads = transport_quic::MIN_UDP_PAYLOAD..=transport_quic::MAX_UDP_PAYLOAD;
    if !payloads.contains(&q.max_udp_payload) {
        return Err(cx.invalid(
            "transport.max_udp_payload",
            format!(
                "{} is outside {}..={} (QUIC's minimum to IPv6's largest UDP payload)",
                q.max_udp_payload,
                payloads.start(),
                payloads.end()
            ),
        ));
    }
    let zero = [
        ("idle_timeout_ms", q.idle_timeout),
        ("keep_alive_ms", q.keep_alive),
        ("connect_timeout_ms", q.connect_timeout),
        ("backoff_max_ms", q.backoff_max),
    ];
    if let Some((key, _)) = zero.iter().find(|(_, d)| d.is_zero()) {
        return Err(cx.invalid(format!("transport.{key}"), "must be positive"));
    }
    if q.keep_alive >= q.idle_timeout {
        return Err(cx.invalid(
            "transport.keep_alive_ms",
            format!(
                "{} ms is not under idle_timeout_ms ({} ms): idle links would be dropped",
                q.keep_alive.as_millis(),
                q.idle_timeout.as_millis()
            ),
        ));
    }
    q.backoff_max = q.backoff_max.max(q.backoff_min);
    Ok(q)
}

fn public_key(text: &str) -> Result<PublicKey, String> {
    let bytes = hex::decode(text.trim()).map_err(|e| format!("not hex ({e})"))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("{} bytes; an ed25519 public key has 32", b.len()))?;
    Ok(PublicKey::from_bytes(bytes))
}

fn protocol(cx: &Ctx<'_>, c: &ConsensusSection) -> Result<ProtocolConfig, ConfigError> {
    let p: Protocol = c.protocol.parse().map_err(|e: consensus_any::ProtocolError| {
        cx.invalid("consensus.protocol", e.to_string())
    })?;
    let stray = match p {
        Protocol::Pbft => c.hotstuff.as_ref().map(|_| "hotstuff"),
        Protocol::HotStuff => c.pbft.as_ref().map(|_| "pbft"),
    };
    if let Some(other) = stray {
        return Err(cx.invalid(
            format!("consensus.{other}"),
            format!("parameters of {other}, but consensus.protocol is {p:?}", p = p.name()),
        ));
    }
    let mut config = p.default_config();
    match &mut config {
        ProtocolConfig::Pbft(cfg) => {
            apply_pbft(cfg, c.pbft.as_ref().unwrap_or(&PbftParams::default()));
            cfg.validate().map_err(|e| cx.invalid("consensus.pbft", e.to_string()))?;
        }
        ProtocolConfig::HotStuff(cfg) => {
            apply_hotstuff(cfg, c.hotstuff.as_ref().unwrap_or(&HotStuffParams::default()));
            cfg.validate().map_err(|e| cx.invalid("consensus.hotstuff", e.to_string()))?;
        }
    }
    Ok(config)
}

/// Apply the overrides of `[consensus.pbft]` (or an experiment's `[cluster.pbft]`).
pub fn apply_pbft(cfg: &mut PbftConfig, p: &PbftParams) {
    set!(cfg.max_batch = p.max_batch);
    set!(cfg.max_batch_bytes = p.max_batch_bytes);
    set!(cfg.batch_timeout = ms p.batch_timeout_ms);
    set!(cfg.max_in_flight = p.max_in_flight);
    set!(cfg.checkpoint_interval = p.checkpoint_interval);
    set!(cfg.window = p.window);
    set!(cfg.tick = ms p.tick_ms);
    set!(cfg.request_timeout_ticks = p.request_timeout_ticks);
    set!(cfg.view_change_timeout = ms p.view_change_timeout_ms);
    set!(cfg.dedup_window = p.dedup_window);
    set!(cfg.catch_up_batches = p.catch_up_batches);
    set!(cfg.status_interval_ticks = p.status_interval_ticks);
    set!(cfg.request_digests = p.request_digests);
}

/// Apply the overrides of `[consensus.hotstuff]` (or an experiment's `[cluster.hotstuff]`).
pub fn apply_hotstuff(cfg: &mut HotStuffConfig, p: &HotStuffParams) {
    set!(cfg.max_batch = p.max_batch);
    set!(cfg.max_batch_bytes = p.max_batch_bytes);
    set!(cfg.max_batch_delay = ms p.max_batch_delay_ms);
    set!(cfg.round_timeout = ms p.round_timeout_ms);
    set!(cfg.max_backoff_exponent = p.max_backoff_exponent);
    set!(cfg.checkpoint_interval = p.checkpoint_interval);
    set!(cfg.dedup_window = p.dedup_window);
    set!(cfg.fetch_blocks = p.fetch_blocks);
    set!(cfg.fetch_retry = ms p.fetch_retry_ms);
    set!(cfg.status_interval_ticks = p.status_interval_ticks);
    set!(cfg.proposal_digests = p.proposal_digests);
}
