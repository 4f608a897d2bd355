//! Every kind of mistake in an experiment config is refused before anything starts, with
//! the file and the key named; and every shipped config loads.

mod common;

use std::path::Path;

use experiments::config::{ConfigError, Expanded, load};

/// Load `text` as a config file; the error's message.
fn error(text: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).expect("write");
    match load(&path) {
        Ok(e) => panic!("accepted: {e:?}"),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("bad.toml"), "the file is named: {msg}");
            msg
        }
    }
}

fn assert_names(text: &str, key: &str, also: &str) {
    let msg = error(text);
    assert!(msg.contains(key), "{key:?} not named in: {msg}");
    assert!(msg.contains(also), "{also:?} not in: {msg}");
}

#[test]
fn every_shipped_config_loads() {
    let mut n = 0;
    for entry in std::fs::read_dir(common::configs_dir()).expect("configs/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            load(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 6, "{n} configs");
}

#[test]
fn defaults_make_a_2x4_pbft_quic_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("empty.toml");
    std::fs::write(&path, "").expect("write");
    let Ok(Expanded::One(e)) = load(&path) else { panic!("one experiment") };
    assert_eq!((e.name.as_str(), e.cluster.shards, e.cluster.replicas), ("empty", 2, 4));
    assert_eq!(e.cluster.protocol().name(), "pbft");
    assert_eq!(e.cluster.transport_name(), "quic");
    assert_eq!(e.workload.inputs, 1);
}

#[test]
fn unknown_keys_are_refused_in_every_section() {
    assert_names("nmae = \"x\"", "nmae", "unknown field");
    assert_names("[cluster]\nshard = 2", "shard", "unknown field");
    assert_names("[cluster.pbft]\nmax_batchh = 2", "max_batchh", "unknown field");
    assert_names("[workload]\ninput = 2", "input", "unknown field");
    assert_names("[sim]\nlatency = 2", "latency", "unknown field");
    assert_names(
        "[[faults]]\nat_s = 1\nkind = \"crash\"\nreplica = \"s0r0\"\nwhen = 2",
        "when",
        "unknown field",
    );
    assert_names(
        "[sweep]\nkey = \"cluster.shards\"\nvalues = [2]\nvalue = 3",
        "value",
        "unknown field",
    );
    assert_names("[wrokload]\nclients = 2", "wrokload", "unknown field");
}

#[test]
fn wrong_types_are_refused() {
    assert_names("[cluster]\nshards = \"two\"", "shards", "invalid type");
    assert_names("[workload]\nduration_s = \"10s\"", "duration_s", "invalid type");
}

#[test]
fn out_of_range_values_name_their_key() {
    assert_names("[cluster]\nshards = 0", "cluster.shards", "expected 1 to 256");
    assert_names("[cluster]\nreplicas = 3", "cluster.replicas", "3f+1");
    assert_names("[workload]\ninputs = 0", "workload.inputs", "expected 1 to 64");
    assert_names("[workload]\noutputs = 2", "workload.outputs", "0 or 1");
    assert_names("[workload]\nconflict = 1.5", "workload.conflict", "out of range");
    assert_names("[workload]\nrate = 0", "workload.rate", "out of range");
    assert_names("[workload]\nduration_s = -1", "workload.duration_s", "out of range");
    assert_names(
        "[workload]\npool = 3",
        "workload.pool",
        "2 x workload.inputs x cluster.shards (4)",
    );
    assert_names("[sim]\nloss = 1.0", "sim.loss", "out of range");
    assert_names("name = \"a b\"", "name", "letters");
    assert_names("[cluster.pbft]\nmax_batch = 0", "cluster.pbft", "max_batch");
    assert_names("[cluster.pbft]\nmax_batch_bytes = 0", "cluster.pbft", "max_batch_bytes");
    assert_names(
        "[cluster]\nconsensus = \"hotstuff\"\n[cluster.hotstuff]\nmax_batch_bytes = 0",
        "cluster.hotstuff",
        "max_batch_bytes",
    );
    // The protocol not run is checked too.
    assert_names(
        "[cluster]\nconsensus = \"hotstuff\"\n[cluster.pbft]\nmax_batch = 0",
        "cluster.pbft",
        "max_batch",
    );
}

