//! One test per kind of mistake: each is made in a config `keygen` wrote (so everything
//! else about it is right), and the error must name the file and the key at fault.

use super::*;
use consensus_any::Protocol;

/// A generated network in a temp dir, and its text.
fn generated(shards: u32, replicas: u32, protocol: Protocol) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let layout = Layout { shards, replicas, protocol, ..Layout::default() };
    generate(dir.path(), &layout).expect("keygen output is valid");
    let text = std::fs::read_to_string(dir.path().join(CONFIG_FILE)).expect("written");
    (dir, text)
}

/// Parse `text` as the config in `dir`; return the error's message.
fn error_of(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join(CONFIG_FILE);
    let e = NetworkConfig::parse(text, &path).expect_err("the mistake is caught").to_string();
    assert!(e.contains(&path.display().to_string()), "names the file: {e}");
    e
}

fn public_of(text: &str, n: usize) -> String {
    let line = text.lines().filter(|l| l.starts_with("public_key")).nth(n).expect("a key");
    line.split('"').nth(1).expect("quoted").to_string()
}

#[test]
fn keygen_output_round_trips() {
    let (dir, _) = generated(2, 4, Protocol::HotStuff);
    let cfg = NetworkConfig::load(dir.path().join(CONFIG_FILE)).expect("loads");
    assert_eq!(cfg.num_shards(), 2);
    assert_eq!(cfg.replicas.len(), 8);
    assert_eq!(cfg.protocol.protocol(), Protocol::HotStuff);
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    assert_eq!(cfg.store.kind, StoreKind::Redb);
    assert_eq!(cfg.store.data_dir, dir.path().join("data"));
    let (id, entry) = cfg.replica(1, 2).expect("s1r2");
    assert_eq!(entry.address.port(), 7000 + 4 + 2);
    let key = cfg.replica_key(id).expect("its key file");
    assert_eq!(cfg.committee.replica_of(&key.public()), Some(id));
    assert_eq!(cfg.data_dir(id), dir.path().join("data").join("s1r2"));
    assert!(cfg.client_api.key_file.is_some());
    assert_eq!(cfg.client_key().unwrap().public(), cfg.client_key().unwrap().public());
    assert_eq!(cfg.checkers.contracts.len(), chainspace_contracts::all().len());
    assert!(matches!(cfg.replica(2, 0), Err(ConfigError::NoSuchReplica { .. })));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = entry.key_file.as_ref().unwrap();
        let mode = std::fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "key files are private");
    }
}

#[test]
fn keygen_never_overwrites() {
    let (dir, _) = generated(1, 4, Protocol::Pbft);
    let e = generate(dir.path(), &Layout::default()).unwrap_err().to_string();
    assert!(e.contains("already exists"), "{e}");
}

#[test]
fn unknown_keys_are_named() {
    let (dir, text) = generated(1, 4, Protocol::Pbft);
    let e = error_of(&dir, &format!("colour = \"blue\"\n{text}"));
    assert!(e.contains("colour"), "{e}");
    let e = error_of(
        &dir,
        &text.replacen("[[shards.replicas]]\n", "[[shards.replicas]]\nport = 1\n", 1),
    );
    assert!(e.contains("unknown field") && e.contains("port"), "{e}");
    let e = error_of(&dir, &text.replace("[consensus]\n", "[consensus]\nbatch = 3\n"));
    assert!(e.contains("batch"), "{e}");
}

#[test]
fn unknown_protocol_is_named() {
    let (dir, text) = generated(1, 4, Protocol::Pbft);
    let e = error_of(&dir, &text.replace("protocol = \"pbft\"", "protocol = \"raft\""));
    assert!(e.contains("consensus.protocol") && e.contains("raft"), "{e}");
}

