//! `[checkers]`: how each contract's calls are checked.
//!
//! ```toml
//! [checkers]
//! addition = "native"                     # the Rust checker, in the replica's process
//! bank_authenticated = "python"           # contracts_dir/bank_authenticated.py, run by the replica
//! vote = { url = "http://127.0.0.1:5003" } # a checker service someone else runs
//! # Optional settings of "python" checkers (paths relative to this file):
//! python = "../venv/bin/python"           # default: $CHAINSPACE_PYTHON, else python3
//! python_root = "../.."                   # the repository: python/src goes on PYTHONPATH
//! contracts_dir = "contracts/python"      # default: python_root/contracts/python
//! ```
//!
//! A contract's checker is a choice per run, so one network can compare the Python checker
//! of a contract with its Rust one, or run a contract that only exists in Python. The
//! entries are read by hand rather than by serde so that every mistake (an unknown kind, a
//! missing script, a bad URL) is reported with the key it is about. `python`,
//! `python_root` and `contracts_dir` are settings, so no contract can be named after them.
//!
//! Without `python_root`, the repository is looked for in the config file's directory and
//! its ancestors (a directory holding `contracts/python/` and `python/src/`), so a config
//! kept inside a checkout needs no path at all.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use checker_http::{CheckerChoice, ManagedCommand, ManagedConfig};

use super::ConfigError;

/// Keys of `[checkers]` that are settings, not contracts.
pub const SETTINGS: [&str; 3] = ["python", "python_root", "contracts_dir"];

/// How one contract is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckerKind {
    /// The Rust implementation in `chainspace-contracts`, in the replica's process.
    Native,
    /// A Python checker service each replica runs as its own child process.
    Python {
        /// The contract's file, `contracts_dir/<id>.py`.
        script: PathBuf,
    },
    /// A checker service at this base URL (`http://host:port`), run by someone else.
    Url(String),
}

/// How `"python"` checkers are run, resolved against the config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PythonSettings {
    /// The interpreter: a path, or a name looked up on `PATH`.
    pub program: PathBuf,
    /// The repository, if known: its `python/src` goes first on `PYTHONPATH`, so the
    /// `chainspace` package imports without being installed.
    pub root: Option<PathBuf>,
    /// Where `<contract>.py` files are.
    pub contracts_dir: PathBuf,
}

impl Default for PythonSettings {
    fn default() -> Self {
        PythonSettings {
            program: checker_http::python_program(),
            root: None,
            contracts_dir: PathBuf::new(),
        }
    }
}

impl PythonSettings {
    /// `program script checker --port 0 --host 127.0.0.1`: port 0, so the replicas of one
    /// machine never race for a port (the service prints the one it got).
    pub fn command(&self, script: &Path) -> ManagedCommand {
        let mut command = ManagedCommand::new(
            self.program.clone(),
            [OsString::from(script), "checker".into(), "--port".into(), "0".into()],
        );
        command.args.extend(["--host", "127.0.0.1"].map(OsString::from));
        let mut path: Vec<PathBuf> =
            self.root.iter().map(|r| r.join("python").join("src")).collect();
        if let Some(existing) = std::env::var_os("PYTHONPATH") {
            path.extend(std::env::split_paths(&existing));
        }
        // join_paths fails only on a separator inside a path; then keep the inherited one.
        if let Ok(joined) = std::env::join_paths(path) {
            command.env.push(("PYTHONPATH".into(), joined));
        }
        // Line-buffered output, so a traceback reaches the log when it happens.
        command.env.push(("PYTHONUNBUFFERED".into(), "1".into()));
        command
    }
}

/// `[checkers]` read and checked.
#[derive(Clone, Debug, Default)]
pub struct CheckersConfig {
    /// Contract id -> checker.
    pub contracts: BTreeMap<String, CheckerKind>,
    /// How Python checkers run; `Some` when any contract has one.
    pub python: Option<PythonSettings>,
}