#[test]
fn unknown_choices_are_refused() {
    assert_names("[cluster]\nconsensus = \"raft\"", "cluster.consensus", "raft");
    assert_names("[cluster]\ntransport = \"tcp\"", "cluster.transport", "\"quic\" or \"sim\"");
    assert_names("[cluster]\nstore = \"sled\"", "cluster.store", "\"memory\" or \"redb\"");
    assert_names("[cluster]\nprocesses = \"two\"", "cluster.processes", "\"one\" or \"many\"");
    assert_names("[workload]\ncontract = \"bank\"", "workload.contract", "dummy");
    assert_names(
        "[cluster.checkers]\nnope = \"native\"",
        "cluster.checkers.nope",
        "no native contract",
    );
}

#[test]
fn combinations_that_cannot_work_are_refused() {
    let sim = "[cluster]\ntransport = \"sim\"\n";
    assert_names(&format!("{sim}store = \"redb\""), "cluster.store", "simulator");
    assert_names(&format!("{sim}processes = \"many\""), "cluster.processes", "simulator");
    assert_names(
        &format!("{sim}[cluster.checkers]\ndummy = {{ url = \"http://127.0.0.1:9\" }}"),
        "cluster.checkers.dummy",
        "native checkers only",
    );
    assert_names("[workload]\ncross_shard = 0.5", "workload.cross_shard", "inputs >= 2");
    assert_names(
        "[cluster.checkers]\naddition = \"native\"",
        "cluster.checkers",
        "no checker for the workload's contract",
    );
}

#[test]
fn faults_are_checked() {
    let f = |body: &str| format!("[cluster]\ntransport = \"sim\"\n[[faults]]\n{body}");
    assert_names(
        &f("at_s = 1\nkind = \"explode\"\nreplica = \"s0r0\""),
        "faults[0].kind",
        "explode",
    );
    assert_names(&f("at_s = 1\nkind = \"crash\""), "faults[0].replica", "needs the replica");
    assert_names(
        &f("at_s = 1\nkind = \"crash\"\nreplica = \"s2r0\""),
        "faults[0].replica",
        "not in the cluster",
    );
    assert_names(
        &f("at_s = 1\nkind = \"crash\"\nreplica = \"zero\""),
        "faults[0].replica",
        "s<shard>r<index>",
    );
    assert_names(
        &f("at_s = 1\nkind = \"partition\"\nreplicas = [\"s0r0\"]"),
        "faults[0].until_s",
        "heals",
    );
    assert_names(
        &f("at_s = 2\nkind = \"partition\"\nreplicas = [\"s0r0\"]\nuntil_s = 1"),
        "faults[0].until_s",
        "after at_s",
    );
    assert_names(&f("at_s = 1\nkind = \"partition\""), "faults[0].replicas", "cuts off");
    assert_names(
        &f("at_s = 1\nkind = \"delay\"\nreplica = \"s0r0\"\nuntil_s = 2"),
        "faults[0].delay_ms",
        "extra delay",
    );
    assert_names(
        &f("at_s = 1\nkind = \"byzantine\"\nreplica = \"s0r0\"\nbehaviour = \"rude\""),
        "faults[0].behaviour",
        "equivocate",
    );
    assert_names(
        &f("at_s = 1\nkind = \"restart\"\nreplica = \"s0r0\"\nfrom = \"tape\""),
        "faults[0].from",
        "store",
    );
    assert_names(
        &f("at_s = 1\nkind = \"restart\"\nreplica = \"s0r0\""),
        "faults",
        "s0r0 restarts at 1 s but is running",
    );
    assert_names(
        &f(
            "at_s = 1\nkind = \"crash\"\nreplica = \"s0r0\"\n[[faults]]\nat_s = 2\nkind = \"crash\"\nreplica = \"s0r0\"",
        ),
        "faults",
        "already down",
    );
    // Over QUIC the runner crashes and restarts, nothing else.
    assert_names(
        "[[faults]]\nat_s = 1\nkind = \"delay\"\nreplica = \"s0r0\"\ndelay_ms = 5\nuntil_s = 2",
        "faults[0].kind",
        "needs cluster.transport = \"sim\"",
    );
    assert_names(
        "[cluster]\nprocesses = \"many\"\n[[faults]]\nat_s = 1\nkind = \"restart\"\nreplica = \"s0r0\"",
        "faults[0].from",
        "redb",
    );
}

