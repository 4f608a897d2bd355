//! The original Chainspace's way of working, end to end: contracts written in Python,
//! checked by Python checker processes that each replica runs itself, driven by a Python
//! client. A 2x4 PBFT network over QUIC as real processes (`chainspace node` x 8 and
//! `chainspace client-api`), configured by `keygen --checkers python`, runs
//! `contracts/python/e2e/walkthrough.py`: the increment walkthrough with a refused second
//! spend, a nested call (`increment_twice`), a bank transfer across shards and a forged
//! one. Then every checker process is SIGKILLed mid-run, and the next transactions must
//! still commit (each replica restarts its checkers), with every object and transaction
//! read back through the API as the driver says it must be.
//!
//! Every wait is bounded; every process is stopped by its guard, so a failing assertion
//! leaves neither replicas nor checkers behind.

#[path = "python_e2e/api.rs"]
mod api;
#[path = "python_e2e/procs.rs"]
mod procs;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use procs::{BIN, Proc, chainspace, checkers_of, free_ports, python, repository};
use serde_json::Value;

/// The longest any one wait may take.
const WAIT: Duration = Duration::from_secs(90);

/// The network's processes, stopped in reverse order of start when dropped.
struct Network {
    procs: Vec<Proc>,
    api: String,
    /// Checker processes seen, killed at the end in case their replica could not stop them.
    checkers: Vec<u32>,
}

impl Drop for Network {
    fn drop(&mut self) {
        // All at once: each replica takes a moment to stop its transport and checkers.
        for p in &self.procs {
            procs::signal(p.pid(), libc::SIGTERM);
        }
        while let Some(mut p) = self.procs.pop() {
            p.stop(Duration::from_secs(10));
        }
        for pid in &self.checkers {
            procs::signal(*pid, libc::SIGKILL);
        }
    }
}

impl Network {
    fn replica_pids(&self) -> Vec<u32> {
        self.procs.iter().filter(|p| p.name.starts_with('s')).map(Proc::pid).collect()
    }
}

/// Keys and a config with Python checkers (from the repository, run by `python`), QUIC
/// idle timeouts short enough for a test; then 8 replicas and the API.
fn start_network(dir: &Path, python: &Path) -> Network {
    let (base, api_port) = free_ports(8);
    let net = dir.to_str().expect("a UTF-8 temp dir");
    let written = chainspace(&[
        "keygen",
        "--shards",
        "2",
        "--replicas",
        "4",
        "--out",
        net,
        "--base-port",
        &base.to_string(),
        "--checkers",
        "python",
    ]);
    assert!(written.contains("network.toml"), "{written}");
    let config = dir.join("network.toml");
    let text = std::fs::read_to_string(&config).expect("written");
    for id in ["addition", "bank_authenticated", "increment_twice"] {
        assert!(text.contains(&format!("{id} = \"python\"")), "{id} is python:\n{text}");
    }
    let text = text.replacen(
        "[checkers]\n",
        &format!("[checkers]\npython = {:?}\n", python.display().to_string()),
        1,
    ) + "\n[transport]\nidle_timeout_ms = 3000\nkeep_alive_ms = 500\n";
    std::fs::write(&config, text).expect("config");

    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).expect("logs");
    let mut procs = Vec::new();
    for s in 0..2 {
        for r in 0..4 {
            let name = format!("s{s}r{r}");
            let mut cmd = Command::new(BIN);
            cmd.arg("node").arg("--config").arg(&config);
            cmd.args(["--shard", &s.to_string(), "--replica", &r.to_string()]);
            procs.push(Proc::spawn(&name, &mut cmd, &logs.join(format!("{name}.log"))));
        }
    }
    let api = format!("127.0.0.1:{api_port}");
    let mut cmd = Command::new(BIN);
    cmd.arg("client-api").arg("--config").arg(&config).args(["--listen", &api]);
    procs.push(Proc::spawn("client-api", &mut cmd, &logs.join("client-api.log")));
    let (status, _) = api::poll(&api, "/api/1.0/", WAIT, |s, _| s == 200);
    assert_eq!(status, 200, "the client API answers");
    Network { procs, api, checkers: vec![] }
}

/// The driver: stdin to resume it after the pause, its JSON lines as they come.
struct Driver {
    proc: Proc,
    lines: mpsc::Receiver<String>,
    seen: Vec<Value>,
}

