//! `[checkers]`: one test per kind of mistake, each made in a config `keygen` wrote inside
//! a stand-in repository (so the repository is found relative to the file), and each
//! error must name the file and the key at fault.

use std::path::{Path, PathBuf};

use checker_http::CheckerChoice;

use super::*;

/// A repository with two Python contracts, and a generated 1x4 network in `repo/net/`.
struct Fixture {
    dir: tempfile::TempDir,
    text: String,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let contracts = dir.path().join("contracts/python");
        std::fs::create_dir_all(&contracts).unwrap();
        std::fs::create_dir_all(dir.path().join("python/src")).unwrap();
        for id in ["addition", "bank_authenticated"] {
            let text = format!("contract = ChainspaceContract(\"{id}\")\n");
            std::fs::write(contracts.join(format!("{id}.py")), text).unwrap();
        }
        std::fs::write(contracts.join("helpers.py"), "x = 1\n").unwrap();
        let layout = Layout { shards: 1, ..Layout::default() };
        generate(&dir.path().join("net"), &layout).expect("keygen output is valid");
        let text = std::fs::read_to_string(dir.path().join("net").join(CONFIG_FILE)).unwrap();
        Fixture { dir, text }
    }

    fn root(&self) -> PathBuf {
        std::path::absolute(self.dir.path()).unwrap()
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("net").join(CONFIG_FILE)
    }

    /// The config with `lines` in `[checkers]`, replacing the entries of the same keys.
    fn with(&self, lines: &str) -> String {
        let keys: Vec<String> = lines
            .lines()
            .filter_map(|l| l.split(" = ").next())
            .map(|k| format!("{k} = "))
            .collect();
        let kept: Vec<&str> =
            self.text.lines().filter(|l| !keys.iter().any(|k| l.starts_with(k.as_str()))).collect();
        kept.join("\n").replacen("[checkers]\n", &format!("[checkers]\n{lines}\n"), 1)
    }

    fn parse(&self, lines: &str) -> NetworkConfig {
        NetworkConfig::parse(&self.with(lines), &self.path()).expect("valid checkers")
    }

    /// The error of the config with `lines` in `[checkers]`; it must name the file and `key`.
    fn error(&self, lines: &str, key: &str) -> String {
        let e = NetworkConfig::parse(&self.with(lines), &self.path())
            .expect_err("the mistake is caught")
            .to_string();
        assert!(e.contains(&self.path().display().to_string()), "names the file: {e}");
        assert!(e.contains(&format!("checkers.{key}:")), "names checkers.{key}: {e}");
        e
    }
}

#[test]
fn python_and_url_checkers_are_read() {
    let f = Fixture::new();
    let cfg =
        f.parse("bank_authenticated = \"python\"\nvote = { url = \"http://127.0.0.1:5003\" }");
    let kinds = &cfg.checkers.contracts;
    assert_eq!(kinds["addition"], CheckerKind::Native);
    assert_eq!(kinds["vote"], CheckerKind::Url("http://127.0.0.1:5003".into()));
    let script = f.root().join("contracts/python/bank_authenticated.py");
    assert_eq!(kinds["bank_authenticated"], CheckerKind::Python { script: script.clone() });
    let python = cfg.checkers.python.as_ref().expect("python settings");
    assert_eq!(python.root.as_deref(), Some(f.root().as_path()), "found above the config");

    let logs = Path::new("/logs/s0r1");
    let choices = cfg.checkers.choices(logs);
    let Some((_, CheckerChoice::Managed(managed))) =
        choices.iter().find(|(id, _)| id == "bank_authenticated")
    else {
        panic!("bank_authenticated is managed: {choices:?}");
    };
    assert_eq!(managed.log_path(), logs.join("bank_authenticated.log"));
    let line = managed.command.display();
    assert!(line.ends_with("bank_authenticated.py checker --port 0 --host 127.0.0.1"), "{line}");
    let (_, path) = managed.command.env.iter().find(|(k, _)| k == "PYTHONPATH").expect("set");
    assert!(Path::new(path).starts_with(f.root().join("python/src")), "{path:?}");
    // Building the checkers starts nothing: there is no Python here to start.
    let built = cfg.checkers(logs).expect("builds");
    assert_eq!(built.managed.keys().collect::<Vec<_>>(), ["bank_authenticated"]);
}

