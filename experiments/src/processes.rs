//! QUIC runs with every replica in a process of its own: the experiments binary
//! re-executed as `experiments replica s<S>r<R>`, so CPU and memory are measured per
//! replica (from `/proc`) and a crash is a real `SIGKILL`.
//!
//! The parent talks to each child over its stdin and stdout, one line at a time:
//!
//! 1. parent -> child: the [`Spec`] (JSON): the effective experiment config, where to
//!    listen, where to keep data;
//! 2. child -> parent: `ADDR <socket address>` once its QUIC endpoint is bound;
//! 3. parent -> child: `PEERS <JSON map of replica name to address>`; the child starts;
//! 4. parent -> child: `STOP` (or end of file: the parent is gone), and the child answers
//!    `STATS <messages in> <messages out>` and exits.
//!
//! Binding to port 0 and reporting the address, rather than picking ports in the parent,
//! means concurrent runs never race for a port.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use chainspace_core::committee::Committee;
use chainspace_core::crypto::Keypair;
use chainspace_core::replica::Replica;
use chainspace_core::store::{MemoryStore, Store};
use chainspace_core::types::{ReplicaId, ShardId};
use chainspace_node::client::{Client, ClientConfig};
use checker_http::HttpConfig;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};
use transport_quic::{QuicClient, QuicConfig, QuicTransport};

use crate::config::{Experiment, StoreKind, replica_name};
use crate::manifest;
use crate::progress::Progress;
use crate::quic::{Cluster, drive};
use crate::run::{RunError, RunOutput};
use crate::summary::ReplicaUsage;

/// How long a child may take to bind and to answer.
const ANSWER: Duration = Duration::from_secs(30);

/// What a replica process is told.
#[derive(Serialize, Deserialize)]
pub struct Spec {
    /// The config file (for error messages and relative paths).
    pub path: PathBuf,
    /// The effective experiment config, as TOML.
    pub config: String,
    /// Where to listen.
    pub listen: SocketAddr,
    /// Where the redb file and checker logs go.
    pub dir: PathBuf,
}

struct Proc {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

/// mimalloc's setting of how long freed memory stays resident before it is returned, in
/// milliseconds (see [`replica_command`]).
const PURGE_DELAY: &str = "MIMALLOC_PURGE_DELAY";

/// The command that starts replica `name` from `program`. A replica process returns the
/// memory it frees to the system at once (mimalloc otherwise keeps freed pages resident
/// for a while, to reuse them): its resident set is what the run reports and what a
/// replica's memory budget is about. In runs of the shipped 2x4 PBFT config the largest
/// replica's peak went from 140-159 MiB to 117-123 MiB. Whoever sets the variable
/// themselves keeps their value.
fn replica_command(program: &Path, name: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    if std::env::var_os(PURGE_DELAY).is_none() {
        command.env(PURGE_DELAY, "0");
    }
    command.arg("replica").arg(name);
    command
}

/// The replica processes of a run.
struct Processes<'a> {
    program: &'a Path,
    exp: &'a Experiment,
    dir: &'a Path,
    addrs: BTreeMap<ReplicaId, SocketAddr>,
    procs: BTreeMap<ReplicaId, Proc>,
    /// CPU and peak memory of processes that were crashed, per replica.
    gone: BTreeMap<ReplicaId, (f64, f64)>,
}

impl Processes<'_> {
    async fn spawn(&mut self, id: ReplicaId, listen: SocketAddr) -> Result<SocketAddr, RunError> {
        let name = replica_name(id);
        let logs = self.dir.join("logs");
        std::fs::create_dir_all(&logs).map_err(|e| RunError::Output(format!("logs: {e}")))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(logs.join(format!("{name}.log")))
            .map_err(|e| RunError::Output(format!("log of {name}: {e}")))?;
        let mut child = replica_command(self.program, &name)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| RunError::Setup(format!("starting {}: {e}", self.program.display())))?;
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(RunError::Setup(format!("{name}: no pipes")));
        };
        let spec = Spec {
            path: self.exp.path.clone(),
            config: toml::to_string(&self.exp.value).map_err(|e| RunError::Setup(e.to_string()))?,
            listen,
            dir: self.dir.to_path_buf(),
        };
        let line = serde_json::to_string(&spec).map_err(|e| RunError::Setup(e.to_string()))? + "\n";
        stdin
            .write_all(line.as_bytes())
            .await
            .map_err(|e| RunError::Setup(format!("{name}: {e}")))?;
        let mut stdout = BufReader::new(stdout).lines();
        let addr = answer(&mut stdout, &name, "ADDR").await?;
        let addr: SocketAddr = addr
            .parse()
            .map_err(|e| RunError::Setup(format!("{name}: bad address {addr:?}: {e}")))?;
        self.procs.insert(id, Proc { child, stdin, stdout });
        Ok(addr)
    }

    async fn send_peers(&mut self, id: ReplicaId) -> Result<(), RunError> {
        let peers: BTreeMap<String, SocketAddr> =
            self.addrs.iter().map(|(i, a)| (replica_name(*i), *a)).collect();
        let line = format!("PEERS {}\n", serde_json::to_string(&peers).unwrap_or_default());
        if let Some(p) = self.procs.get_mut(&id) {
            p.stdin
                .write_all(line.as_bytes())
                .await
                .map_err(|e| RunError::Setup(format!("{}: {e}", replica_name(id))))?;
        }
        Ok(())
    }

    /// Stop every process: usage first, then `STOP`, then their counters.
    async fn stop(mut self) -> Vec<ReplicaUsage> {
        let mut out = Vec::new();
        for (id, mut p) in std::mem::take(&mut self.procs) {
            let pid = p.child.id().unwrap_or(0);
            let (cpu, rss) = manifest::child_usage(pid).unwrap_or_default();
            let (cpu_before, rss_before) = self.gone.get(&id).copied().unwrap_or_default();
            let _ = p.stdin.write_all(b"STOP\n").await;
            let stats = answer(&mut p.stdout, &replica_name(id), "STATS").await.unwrap_or_default();
            let mut it = stats.split_whitespace().map(|n| n.parse::<u64>().unwrap_or(0));
            let (messages_in, messages_out) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
            let _ = tokio::time::timeout(Duration::from_secs(5), p.child.wait()).await;
            let _ = p.child.start_kill();
            out.push(ReplicaUsage {
                replica: replica_name(id),
                cpu_s: Some(cpu + cpu_before),
                cpu_utilisation: None,
                peak_rss_mib: Some(rss.max(rss_before)),
                messages_in,
                messages_out,
            });
        }
        out
    }
}