#[test]
fn protocol_parameters_are_checked() {
    let (dir, text) = generated(1, 4, Protocol::Pbft);
    let ok = text.replace("[store]", "[consensus.pbft]\nview_change_timeout_ms = 900\n\n[store]");
    let cfg = NetworkConfig::parse(&ok, &dir.path().join(CONFIG_FILE)).expect("an override");
    match cfg.protocol {
        ProtocolConfig::Pbft(p) => assert_eq!(p.view_change_timeout.as_millis(), 900),
        other => panic!("{other:?}"),
    }
    let e = error_of(&dir, &text.replace("[store]", "[consensus.pbft]\nmax_batch = 0\n[store]"));
    assert!(e.contains("consensus.pbft") && e.contains("max_batch"), "{e}");
    let e =
        error_of(&dir, &text.replace("[store]", "[consensus.hotstuff]\nmax_batch = 1\n[store]"));
    assert!(e.contains("consensus.hotstuff") && e.contains("pbft"), "{e}");
    let e =
        error_of(&dir, &text.replace("[store]", "[consensus.pbft]\nround_timeout_ms = 1\n[store]"));
    assert!(e.contains("round_timeout_ms"), "a hotstuff key under pbft is unknown: {e}");
}

#[test]
fn duplicate_addresses_are_refused() {
    let (dir, text) = generated(1, 4, Protocol::Pbft);
    let e = error_of(&dir, &text.replace("127.0.0.1:7001", "127.0.0.1:7000"));
    assert!(e.contains("shards[0].replicas[1].address") && e.contains("shards[0].replicas[0]"));
}

#[test]
fn unusable_addresses_are_refused() {
    let (dir, text) = generated(1, 4, Protocol::Pbft);
    let e = error_of(&dir, &text.replace("127.0.0.1:7002", "0.0.0.0:7002"));
    assert!(e.contains("shards[0].replicas[2].address"), "{e}");
    let e = error_of(&dir, &text.replace("127.0.0.1:7002", "localhost:7002"));
    assert!(e.contains("address"), "{e}");
}

#[test]
fn duplicate_public_keys_are_refused() {
    let (dir, text) = generated(2, 4, Protocol::Pbft);
    let (first, sixth) = (public_of(&text, 0), public_of(&text, 5));
    let e = error_of(&dir, &text.replace(&sixth, &first));
    assert!(e.contains("shards[1].replicas[1].public_key") && e.contains("shards[0].replicas[0]"));
}

#[test]
fn malformed_public_keys_are_named() {
    let (dir, text) = generated(1, 4, Protocol::Pbft);
    let key = public_of(&text, 3);
    let e = error_of(&dir, &text.replace(&key, "zz"));
    assert!(e.contains("shards[0].replicas[3].public_key") && e.contains("hex"), "{e}");
    let e = error_of(&dir, &text.replace(&key, &key[..62]));
    assert!(e.contains("31 bytes"), "{e}");
}

#[test]
fn shards_need_3f_plus_1_replicas() {
    let (dir, text) = generated(1, 4, Protocol::Pbft);
    let last = text.rfind("[[shards.replicas]]").unwrap();
    let e = error_of(&dir, &text[..last]);
    assert!(e.contains("shards[0].replicas") && e.contains("3 replica(s)"), "{e}");
    let e = error_of(&dir, &text[..text.find("[[shards]]").unwrap()]);
    assert!(e.contains("shards") && e.contains("no shards"), "{e}");

    let (dir, text) = generated(1, 5, Protocol::Pbft);
    let cfg = NetworkConfig::parse(&text, &dir.path().join(CONFIG_FILE)).expect("5 works");
    assert!(cfg.warnings.iter().any(|w| w.contains("shards[0] has 5")), "{:?}", cfg.warnings);
}