#[test]
fn sweeps_are_checked_point_by_point() {
    assert_names("[sweep]\nkey = \"cluster.shards\"\nvalues = []", "sweep.values", "at least one");
    assert_names("[sweep]\nkey = \"cluster.consensus\"\nvalues = [1]", "sweep.key", "numeric");
    assert_names(
        "[sweep]\nkey = \"cluster.shards\"\nvalues = [2, 0]",
        "cluster.shards",
        "sweep point cluster.shards = 0",
    );
    assert_names("[sweep]\nkey = \"cluster.shardz\"\nvalues = [2]", "shardz", "unknown field");
    assert_names(
        "[sweep]\nkey = \"cluster.shards\"\nvalues = [2]\nconsensus = [\"pbft\", \"raft\"]",
        "cluster.consensus",
        "raft",
    );
}

#[test]
fn a_missing_file_is_named() {
    let e = load(Path::new("/nonexistent/x.toml")).expect_err("missing");
    assert!(matches!(e, ConfigError::Read { .. }));
    assert!(e.to_string().contains("/nonexistent/x.toml"));
}

#[test]
fn the_binary_exits_2_on_a_bad_config_and_compares_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[workload]\ninputs = 0\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_experiments"))
        .arg(&bad)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("workload.inputs"), "{err}");

    let mut a = experiments::summary::Summary {
        name: "first".into(),
        committed_per_s: 100.0,
        ..Default::default()
    };
    let a_path = dir.path().join("a.json");
    std::fs::write(&a_path, serde_json::to_string(&a).expect("json")).expect("write");
    a.name = "second".into();
    a.committed_per_s = 200.0;
    let b_dir = dir.path().join("b");
    std::fs::create_dir(&b_dir).expect("mkdir");
    std::fs::write(b_dir.join("summary.json"), serde_json::to_string(&a).expect("json"))
        .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_experiments"))
        .args(["compare".as_ref(), a_path.as_os_str(), b_dir.as_os_str()])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("first") && table.contains("second") && table.contains("x2.00"),
        "{table}"
    );
}

#[test]
fn consensus_only_workload_mistakes_are_refused() {
    assert_names("[workload]\nkind = \"paxos\"", "workload.kind", "\"consensus\"");
    assert_names(
        "[workload]\nkind = \"consensus\"\ninputs = 2",
        "workload.inputs",
        "not with workload.kind = \"consensus\"",
    );
    assert_names("[workload]\nkind = \"consensus\"\nprefill = 100", "workload.prefill", "S-BAC");
    assert_names("[workload]\ncommand_bytes = 1024", "workload.command_bytes", "only for");
    assert_names(
        "[workload]\nkind = \"consensus\"\ncommand_bytes = 8",
        "workload.command_bytes",
        "16 to 1048576",
    );
    assert_names(
        "[cluster]\ntransport = \"sim\"\n[workload]\nkind = \"consensus\"\n[[faults]]\nat_s = 1\n\
         kind = \"byzantine\"\nreplica = \"s0r1\"\nbehaviour = \"silent\"",
        "faults[0].kind",
        "S-BAC votes",
    );
}

#[test]
fn the_consensus_only_workload_turns_the_ordering_service_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[workload]\nkind = \"consensus\"\ncommand_bytes = 100").expect("write");
    let Ok(Expanded::One(e)) = load(&path) else { panic!("one experiment") };
    assert_eq!(
        e.workload.kind,
        experiments::config::WorkloadKind::Consensus { command_bytes: 100 }
    );
    assert!(e.replica_config().ordering);
    std::fs::write(&path, "").expect("write");
    let Ok(Expanded::One(e)) = load(&path) else { panic!("one experiment") };
    assert!(!e.replica_config().ordering, "S-BAC runs keep replicas as deployed");
}