impl CheckersConfig {
    /// What `checker_http::build` takes; managed checkers of this replica log to
    /// `log_dir/<contract>.log`.
    pub fn choices(&self, log_dir: &Path) -> Vec<(String, CheckerChoice)> {
        self.contracts
            .iter()
            .map(|(id, kind)| {
                let choice = match (kind, &self.python) {
                    (CheckerKind::Native, _) => CheckerChoice::Native,
                    (CheckerKind::Url(url), _) => CheckerChoice::Url(url.clone()),
                    (CheckerKind::Python { script }, python) => {
                        // Validation sets `python` whenever a contract is "python".
                        let python = python.clone().unwrap_or_default();
                        let mut managed = ManagedConfig::python(Path::new(""), id, log_dir);
                        managed.command = python.command(script);
                        CheckerChoice::Managed(Box::new(managed))
                    }
                };
                (id.clone(), choice)
            })
            .collect()
    }
}

/// What reading `[checkers]` needs to know about the file.
pub(super) struct Source<'a> {
    /// The config file, named in errors.
    pub path: &'a Path,
    /// Its directory, which relative paths are relative to.
    pub base: &'a Path,
}

impl Source<'_> {
    fn invalid(&self, key: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            key: format!("checkers.{key}"),
            reason: reason.into(),
        }
    }

    fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() { p.to_path_buf() } else { self.base.join(p) }
    }

    fn string<'v>(&self, key: &str, value: &'v toml::Value) -> Result<&'v str, ConfigError> {
        value.as_str().ok_or_else(|| self.invalid(key, format!("expected a string, found {value}")))
    }
}

/// Read `[checkers]` (`raw`, absent: every native contract).
pub(super) fn read(
    src: &Source<'_>,
    raw: Option<BTreeMap<String, toml::Value>>,
    warnings: &mut Vec<String>,
) -> Result<CheckersConfig, ConfigError> {
    let native: Vec<&str> = chainspace_contracts::all().iter().map(|c| c.id()).collect();
    let Some(mut raw) = raw else {
        let contracts = native.iter().map(|id| (id.to_string(), CheckerKind::Native)).collect();
        return Ok(CheckersConfig { contracts, python: None });
    };
    let settings: BTreeMap<&str, toml::Value> =
        SETTINGS.iter().filter_map(|k| raw.remove(*k).map(|v| (*k, v))).collect();
    if raw.is_empty() {
        warnings.push("[checkers] names no contract: every transaction will be refused".into());
    }
    let mut python = None;
    let mut contracts = BTreeMap::new();
    for (id, value) in &raw {
        let kind = match value {
            toml::Value::String(kind) if kind == "native" => {
                if !native.contains(&id.as_str()) {
                    return Err(src.invalid(
                        id,
                        format!("no native contract {id:?} (native: {})", native.join(", ")),
                    ));
                }
                CheckerKind::Native
            }
            toml::Value::String(kind) if kind == "python" => {
                if !is_module_name(id) {
                    return Err(src.invalid(
                        id,
                        "a Python checker's contract id names its file: use letters, digits and _",
                    ));
                }
                if python.is_none() {
                    python = Some(python_settings(src, &settings)?);
                }
                let dir = python.as_ref().map(|p: &PythonSettings| &p.contracts_dir);
                let script = dir.map(|d| d.join(format!("{id}.py"))).unwrap_or_default();
                if !script.is_file() {
                    return Err(src.invalid(
                        id,
                        format!("no Python checker: {} does not exist", script.display()),
                    ));
                }
                CheckerKind::Python { script }
            }
            toml::Value::Table(table) => url_entry(src, id, table)?,
            other => {
                return Err(src.invalid(
                    id,
                    format!(
                        "unknown checker {other}: expected \"native\", \"python\" or \
                         {{ url = \"http://host:port\" }}"
                    ),
                ));
            }
        };
        contracts.insert(id.clone(), kind);
    }
    if python.is_none() && !settings.is_empty() {
        let keys: Vec<&str> = settings.keys().copied().collect();
        warnings.push(format!("[checkers] sets {} but no contract is \"python\"", keys.join(", ")));
    }
    Ok(CheckersConfig { contracts, python })
}

