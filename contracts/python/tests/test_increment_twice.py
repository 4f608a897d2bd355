"""``increment_twice``: a dependency on ``addition``, checked by the default checker."""

from __future__ import annotations

import addition
import increment_twice
import pytest
from chainspace import (
    DependencyError,
    all_checker_calls,
    transaction_digest,
    transaction_inline_objects,
)
from chainspacecontract import ChainspaceContract

DEPENDENCY_TX = "c8bda1459fa113dcfe1c197179081ff0e1863298e4bf4ecb98e88ca65b2894d2"
DEPENDENCY_OBJECT = "85e28c02b307d7aef2e204b663844e49147e0a881fb227ca047f524879f51fae"
INIT_OBJECT = "a9bde7fac83d70a4c6811d74d3cb218abc6c0f69e0dc5a77f0097be61faf79c7"
INCREMENT_OBJECT = "404d5c43cf0f34857b65405cb2cdcf015cbe792ee0327157f1cd66ea8b340411"


def make():
    counter = addition.init()["transaction"]["outputs"][0]
    return increment_twice.increment(inputs=[counter])


def test_method_records_the_dependency_and_reproduces_the_shared_vector() -> None:
    data = make()
    tx = data["transaction"]
    assert transaction_digest(tx) == DEPENDENCY_TX
    assert tx["outputs"] == ["2"] and tx["outputs"][0].object_id == DEPENDENCY_OBJECT
    (dep,) = tx["dependencies"]
    assert dep["contractID"] == "addition" and dep["outputs"] == ["1"]
    assert dep["outputs"][0].object_id == INCREMENT_OBJECT
    assert data["store"] == {INIT_OBJECT: "0"}


def test_every_call_is_accepted_by_its_own_contract() -> None:
    served = increment_twice.contract.contracts_served()
    assert set(served) == {"increment_twice", "addition"}
    calls = all_checker_calls(make())
    assert [c["contractID"] for c in calls] == ["increment_twice", "addition"]
    for call in calls:
        assert served[call["contractID"]].check(call).success, call


def test_default_checker_rejects_a_forged_output() -> None:
    call = transaction_inline_objects(make())
    call["outputs"] = ["3"]
    verdict = increment_twice.contract.check(call)
    assert not verdict.success and "outputs" in verdict.reason


def test_default_checker_rejects_a_missing_or_forged_dependency() -> None:
    call = transaction_inline_objects(make())
    assert increment_twice.contract.check(call).success
    assert not increment_twice.contract.check(dict(call, dependencies=[])).success
    forged = dict(call["dependencies"][0], outputs=["5"])
    verdict = increment_twice.contract.check(dict(call, dependencies=[forged]))
    assert not verdict.success and "dependencies" in verdict.reason


def test_calling_an_unregistered_contract_is_an_error() -> None:
    rogue = ChainspaceContract("rogue")

    @rogue.method("sneak")
    def sneak(inputs, reference_inputs, parameters):
        addition.init()
        return {}

    with pytest.raises(DependencyError):
        sneak()