impl Cluster for Processes<'_> {
    async fn crash(&mut self, id: ReplicaId) -> Result<(), RunError> {
        if let Some(mut p) = self.procs.remove(&id) {
            let usage = manifest::child_usage(p.child.id().unwrap_or(0)).unwrap_or_default();
            let before = self.gone.entry(id).or_default();
            before.0 += usage.0;
            before.1 = before.1.max(usage.1);
            let _ = p.child.start_kill();
            let _ = p.child.wait().await;
        }
        Ok(())
    }

    async fn restart(&mut self, id: ReplicaId, from_store: bool) -> Result<(), RunError> {
        if self.procs.contains_key(&id) {
            return Ok(());
        }
        if !from_store {
            let _ = std::fs::remove_file(store_path(self.dir, id));
        }
        let listen = self.addrs.get(&id).copied().unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)));
        self.spawn(id, listen).await?;
        self.send_peers(id).await
    }
}

async fn answer(
    lines: &mut Lines<BufReader<ChildStdout>>,
    name: &str,
    tag: &str,
) -> Result<String, RunError> {
    let line = tokio::time::timeout(ANSWER, lines.next_line())
        .await
        .map_err(|_| RunError::Setup(format!("{name}: no {tag} within {} s", ANSWER.as_secs())))?
        .map_err(|e| RunError::Setup(format!("{name}: {e}")))?
        .ok_or_else(|| RunError::Setup(format!("{name} exited before {tag} (see its log)")))?;
    line.strip_prefix(tag)
        .map(|r| r.trim().to_string())
        .ok_or_else(|| RunError::Setup(format!("{name}: expected {tag}, got {line:?}")))
}

fn store_path(dir: &Path, id: ReplicaId) -> PathBuf {
    dir.join("data").join(format!("{}.redb", replica_name(id)))
}