impl Driver {
    fn start(python: &Path, api: &str, log: &Path) -> Driver {
        let root = repository();
        let path = std::env::join_paths([root.join("python/src"), root.join("contracts/python")])
            .expect("paths");
        let mut cmd = Command::new(python);
        cmd.arg(root.join("contracts/python/e2e/walkthrough.py"))
            .args(["--api", api, "--shards", "2", "--pause"])
            .env("PYTHONPATH", path);
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).expect("driver log"))
            .spawn()
            .expect("the driver starts");
        let mut proc = Proc { name: "walkthrough".into(), child };
        let stdout = proc.child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Driver { proc, lines, seen: vec![] }
    }

    /// Lines up to and including the step `until`, each checked to be `ok`.
    fn read_until(&mut self, until: &str) -> &[Value] {
        let from = self.seen.len();
        loop {
            let line = self.lines.recv_timeout(WAIT).unwrap_or_else(|e| {
                panic!("no line from the driver within {WAIT:?} ({e}); so far: {:#?}", self.seen)
            });
            println!("driver: {line}");
            let value: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert_eq!(value["ok"], true, "step failed: {line}");
            let step = value["step"].as_str().unwrap_or_default().to_string();
            self.seen.push(value);
            if step == until {
                return &self.seen[from..];
            }
        }
    }

    fn step(&self, name: &str) -> Option<&Value> {
        self.seen.iter().find(|v| v["step"] == name)
    }
}

#[test]
fn python_contracts_end_to_end_with_a_checker_killed_mid_run() {
    let started = Instant::now();
    let python = python();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut net = start_network(dir.path(), &python);
    let mut driver = Driver::start(&python, &net.api, &dir.path().join("logs/walkthrough.log"));

    // Before the pause: the walkthrough, the nested call and (if it can) the bank.
    driver.read_until("pause");
    let reason =
        |step: &str| driver.step(step).map(|v| v["reason"].to_string()).unwrap_or_default();
    for step in ["addition.init", "addition.increment", "increment_twice.increment"] {
        assert!(driver.step(step).is_some(), "{step} ran");
    }
    assert!(
        reason("addition.second_spend").contains("inactive"),
        "{}",
        reason("addition.second_spend")
    );
    let bank = match driver.step("bank") {
        Some(skipped) => {
            println!("bank part skipped: {}", skipped["skipped"]);
            false
        }
        None => {
            let transfer = driver.step("bank.transfer").expect("the transfer ran");
            assert_eq!(transfer["shards"], serde_json::json!([0, 1]), "across shards");
            assert!(reason("bank.forged_transfer").contains("invalid signature"));
            true
        }
    };
    println!("walkthrough done after {:?}", started.elapsed());

    // Every checker process, of every replica, killed.
    let replicas = net.replica_pids();
    let victims = checkers_of(&replicas);
    let contracts: Vec<&str> = victims.iter().map(|c| c.contract.as_str()).collect();
    assert!(
        contracts.contains(&"addition") && contracts.contains(&"increment_twice"),
        "{victims:?}"
    );
    assert_eq!(contracts.contains(&"bank_authenticated"), bank, "{victims:?}");
    for victim in &victims {
        net.checkers.push(victim.pid);
        assert!(procs::signal(victim.pid, libc::SIGKILL), "SIGKILL {victim:?}");
    }
    println!("killed {} checker processes", victims.len());

    // The next transactions still commit.
    writeln!(driver.proc.child.stdin.as_mut().expect("piped"), "go").expect("resume the driver");
    let rest = driver.read_until("summary").to_vec();
    let status = wait_exit(&mut driver.proc);
    assert!(status.success(), "the driver exits 0: {status}");
    assert!(rest.iter().any(|v| v["step"] == "after_pause.increment"), "{rest:?}");

    // The checks after the kill needed 2f+1 replicas of a shard to restart a killed
    // checker: a new process for the same replica and contract, a second start in its log.
    let now = checkers_of(&replicas);
    net.checkers.extend(now.iter().map(|c| c.pid));
    let restarted = |contract: &str| {
        let again = now.iter().filter(|c| c.contract == contract);
        again
            .filter(|c| victims.iter().any(|v| v.parent == c.parent && v.contract == contract))
            .count()
    };
    let logged_twice = |contract: &str| {
        let starts = |replica: String| {
            let log = dir.path().join(format!("logs/checkers/{replica}/{contract}.log"));
            std::fs::read_to_string(log).unwrap_or_default().matches("=== unix time").count()
        };
        (0..8).filter(|i| starts(format!("s{}r{}", i / 4, i % 4)) >= 2).count()
    };
    let mut needed = vec!["addition"];
    if bank {
        needed.push("bank_authenticated");
    }
    for contract in needed {
        assert!(restarted(contract) >= 3, "{contract} restarted on 2f+1 replicas: {now:?}");
        assert!(logged_twice(contract) >= 3, "{contract}: the logs show the restarts");
    }

    // Nothing lost, nothing wrongly committed: every object and transaction, read back.
    let summary = driver.step("summary").expect("summary");
    read_back(&net.api, summary);
    println!("done after {:?}", started.elapsed());
}

