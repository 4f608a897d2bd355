use super::*;
use crate::testutil::{Ledger, assert_accepted, assert_rejected};

fn voter(i: usize) -> Keypair {
    Keypair::from_label(&format!("voter{i}"))
}

fn options() -> Vec<String> {
    vec!["yes".into(), "no".into(), "abstain".into()]
}

/// A ledger holding a fresh election with three options and voters 0, 1 and 2.
fn election() -> (Ledger, Object) {
    let mut ledger = Ledger::default();
    let voters: Vec<PublicKey> = (0..3).map(|i| voter(i).public()).collect();
    let tx = create(&options(), &voters, "e").expect("valid election");
    let created = ledger.commit(&tx).remove(0);
    (ledger, created)
}

#[test]
fn elections_are_canonical_json_with_the_documented_keys() {
    let (_, e) = election();
    let parsed = Election::parse(&e.value).expect("election");
    assert_eq!(parsed.tallies, [0, 0, 0]);
    assert!(parsed.voted.is_empty());
    assert!(e.value.starts_with(
        r#"{"label":"e","options":["yes","no","abstain"],"tallies":[0,0,0],"voted":[],"voters":[""#
    ));
    assert_eq!(parsed.to_value(), e.value);
}

#[test]
fn a_whole_election_is_accepted() {
    let (mut ledger, mut e) = election();
    let voters = Election::parse(&e.value).expect("election").voters;
    let create_tx = create(&options(), &voters, "e").expect("valid");
    assert_accepted(check(&ledger.request(&create_tx)));
    for (i, option) in [(0, 1), (1, 1), (2, 0)] {
        let tx = cast(&e, option, &voter(i)).expect("valid ballot");
        assert_accepted(check(&ledger.request(&tx)));
        e = ledger.commit(&tx).remove(0);
    }
    let result = Election::parse(&e.value).expect("election");
    assert_eq!(result.tallies, [1, 2, 0]);
    assert_eq!(result.voted, [voter(0).public(), voter(1).public(), voter(2).public()]);
    let tx = tally(&e).expect("valid");
    assert_eq!(tx.reference_input_ids, [e.id]);
    assert!(tx.input_ids.is_empty() && tx.outputs.is_empty());
    assert_eq!(tx.returns, [json!([1, 2, 0])]);
    assert_accepted(check(&ledger.request(&tx)));
    assert_accepted(Vote.check(&ledger.request(&tx)));
}

#[test]
fn create_rejects_bad_elections_and_tampering() {
    let (ledger, e) = election();
    let keys: Vec<PublicKey> = (0..2).map(|i| voter(i).public()).collect();
    let dup = keys[0];
    assert!(create(&[], &keys, "x").is_err());
    assert!(create(&options(), &[], "x").is_err());
    assert!(create(&["a".into(), "a".into()], &keys, "x").is_err());
    assert!(create(&options(), &[dup, dup], "x").is_err());

    let good = create(&options(), &keys, "x").expect("valid");
    let cases = [
        (0, json!([]), "at least one option"),
        (0, json!(["a", "a"]), "options repeat"),
        (0, json!("yes"), "parameters[0] (options) is invalid"),
        (0, json!(["a", 1]), "parameters[0][1] is invalid"),
        (1, json!([]), "at least one voter"),
        (1, json!([key_hex(&dup), key_hex(&dup)]), "voters repeat"),
        (1, json!(["nothex"]), "parameters[1][0] is invalid"),
        (2, json!(null), "parameters[2] (label) is invalid"),
    ];
    for (i, value, reason) in cases {
        let mut tx = good.clone();
        tx.parameters[i] = value;
        assert_rejected(check(&ledger.request(&tx)), reason);
    }
    let mut started = Election::parse(&good.outputs[0]).expect("election");
    started.tallies[0] = 1;
    started.voted.push(keys[0]);
    let tampered = Transaction { outputs: vec![started.to_value()], ..good.clone() };
    assert_rejected(check(&ledger.request(&tampered)), "outputs[0] is");
    let with_input = Transaction { input_ids: vec![e.id], ..good.clone() };
    assert_rejected(check(&ledger.request(&with_input)), "exactly 0 inputs, got 1");
    let no_output = Transaction { outputs: vec![], ..good };
    assert_rejected(check(&ledger.request(&no_output)), "exactly 1 outputs, got 0");
}