/// `{ url = "http://host:port" }`, and nothing else in the table.
fn url_entry(src: &Source<'_>, id: &str, table: &toml::Table) -> Result<CheckerKind, ConfigError> {
    if let Some(other) = table.keys().find(|k| *k != "url") {
        return Err(src.invalid(&format!("{id}.{other}"), "unknown key; the only one is url"));
    }
    let key = format!("{id}.url");
    let url = table.get("url").ok_or_else(|| src.invalid(&key, "missing"))?;
    let url = src.string(&key, url)?;
    checker_http::parse_url(url).map_err(|e| src.invalid(&key, e.to_string()))?;
    Ok(CheckerKind::Url(url.to_string()))
}

fn python_settings(
    src: &Source<'_>,
    settings: &BTreeMap<&str, toml::Value>,
) -> Result<PythonSettings, ConfigError> {
    let get = |key: &str| settings.get(key).map(|v| src.string(key, v)).transpose();
    let program = match get("python")? {
        // A bare name is looked up on PATH when the checker starts, as a shell would.
        Some(p) if !p.contains('/') => PathBuf::from(p),
        Some(p) => {
            let program = src.resolve(p);
            if !program.is_file() {
                return Err(src.invalid("python", format!("{} does not exist", program.display())));
            }
            program
        }
        None => checker_http::python_program(),
    };
    let root = match get("python_root")? {
        Some(r) => {
            let root = src.resolve(r);
            if !root.join("python").join("src").is_dir() {
                return Err(src.invalid(
                    "python_root",
                    format!("{} has no python/src: not a Chainspace repository", root.display()),
                ));
            }
            Some(root)
        }
        None => find_root(src.base),
    };
    let contracts_dir = match (get("contracts_dir")?, &root) {
        (Some(d), _) => src.resolve(d),
        (None, Some(root)) => root.join("contracts").join("python"),
        (None, None) => {
            return Err(src.invalid(
                "python_root",
                format!(
                    "not set, and no Chainspace repository (contracts/python/ and python/src/) \
                     contains {}: set python_root or contracts_dir",
                    src.base.display()
                ),
            ));
        }
    };
    if !contracts_dir.is_dir() {
        let key =
            if settings.contains_key("contracts_dir") { "contracts_dir" } else { "python_root" };
        return Err(src.invalid(key, format!("{} is not a directory", contracts_dir.display())));
    }
    Ok(PythonSettings { program, root, contracts_dir })
}

/// The nearest of `dir` and its ancestors that is a Chainspace repository.
pub fn find_root(dir: &Path) -> Option<PathBuf> {
    let dir = std::path::absolute(dir).ok()?;
    dir.ancestors()
        .find(|d| {
            d.join("contracts").join("python").is_dir() && d.join("python").join("src").is_dir()
        })
        .map(Path::to_path_buf)
}

/// A Python module name, which is also a safe file name.
fn is_module_name(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The contracts of `contracts_dir` that have a Python checker: each `<id>.py` that
/// declares `ChainspaceContract("<id>")` (the file name is how a replica finds it).
pub fn python_contracts(contracts_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(contracts_dir) else { return vec![] };
    let mut found: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let path = e.path();
            let id = path.file_name()?.to_str()?.strip_suffix(".py")?.to_string();
            let text = std::fs::read_to_string(&path).ok()?;
            let declares =
                [format!("ChainspaceContract(\"{id}\")"), format!("ChainspaceContract('{id}')")];
            (is_module_name(&id) && declares.iter().any(|d| text.contains(d))).then_some(id)
        })
        .collect();
    found.sort();
    found
}
