//! `chainspace keygen`: fresh keys for every replica and a client, and a `network.toml`
//! naming them, in one directory. The file is written with comments so it doubles as the
//! format's documentation, then loaded back through the validator, so what keygen writes
//! is always what `node` accepts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use consensus_any::Protocol;

use super::file::default_api_listen;
use super::{ConfigError, MIN_REPLICAS, NetworkConfig, StoreKind, checkers, keys};

/// The config's file name inside a generated directory.
pub const CONFIG_FILE: &str = "network.toml";

/// The shape of a network to generate.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Number of shards.
    pub shards: u32,
    /// Replicas per shard.
    pub replicas: u32,
    /// The protocol every shard runs (with its default parameters).
    pub protocol: Protocol,
    /// The host every replica listens on.
    pub host: IpAddr,
    /// Replica `s{S}r{R}` listens on `base_port + S * replicas + R`.
    pub base_port: u16,
    /// Where the client API listens.
    pub api_listen: SocketAddr,
    /// Which store replicas use.
    pub store: StoreKind,
    /// `Some(repository)`: every contract with a Python version in
    /// `repository/contracts/python/` is checked by it (a process per replica); the
    /// others natively. `None`: every native contract, natively.
    pub python_root: Option<PathBuf>,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            shards: 2,
            replicas: 4,
            protocol: Protocol::Pbft,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            base_port: 7000,
            api_listen: default_api_listen(),
            store: StoreKind::Redb,
            python_root: None,
        }
    }
}

/// Write keys and `network.toml` for `layout` into `dir` (created if missing) and return
/// the loaded config. Refuses a directory that already holds a config or keys: keys are
/// identities, and silently replacing them would strand the data made under the old ones.
pub fn generate(dir: &Path, layout: &Layout) -> Result<NetworkConfig, ConfigError> {
    let config_path = dir.join(CONFIG_FILE);
    let invalid = |key: &str, reason: String| ConfigError::Invalid {
        path: config_path.clone(),
        key: key.to_string(),
        reason,
    };
    // Checked before anything is written, so a refused layout leaves no stray keys.
    if layout.shards == 0 || (layout.replicas as usize) < MIN_REPLICAS {
        return Err(invalid(
            "shards",
            format!(
                "{} shard(s) of {} replicas: need at least one shard of at least {MIN_REPLICAS}",
                layout.shards, layout.replicas
            ),
        ));
    }
    let count = layout.shards.saturating_mul(layout.replicas);
    let total = u32::from(layout.base_port).saturating_add(count);
    if layout.base_port == 0 || total > u32::from(u16::MAX) + 1 {
        return Err(invalid(
            "--base-port",
            format!("{count} ports from {} do not fit", layout.base_port),
        ));
    }
    if config_path.exists() {
        return Err(invalid("network.toml", "already exists; keygen never overwrites".into()));
    }
    let keys_dir = dir.join("keys");
    create_private_dir(&keys_dir)?;
    let write_key = |name: &str| -> Result<(PathBuf, String), ConfigError> {
        let key = keys::generate().map_err(|reason| invalid(name, reason))?;
        let rel = PathBuf::from("keys").join(format!("{name}.key"));
        let file = dir.join(&rel);
        keys::write(&file, &key).map_err(|source| ConfigError::Write { path: file, source })?;
        Ok((rel, keys::public_hex(&key)))
    };

    let mut text = header(layout);
    let (client_key, _) = write_key("client")?;
    let _ = writeln!(text, "[client_api]");
    let _ = writeln!(text, "listen = \"{}\"", layout.api_listen);
    let _ = writeln!(text, "key_file = {:?}\n", client_key.display().to_string());
    checkers_section(&mut text, layout);
    for s in 0..layout.shards {
        let _ = writeln!(text, "\n# Shard {s}: replicas in index order.\n[[shards]]");
        for r in 0..layout.replicas {
            let port = u32::from(layout.base_port) + s * layout.replicas + r;
            let address = SocketAddr::new(layout.host, port as u16);
            let (key_file, public) = write_key(&format!("s{s}r{r}"))?;
            let _ = writeln!(text, "[[shards.replicas]]");
            let _ = writeln!(text, "address = \"{address}\"");
            let _ = writeln!(text, "public_key = \"{public}\"");
            let _ = writeln!(text, "key_file = {:?}", key_file.display().to_string());
        }
    }
    std::fs::write(&config_path, text)
        .map_err(|source| ConfigError::Write { path: config_path.clone(), source })?;
    NetworkConfig::load(&config_path)
}

/// `[checkers]`: native ones, and Python ones if the layout asks for them.
fn checkers_section(text: &mut String, layout: &Layout) {
    let _ = writeln!(
        text,
        "# How each contract is checked: \"native\" (in the replica's process), \"python\"\n\
         # (contracts/python/<id>.py, a process per replica) or {{ url = \"http://host:port\" }}."
    );
    let _ = writeln!(text, "[checkers]");
    let mut kinds: BTreeMap<String, &str> =
        chainspace_contracts::all().iter().map(|c| (c.id().to_string(), "native")).collect();
    if let Some(root) = &layout.python_root {
        let _ = writeln!(text, "# The repository holding contracts/python/ and python/src/.");
        let _ = writeln!(text, "python_root = {:?}", root.display().to_string());
        let _ =
            writeln!(text, "# python = \"python3\"  # default: $CHAINSPACE_PYTHON, else python3");
        for id in checkers::python_contracts(&root.join("contracts").join("python")) {
            kinds.insert(id, "python");
        }
    }
    for (id, kind) in kinds {
        let _ = writeln!(text, "{id} = \"{kind}\"");
    }
}

fn header(layout: &Layout) -> String {
    let store = match layout.store {
        StoreKind::Redb => "redb",
        StoreKind::Memory => "memory",
    };
    format!(
        "# A Chainspace network, written by `chainspace keygen`. Paths are relative to this file.\n\
         # Run a replica with `chainspace node --config network.toml --shard S --replica R`.\n\
         \n\
         [consensus]\n\
         protocol = \"{protocol}\"\n\
         # Optional overrides of the protocol's parameters (durations in ms), e.g.\n\
         # [consensus.{protocol}]\n\
         # max_batch = 400\n\
         \n\
         [store]\n\
         kind = \"{store}\"\n\
         # Replica s{{S}}r{{R}} keeps its files in data_dir/s{{S}}r{{R}}/.\n\
         data_dir = \"data\"\n\
         \n\
         # Optional QUIC overrides (ms); a peer that crashed is noticed after idle_timeout_ms.\n\
         # [transport]\n\
         # idle_timeout_ms = 15000\n\
         \n",
        protocol = layout.protocol.name(),
    )
}

fn create_private_dir(dir: &Path) -> Result<(), ConfigError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| ConfigError::Write { path: dir.to_path_buf(), source })
}