#[test]
fn cast_shape_is_enforced() {
    let (ledger, e) = election();
    let good = cast(&e, 0, &voter(0)).expect("valid");
    let cases = [
        (Transaction { input_ids: vec![], ..good.clone() }, "exactly 1 inputs, got 0"),
        (Transaction { input_ids: vec![e.id, e.id], ..good.clone() }, "exactly 1 inputs, got 2"),
        (Transaction { outputs: vec![], ..good.clone() }, "exactly 1 outputs, got 0"),
        (
            Transaction { parameters: good.parameters[..2].to_vec(), ..good.clone() },
            "exactly 3 parameters, got 2",
        ),
        (Transaction { reference_input_ids: vec![e.id], ..good.clone() }, "0 reference inputs"),
        (Transaction { returns: vec![json!(0)], ..good.clone() }, "exactly 0 returns, got 1"),
        (Transaction { dependencies: vec![good.clone()], ..good.clone() }, "0 dependencies"),
    ];
    for (tx, reason) in cases {
        assert_rejected(check(&ledger.request(&tx)), reason);
    }
    let mut bad_option = good.clone();
    bad_option.parameters[0] = json!("0");
    assert_rejected(check(&ledger.request(&bad_option)), "parameters[0] (option) is invalid");
    let mut bad_voter = good.clone();
    bad_voter.parameters[1] = json!(42);
    assert_rejected(check(&ledger.request(&bad_voter)), "parameters[1] (voter) is invalid");
    let mut bad_sig = good;
    bad_sig.parameters[2] = json!("00");
    assert_rejected(check(&ledger.request(&bad_sig)), "parameters[2] (signature) is invalid");
}

#[test]
fn options_out_of_range_are_rejected() {
    let (ledger, e) = election();
    assert_eq!(cast(&e, 3, &voter(0)), Err(ContractError::OptionOutOfRange { index: 3, count: 3 }));
    let mut tx = cast(&e, 0, &voter(0)).expect("valid");
    for option in [json!(3), json!(u64::MAX)] {
        tx.parameters[0] = option;
        assert_rejected(check(&ledger.request(&tx)), "out of range: the election has 3 options");
    }
}

#[test]
fn unknown_voters_are_rejected() {
    let (ledger, e) = election();
    let outsider = voter(9);
    assert!(matches!(cast(&e, 0, &outsider), Err(ContractError::UnknownVoter { .. })));
    // Built by hand, as an outsider would: outputs computed and signature valid.
    let mut forged = Election::parse(&e.value).expect("election");
    forged.tallies[0] += 1;
    forged.voted.push(outsider.public());
    let signature = outsider.sign(CAST_DOMAIN, &cast_message(&e.value, 0));
    let tx = Transaction {
        contract_id: CONTRACT_ID.into(),
        method_id: CAST.into(),
        input_ids: vec![e.id],
        reference_input_ids: vec![],
        parameters: vec![
            json!(0),
            json!(key_hex(&outsider.public())),
            json!(signature_hex(&signature)),
        ],
        outputs: vec![forged.to_value()],
        returns: vec![],
        dependencies: vec![],
    };
    assert_rejected(check(&ledger.request(&tx)), "is not allowed to vote in this election");
}