#[test]
fn settings_are_resolved_against_the_file() {
    let f = Fixture::new();
    std::fs::create_dir_all(f.dir.path().join("mine")).unwrap();
    std::fs::write(f.dir.path().join("mine/counter.py"), "").unwrap();
    std::fs::write(f.dir.path().join("py"), "").unwrap();
    let cfg = f.parse("python = \"../py\"\ncontracts_dir = \"../mine\"\ncounter = \"python\"");
    let python = cfg.checkers.python.expect("python settings");
    assert_eq!(python.program, f.dir.path().join("net/../py"));
    assert_eq!(python.contracts_dir, f.dir.path().join("net/../mine"));
    let cfg = f.parse("python = \"python3.11\"\naddition = \"python\"");
    assert_eq!(cfg.checkers.python.expect("set").program, Path::new("python3.11"), "on PATH");
}

#[test]
fn unknown_kinds_are_named() {
    let f = Fixture::new();
    let e = f.error("bank_authenticated = \"pyton\"", "bank_authenticated");
    assert!(e.contains("pyton") && e.contains("\"native\", \"python\""), "{e}");
    let e = f.error("bank_authenticated = 3", "bank_authenticated");
    assert!(e.contains("unknown checker 3"), "{e}");
    let e = f.error("adition = \"native\"", "adition");
    assert!(e.contains("no native contract") && e.contains("addition"), "{e}");
}

#[test]
fn missing_scripts_are_named() {
    let f = Fixture::new();
    let e = f.error("vote = \"python\"", "vote");
    assert!(e.contains("vote.py does not exist"), "{e}");
    let e = f.error("\"../etc\" = \"python\"", "../etc");
    assert!(e.contains("letters, digits and _"), "a path is not an id: {e}");
}

#[test]
fn bad_urls_are_named() {
    let f = Fixture::new();
    let e = f.error("vote = { url = \"ftp://127.0.0.1:1\" }", "vote.url");
    assert!(e.contains("only http://"), "{e}");
    let e = f.error("vote = { url = \"not a url\" }", "vote.url");
    assert!(e.contains("invalid checker URL"), "{e}");
    let e = f.error("vote = { url = 5003 }", "vote.url");
    assert!(e.contains("expected a string"), "{e}");
    let e = f.error("vote = {}", "vote.url");
    assert!(e.contains("missing"), "{e}");
    let e = f.error("vote = { uri = \"http://h:1\" }", "vote.uri");
    assert!(e.contains("unknown key"), "{e}");
}

#[test]
fn bad_python_settings_are_named() {
    let f = Fixture::new();
    let e = f.error("python = \"../venv/bin/python\"\naddition = \"python\"", "python");
    assert!(e.contains("does not exist"), "{e}");
    let e = f.error("python = 3\naddition = \"python\"", "python");
    assert!(e.contains("expected a string"), "{e}");
    let e = f.error("python_root = \"../contracts\"\naddition = \"python\"", "python_root");
    assert!(e.contains("has no python/src"), "{e}");
    let e = f.error("contracts_dir = \"nowhere\"\naddition = \"python\"", "contracts_dir");
    assert!(e.contains("not a directory"), "{e}");

    // Outside any repository, and without python_root, the repository is not found.
    let elsewhere = tempfile::tempdir().unwrap();
    let path = elsewhere.path().join(CONFIG_FILE);
    let text = f
        .with("addition = \"python\"")
        .replace("keys/", &format!("{}/net/keys/", f.root().display()));
    let e = NetworkConfig::parse(&text, &path).expect_err("no repository").to_string();
    assert!(e.contains("checkers.python_root") && e.contains("not set"), "{e}");
    // Settings without a Python checker are only a warning.
    let cfg = f.parse("python = \"python3\"");
    assert!(
        cfg.warnings.iter().any(|w| w.contains("no contract is \"python\"")),
        "{:?}",
        cfg.warnings
    );
}

#[test]
fn keygen_writes_python_checkers_for_contracts_that_have_one() {
    let f = Fixture::new();
    let layout = Layout { shards: 1, python_root: Some(f.root()), ..Layout::default() };
    let cfg = generate(&f.dir.path().join("py-net"), &layout).expect("loads back");
    let kinds = &cfg.checkers.contracts;
    let script = |id: &str| f.root().join(format!("contracts/python/{id}.py"));
    assert_eq!(kinds["addition"], CheckerKind::Python { script: script("addition") });
    assert_eq!(
        kinds["bank_authenticated"],
        CheckerKind::Python { script: script("bank_authenticated") }
    );
    assert_eq!(kinds["bank"], CheckerKind::Native, "no bank.py: native");
    assert!(!kinds.contains_key("helpers"), "not a contract");
}
