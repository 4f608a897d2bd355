"""The Python ``addition`` contract: methods reproduce the DESIGN.md vectors, checkers
accept what methods make and reject forgeries."""

from __future__ import annotations

import addition
import pytest
from chainspace import (
    ChainspaceObject,
    Reject,
    all_checker_calls,
    transaction_inline_objects,
)

INIT_TX = "f0f110bd77f6b3603c8386b02a866dbc10d26b2ae75c371fe268dc20ee3a57ff"
INIT_OBJECT = "a9bde7fac83d70a4c6811d74d3cb218abc6c0f69e0dc5a77f0097be61faf79c7"
INCREMENT_OBJECT = "404d5c43cf0f34857b65405cb2cdcf015cbe792ee0327157f1cd66ea8b340411"


def check(data):
    return addition.contract.check(transaction_inline_objects(data))


def test_methods_reproduce_the_design_vectors() -> None:
    first = addition.init()
    counter = first["transaction"]["outputs"][0]
    assert isinstance(counter, ChainspaceObject)
    assert counter == "0" and counter.object_id == INIT_OBJECT
    assert first["store"] == {}
    second = addition.increment(inputs=[counter])
    tx = second["transaction"]
    assert tx["inputIDs"] == [INIT_OBJECT]
    assert tx["outputs"] == ["1"] and tx["outputs"][0].object_id == INCREMENT_OBJECT
    assert second["store"] == {INIT_OBJECT: "0"}


def test_checkers_accept_what_methods_make() -> None:
    first = addition.init()
    assert check(first).success
    second = addition.increment(inputs=[first["transaction"]["outputs"][0]])
    assert check(second).success
    assert [c["methodID"] for c in all_checker_calls(second)] == ["increment"]


def test_checker_rejects_a_forged_output() -> None:
    counter = addition.init()["transaction"]["outputs"][0]
    data = addition.increment(inputs=[counter])
    call = transaction_inline_objects(data)
    call["outputs"] = ["2"]
    verdict = addition.contract.check(call)
    assert not verdict.success and "outputs[0]" in verdict.reason
    init = transaction_inline_objects(addition.init())
    init["outputs"] = ["1000"]
    assert not addition.contract.check(init).success


@pytest.mark.parametrize("value", ["-1", "01", " 1", "1.0", "x", "", "١", str(2**64)])
def test_checker_rejects_non_canonical_or_out_of_range_counters(value: str) -> None:
    call = {"contractID": "addition", "methodID": "increment", "inputs": [value], "referenceInputs": [],
            "parameters": [], "outputs": ["1"], "returns": [], "dependencies": []}
    assert not addition.contract.check(call).success


def test_checker_rejects_the_increment_past_u64() -> None:
    top = str(2**64 - 1)
    call = {"contractID": "addition", "methodID": "increment", "inputs": [top], "referenceInputs": [],
            "parameters": [], "outputs": [str(2**64)], "returns": [], "dependencies": []}
    verdict = addition.contract.check(call)
    assert not verdict.success and "overflow" in verdict.reason
    with pytest.raises(Reject):
        addition.increment(inputs=[ChainspaceObject("00" * 32, top)])


def test_checker_rejects_extra_lists() -> None:
    base = {"contractID": "addition", "methodID": "init", "inputs": [], "referenceInputs": [],
            "parameters": [], "outputs": ["0"], "returns": [], "dependencies": []}
    assert addition.contract.check(base).success
    for key, value in (("parameters", [1]), ("returns", ["x"]), ("inputs", ["0"]), ("outputs", ["0", "0"])):
        assert not addition.contract.check(dict(base, **{key: value})).success, key
    unknown = dict(base, methodID="decrement")
    assert not addition.contract.check(unknown).success