#[test]
fn double_votes_are_rejected() {
    let (mut ledger, e) = election();
    let first = cast(&e, 0, &voter(1)).expect("valid");
    let e1 = ledger.commit(&first).remove(0);
    assert!(matches!(cast(&e1, 1, &voter(1)), Err(ContractError::AlreadyVoted { .. })));
    let mut again = cast(&e1, 1, &voter(2)).expect("valid for voter 2");
    let mut next = Election::parse(&e1.value).expect("election");
    next.tallies[1] += 1;
    next.voted.push(voter(1).public());
    again.parameters[1] = json!(key_hex(&voter(1).public()));
    again.parameters[2] =
        json!(signature_hex(&voter(1).sign(CAST_DOMAIN, &cast_message(&e1.value, 1))));
    again.outputs = vec![next.to_value()];
    assert_rejected(check(&ledger.request(&again)), "has already voted");
}

#[test]
fn tampered_outputs_are_rejected() {
    let (ledger, e) = election();
    let good = cast(&e, 2, &voter(0)).expect("valid");
    let next = Election::parse(&good.outputs[0]).expect("election");
    let wrong = [
        Election { tallies: vec![1, 0, 0], ..next.clone() },
        Election {
            tallies: vec![0, 0, 2],
            voted: vec![voter(0).public(), voter(1).public()],
            ..next.clone()
        },
        Election { voted: vec![voter(1).public()], ..next.clone() },
        Election { options: vec!["yes".into(), "no".into(), "maybe".into()], ..next.clone() },
        Election { voters: next.voters[..2].to_vec(), ..next.clone() },
        Election { label: "f".into(), ..next.clone() },
    ];
    for election in wrong {
        let tx = Transaction { outputs: vec![election.to_value()], ..good.clone() };
        assert_rejected(check(&ledger.request(&tx)), "outputs[0] is");
    }
    let unchanged = Transaction { outputs: vec![e.value.clone()], ..good };
    assert_rejected(check(&ledger.request(&unchanged)), "outputs[0] is");
}

#[test]
fn ballots_must_be_signed_by_the_voter_for_this_election_and_option() {
    let (mut ledger, e) = election();
    let good = cast(&e, 0, &voter(0)).expect("valid");
    let mut by_other = good.clone();
    by_other.parameters[2] =
        json!(signature_hex(&voter(1).sign(CAST_DOMAIN, &cast_message(&e.value, 0))));
    assert_rejected(check(&ledger.request(&by_other)), "invalid signature");
    let mut other_domain = good.clone();
    other_domain.parameters[2] = json!(signature_hex(
        &voter(0).sign(crate::bank::TRANSFER_DOMAIN, &cast_message(&e.value, 0))
    ));
    assert_rejected(check(&ledger.request(&other_domain)), "invalid signature");

    // A ballot for option 0 replayed as a ballot for option 1.
    let mut other_option = cast(&e, 1, &voter(0)).expect("valid");
    other_option.parameters[2] = good.parameters[2].clone();
    assert_rejected(check(&ledger.request(&other_option)), "invalid signature");

    // A ballot replayed onto another election with the same options and voters.
    let voters: Vec<PublicKey> = (0..3).map(|i| voter(i).public()).collect();
    let twin = ledger.commit(&create(&options(), &voters, "twin").expect("valid")).remove(0);
    let mut onto_twin = cast(&twin, 0, &voter(0)).expect("valid");
    onto_twin.parameters[2] = good.parameters[2].clone();
    assert_rejected(check(&ledger.request(&onto_twin)), "invalid signature");

    // A ballot replayed onto a later state of the same election.
    let e1 = ledger.commit(&cast(&e, 2, &voter(1)).expect("valid")).remove(0);
    let mut onto_later = cast(&e1, 0, &voter(0)).expect("valid");
    onto_later.parameters[2] = good.parameters[2].clone();
    assert_rejected(check(&ledger.request(&onto_later)), "invalid signature");
}