/// Run `exp` with replicas in processes of their own, started from `program`.
pub async fn run(
    exp: &Experiment,
    dir: &Path,
    progress: &Progress,
    program: &Path,
) -> Result<RunOutput, RunError> {
    let mut procs = Processes {
        program,
        exp,
        dir,
        addrs: BTreeMap::new(),
        procs: BTreeMap::new(),
        gone: BTreeMap::new(),
    };
    let (committee, _) = Committee::for_test(exp.cluster.shards, exp.cluster.replicas);
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let ids: Vec<ReplicaId> = (0..exp.cluster.shards)
        .flat_map(|s| {
            (0..exp.cluster.replicas).map(move |index| ReplicaId { shard: ShardId(s), index })
        })
        .collect();
    let mut result = Ok(());
    for id in &ids {
        match procs.spawn(*id, any).await {
            Ok(addr) => {
                procs.addrs.insert(*id, addr);
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if result.is_ok() {
        for id in &ids {
            if let Err(e) = procs.send_peers(*id).await {
                result = Err(e);
                break;
            }
        }
    }
    let endpoints = exp
        .workload
        .clients
        .div_ceil(crate::quic::CLIENTS_PER_ENDPOINT)
        .min(crate::quic::MAX_ENDPOINTS);
    let mut clients = Vec::new();
    if result.is_ok() {
        for n in 0..endpoints {
            let key = Keypair::from_label(&format!("experiment-client-{n}"));
            match QuicClient::bind(&key, any, QuicConfig::default()) {
                Ok(t) => {
                    t.add_committee(&committee, &procs.addrs);
                    clients.push(Client::spawn(
                        committee.clone(),
                        Arc::new(t),
                        ClientConfig::default(),
                    ));
                }
                Err(e) => {
                    result = Err(RunError::Setup(format!("client: {e}")));
                    break;
                }
            }
        }
    }
    let driven = match result {
        Ok(()) => drive(exp, &clients, &mut procs, progress, None).await.map(Some),
        Err(e) => Err(e),
    };
    for c in &clients {
        c.shutdown().await;
    }
    let usage = procs.stop().await;
    if exp.cluster.store == StoreKind::Redb {
        let _ = std::fs::remove_dir_all(dir.join("data"));
    }
    let (mut out, wall) = match driven? {
        Some(x) => x,
        None => return Err(RunError::Setup("no run".into())),
    };
    out.replicas_usage = usage
        .into_iter()
        .map(|mut u| {
            u.cpu_utilisation = u.cpu_s.map(|c| c / wall.as_secs_f64().max(1e-9));
            u
        })
        .collect();
    out.process = Some(crate::summary::ProcessUsage {
        cpu_s: manifest::process_cpu_seconds(),
        peak_rss_mib: manifest::peak_rss_mib(),
    });
    out.notes.push(
        "replicas in processes of their own; process usage is the clients' and the controller's"
            .into(),
    );
    Ok(out)
}

/// The body of `experiments replica <name>`: one replica process, as described above.
pub async fn replica_main(name: &str) -> anyhow::Result<()> {
    let stdin = tokio::io::stdin();
    let mut lines = BufReader::new(stdin).lines();
    let spec: Spec = serde_json::from_str(
        &lines.next_line().await?.ok_or_else(|| anyhow::anyhow!("no spec on stdin"))?,
    )?;
    let value: toml::Table = toml::from_str(&spec.config)?;
    let exp = crate::config::from_value(&spec.path, &spec.config, toml::Value::Table(value))?;
    let (committee, keys) = Committee::for_test(exp.cluster.shards, exp.cluster.replicas);
    let id = committee
        .shards
        .iter()
        .flat_map(|s| s.indices().map(move |index| ReplicaId { shard: s.shard, index }))
        .find(|id| replica_name(*id) == name)
        .ok_or_else(|| anyhow::anyhow!("no replica {name} in the cluster"))?;
    let key = keys[id.shard.0 as usize][id.index as usize].clone();
    let transport =
        Arc::new(QuicTransport::bind(&key, committee.clone(), spec.listen, QuicConfig::default())?);
    let mut out = tokio::io::stdout();
    out.write_all(format!("ADDR {}\n", transport.local_addr()?).as_bytes()).await?;
    out.flush().await?;
    let peers = lines.next_line().await?.ok_or_else(|| anyhow::anyhow!("no peers"))?;
    let peers: BTreeMap<String, SocketAddr> =
        serde_json::from_str(peers.strip_prefix("PEERS").unwrap_or(&peers).trim())?;
    let peers: Vec<(ReplicaId, SocketAddr)> = committee
        .shards
        .iter()
        .flat_map(|s| s.indices().map(move |index| ReplicaId { shard: s.shard, index }))
        .filter(|r| *r != id)
        .filter_map(|r| peers.get(&replica_name(r)).map(|a| (r, *a)))
        .collect();
    transport.set_peers(peers)?;
    let store: Arc<dyn Store> = match exp.cluster.store {
        StoreKind::Memory => Arc::new(MemoryStore::new()),
        StoreKind::Redb => {
            let path = store_path(&spec.dir, id);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            Arc::new(store_redb::RedbStore::open(path)?)
        }
    };
    let shard = committee.shards[id.shard.0 as usize].clone();
    let consensus = exp.cluster.protocol.build(shard, id.index, key.clone())?;
    let config = exp.replica_config();
    let replica = Replica::open(id, key, committee, config, consensus, store)?;
    let log_dir = spec.dir.join("logs").join("checkers").join(name);
    let checkers =
        checker_http::build(exp.cluster.checkers.choices(&log_dir), &HttpConfig::default())?;
    checkers.start_all().await?;
    let handle =
        chainspace_node::runtime::spawn(replica, transport.clone(), checkers.registry.clone());
    // Run until told to stop, or until the parent is gone (end of file).
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim() == "STOP" {
            break;
        }
    }
    let stats = handle.shutdown().await;
    transport.shutdown(Duration::from_secs(1)).await;
    checkers.shutdown_all().await;
    out.write_all(format!("STATS {} {}\n", stats.messages_in, stats.messages_out).as_bytes())
        .await?;
    out.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_processes_return_freed_memory_at_once_unless_told_otherwise() {
        let command = replica_command(Path::new("/bin/true"), "s0r1");
        let std = command.as_std();
        let args: Vec<_> = std.get_args().collect();
        assert_eq!(args, ["replica", "s0r1"]);
        let set = std.get_envs().find(|(k, _)| *k == PURGE_DELAY).and_then(|(_, v)| v);
        match std::env::var_os(PURGE_DELAY) {
            None => assert_eq!(set, Some(std::ffi::OsStr::new("0"))),
            Some(_) => assert_eq!(set, None, "the caller's own value is inherited"),
        }
    }
}