#[test]
fn key_files_are_checked() {
    let (dir, text) = generated(1, 4, Protocol::Pbft);
    let e = error_of(&dir, &text.replace("keys/s0r2.key", "keys/missing.key"));
    assert!(e.contains("shards[0].replicas[2].key_file") && e.contains("missing.key"), "{e}");
    assert!(e.contains("cannot read"), "{e}");

    let e = error_of(&dir, &text.replace("keys/s0r2.key", "keys/s0r3.key"));
    assert!(e.contains("holds the secret of"), "another replica's key: {e}");

    std::fs::write(dir.path().join("keys/bad.key"), "not a key\n").unwrap();
    let e = error_of(&dir, &text.replace("keys/s0r2.key", "keys/bad.key"));
    assert!(e.contains("not a hex-encoded"), "{e}");

    let e = error_of(&dir, &text.replace("keys/client.key", "keys/s0r1.key"));
    assert!(e.contains("client_api.key_file") && e.contains("replicas[1]"), "{e}");

    // Without its key file a config is fine until that replica is run from it.
    let cfg = NetworkConfig::parse(
        &text.replace("key_file = \"keys/s0r2.key\"\n", ""),
        &dir.path().join(CONFIG_FILE),
    )
    .expect("a key file is optional");
    let id = cfg.replica(0, 2).unwrap().0;
    let e = cfg.replica_key(id).unwrap_err().to_string();
    assert!(e.contains("shards[0].replicas[2].key_file") && e.contains("missing"), "{e}");
}

#[test]
fn checkers_name_known_contracts() {
    let (dir, text) = generated(1, 4, Protocol::Pbft);
    let e = error_of(&dir, &text.replace("addition = \"native\"", "adition = \"native\""));
    assert!(e.contains("checkers.adition") && e.contains("addition"), "{e}");
    let e = error_of(&dir, &text.replace("addition = \"native\"", "addition = \"python\""));
    assert!(e.contains("python"), "{e}");
}

#[test]
fn stores_and_paths() {
    let (dir, text) = generated(1, 4, Protocol::Pbft);
    let text = text.replace("kind = \"redb\"", "kind = \"memory\"");
    let cfg = NetworkConfig::parse(&text, &dir.path().join(CONFIG_FILE)).unwrap();
    assert_eq!(cfg.store.kind, StoreKind::Memory);
    assert!(cfg.warnings.iter().any(|w| w.contains("memory")));
    let e = error_of(&dir, &text.replace("kind = \"memory\"", "kind = \"sled\""));
    assert!(e.contains("sled"), "{e}");
}

#[test]
fn unreadable_config_is_named() {
    let e = NetworkConfig::load("/nonexistent/network.toml").unwrap_err().to_string();
    assert!(e.contains("/nonexistent/network.toml") && e.contains("cannot read"), "{e}");
}

#[test]
fn transport_overrides_are_checked() {
    let (dir, text) = generated(1, 4, Protocol::Pbft);
    let with = |t: &str| format!("{text}\n[transport]\n{t}\n");
    let cfg = NetworkConfig::parse(&with("idle_timeout_ms = 5000"), &dir.path().join(CONFIG_FILE))
        .expect("an override");
    assert_eq!(cfg.quic.idle_timeout.as_millis(), 5000);
    let e = error_of(&dir, &with("idle_timeout_ms = 1000\nkeep_alive_ms = 1000"));
    assert!(e.contains("transport.keep_alive_ms"), "{e}");
    let e = error_of(&dir, &with("connect_timeout_ms = 0"));
    assert!(e.contains("transport.connect_timeout_ms"), "{e}");
    let e = error_of(&dir, &with("idle_timeout = 3"));
    assert!(e.contains("idle_timeout"), "{e}");
    let cfg = NetworkConfig::parse(&with("max_udp_payload = 1452"), &dir.path().join(CONFIG_FILE))
        .expect("a payload override");
    assert_eq!(cfg.quic.max_udp_payload, 1452);
    for bad in ["max_udp_payload = 1199", "max_udp_payload = 65528"] {
        let e = error_of(&dir, &with(bad));
        assert!(e.contains("transport.max_udp_payload"), "{bad}: {e}");
    }
}