#[test]
fn garbage_election_values_are_rejected() {
    let (mut ledger, e) = election();
    let good = cast(&e, 0, &voter(0)).expect("valid");
    let parsed = Election::parse(&e.value).expect("election");
    let k0 = key_hex(&voter(0).public());
    let inconsistent = [
        Election { tallies: vec![1, 0, 0], ..parsed.clone() },
        Election { tallies: vec![0, 0], ..parsed.clone() },
        Election { voted: vec![voter(9).public()], tallies: vec![1, 0, 0], ..parsed.clone() },
        Election { voted: vec![voter(0).public(); 2], tallies: vec![2, 0, 0], ..parsed.clone() },
        Election { options: vec![], tallies: vec![], ..parsed.clone() },
        Election { voters: vec![], ..parsed.clone() },
        Election {
            tallies: vec![u64::MAX, 1, 0],
            voted: vec![voter(0).public()],
            ..parsed.clone()
        },
    ];
    let mut garbage: Vec<String> = inconsistent.iter().map(Election::to_value).collect();
    garbage.extend([
        "".to_string(),
        "null".to_string(),
        e.value.replace(",", ", "),
        r#"{"label":"e"}"#.to_string(),
        e.value.replace(r#""tallies":[0,0,0]"#, r#""tallies":[0,0,-1]"#),
        e.value.replace(r#""tallies":[0,0,0]"#, r#""tallies":"000""#),
        e.value.replace(r#""options":["yes","no","abstain"]"#, r#""options":["yes","no",3]"#),
        e.value.replace(&format!("\"voters\":[\"{k0}\""), "\"voters\":[\"xyz\""),
        e.value.replace(r#""label":"e""#, r#""label":["e"]"#),
    ]);
    for (i, value) in garbage.into_iter().enumerate() {
        let forged = ledger.forge(&format!("g{i}"), &value);
        let tx = Transaction { input_ids: vec![forged.id], ..good.clone() };
        let verdict = check(&ledger.request(&tx));
        assert_rejected(verdict.clone(), "inputs[0]");
        assert_rejected(verdict, "is invalid");
        let tx = Transaction { reference_input_ids: vec![forged.id], ..tally(&e).expect("valid") };
        assert_rejected(check(&ledger.request(&tx)), "referenceInputs[0]");
        assert!(cast(&forged, 0, &voter(0)).is_err());
        assert!(tally(&forged).is_err());
    }
}

#[test]
fn tally_must_return_the_tallies_and_consume_nothing() {
    let (mut ledger, e) = election();
    let e1 = ledger.commit(&cast(&e, 1, &voter(0)).expect("valid")).remove(0);
    let good = tally(&e1).expect("valid");
    assert_eq!(good.returns, [json!([0, 1, 0])]);
    assert_accepted(check(&ledger.request(&good)));
    let cases = [
        (Transaction { returns: vec![json!([0, 0, 0])], ..good.clone() }, "returns is"),
        (Transaction { returns: vec![json!([0, 1.0, 0])], ..good.clone() }, "returns is"),
        (Transaction { returns: vec![json!(0), json!(1), json!(0)], ..good.clone() }, "1 returns"),
        (Transaction { returns: vec![], ..good.clone() }, "exactly 1 returns, got 0"),
        (
            Transaction { input_ids: vec![e1.id], reference_input_ids: vec![], ..good.clone() },
            "exactly 0 inputs, got 1",
        ),
        (Transaction { outputs: vec![e1.value.clone()], ..good.clone() }, "0 outputs, got 1"),
        (Transaction { parameters: vec![json!(1)], ..good.clone() }, "0 parameters, got 1"),
        (
            Transaction { reference_input_ids: vec![e1.id, e.id], ..good.clone() },
            "exactly 1 reference inputs, got 2",
        ),
    ];
    for (tx, reason) in cases {
        assert_rejected(check(&ledger.request(&tx)), reason);
    }
}

#[test]
fn other_contracts_and_methods_are_rejected() {
    let (ledger, e) = election();
    let good = tally(&e).expect("valid");
    let other = Transaction { contract_id: "bank".into(), ..good.clone() };
    assert_rejected(check(&ledger.request(&other)), "not \"vote\"");
    let method = Transaction { method_id: "close".into(), ..good };
    assert_rejected(check(&ledger.request(&method)), "has no method \"close\"");
}