fn wait_exit(proc: &mut Proc) -> std::process::ExitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = proc.child.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "{} did not exit", proc.name);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every object the summary names has the state and value it says, on the replicas;
/// every transaction the outcome.
fn read_back(api: &str, summary: &Value) {
    let objects = summary["objects"].as_object().expect("objects");
    assert!(objects.len() >= 8, "{summary}");
    for (name, want) in objects {
        let id = want["id"].as_str().expect("an id");
        let path = format!("/api/1.0/objects/{id}");
        let state = want["state"].as_str().expect("a state");
        let (status, got) = api::poll(api, &path, WAIT, |status, got| match state {
            "absent" => status == 404,
            _ => status == 200 && got["status"] == state,
        });
        match state {
            "absent" => assert_eq!(status, 404, "{name} was never created: {got}"),
            _ => {
                assert_eq!((status, &got["status"]), (200, &Value::from(state)), "{name}: {got}");
                assert_eq!(got["value"], want["value"], "{name}");
            }
        }
    }
    for (name, want) in summary["transactions"].as_object().expect("transactions") {
        let path = format!("/api/1.0/transactions/{}", want["id"].as_str().expect("an id"));
        let commit = want["outcome"] == "commit";
        let (status, got) = api::poll(api, &path, WAIT, |s, got| {
            s == 200 && (got["outcome"] == "accepted_t_commit") == commit
        });
        assert_eq!(status, 200, "{name}: {got}");
        assert_eq!(got["outcome"] == "accepted_t_commit", commit, "{name}: {got}");
    }
}

/// `up --checkers python` runs Python checkers, and SIGINT stops them with the replicas.
#[test]
fn up_with_python_checkers_stops_them_on_sigint() {
    let python = python();
    let dir = tempfile::tempdir().expect("temp dir");
    let (base, api_port) = free_ports(4);
    let api = format!("127.0.0.1:{api_port}");
    let mut cmd = Command::new(BIN);
    cmd.args(["up", "--shards", "1", "--replicas", "4", "--checkers", "python", "--api", &api])
        .args(["--base-port", &base.to_string(), "--dir"])
        .arg(dir.path())
        .env("CHAINSPACE_PYTHON", &python)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut up = Proc { name: "up".into(), child: cmd.spawn().expect("up starts") };
    let stdout = up.child.stdout.take().expect("piped");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut replicas = Vec::new();
    loop {
        let line = lines.recv_timeout(WAIT).expect("up reports its replicas and API");
        // "replica s0r0  127.0.0.1:7000  pid 123  log ..."
        let words: Vec<&str> = line.split_whitespace().collect();
        if let (Some(&"replica"), Some(at)) =
            (words.first(), words.iter().position(|w| *w == "pid"))
        {
            replicas.extend(words.get(at + 1).and_then(|p| p.parse::<u32>().ok()));
        }
        if line.starts_with("client API") {
            break;
        }
    }
    assert_eq!(replicas.len(), 4, "a pid per replica");
    let init = serde_json::json!({"transaction": {"contractID": "addition", "methodID": "init",
        "inputIDs": [], "referenceInputIDs": [], "parameters": [], "outputs": ["0"],
        "returns": [], "dependencies": []}, "store": {}});
    let (status, answer) = api::poll(&api, "/api/1.0/", WAIT, |s, _| s == 200);
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = api::post(&api, "/api/1.0/transaction/process", &init).expect("POST");
    assert_eq!((status, &answer["outcome"]), (200, &Value::from("accepted_t_commit")), "{answer}");
    let checkers = checkers_of(&replicas);
    assert!(checkers.iter().filter(|c| c.contract == "addition").count() >= 3, "{checkers:?}");
    let log = dir.path().join("logs/checkers/s0r0/addition.log");
    assert!(log.is_file() || checkers.iter().all(|c| c.parent != replicas[0]), "{log:?}");

    assert!(procs::signal(up.pid(), libc::SIGINT));
    let status = wait_exit(&mut up);
    assert!(status.success(), "{status}");
    let alive = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
    };
    let left: Vec<_> = checkers.iter().filter(|c| alive(c.pid)).collect();
    for c in &left {
        procs::signal(c.pid, libc::SIGKILL);
    }
    assert!(left.is_empty(), "checker processes outlived their replicas: {left:?}");
}
