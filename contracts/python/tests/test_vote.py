"""``vote``: create, cast (signed, once per voter), tally."""

from __future__ import annotations

import json

import pytest
import vote
from chainspace import Reject, transaction_inline_objects
from chainspace.ed25519 import generate_key, public_key_hex, sign_hex


@pytest.fixture()
def voters():
    return [generate_key() for _ in range(3)]


def election(voters):
    data = vote.create(parameters=[["yes", "no"], [public_key_hex(k) for k in voters], "referendum"])
    return data, data["transaction"]["outputs"][0]


def check(data_or_call):
    call = transaction_inline_objects(data_or_call) if "transaction" in data_or_call else data_or_call
    return vote.contract.check(call)


def test_create_cast_tally(voters) -> None:
    created, e0 = election(voters)
    assert check(created).success
    first = vote.cast([e0], None, [0], voters[0])
    assert first["transaction"]["parameters"][:2] == [0, public_key_hex(voters[0])]
    assert check(first).success
    e1 = first["transaction"]["outputs"][0]
    second = vote.cast([e1], None, [1], voters[1])
    assert check(second).success
    e2 = second["transaction"]["outputs"][0]
    assert json.loads(e2)["tallies"] == [1, 1]
    tally = vote.tally(None, [e2])
    assert tally["transaction"]["returns"] == [[1, 1]]
    assert tally["transaction"]["referenceInputIDs"] == [e2.object_id]
    assert check(tally).success


def test_checker_rejects_a_forged_output_and_a_forged_tally(voters) -> None:
    _, e0 = election(voters)
    call = transaction_inline_objects(vote.cast([e0], None, [0], voters[0]))
    call["outputs"] = [call["outputs"][0].replace('"tallies":[1,0]', '"tallies":[2,0]')]
    assert not check(call).success
    tally = transaction_inline_objects(vote.tally(None, [e0]))
    tally["returns"] = [[5, 0]]
    assert not check(tally).success


def test_checker_rejects_a_bad_signature_and_a_second_ballot(voters) -> None:
    _, e0 = election(voters)
    call = transaction_inline_objects(vote.cast([e0], None, [0], voters[0]))
    call["parameters"][2] = sign_hex(voters[1], vote.CAST_DOMAIN, vote.cast_message(e0, 0))
    assert not check(call).success
    call["parameters"][2] = sign_hex(voters[0], vote.CAST_DOMAIN, vote.cast_message(e0, 1))
    assert not check(call).success
    e1 = vote.cast([e0], None, [0], voters[0])["transaction"]["outputs"][0]
    with pytest.raises(Reject, match="already voted"):
        vote.cast([e1], None, [1], voters[0])
    outsider = generate_key()
    with pytest.raises(Reject, match="not a voter"):
        vote.cast([e0], None, [1], outsider)


def test_checker_rejects_invalid_elections(voters) -> None:
    keys = [public_key_hex(k) for k in voters]
    for options, who in ((["a", "a"], keys), ([], keys), (["a"], []), (["a"], keys + keys[:1]), (["a", 1], keys)):
        call = {"contractID": "vote", "methodID": "create", "inputs": [], "referenceInputs": [],
                "parameters": [options, who, "x"], "outputs": ["{}"], "returns": [], "dependencies": []}
        assert not check(call).success, (options, who)
    with pytest.raises(Reject):
        vote.create(parameters=[["a", "a"], keys, "x"])
