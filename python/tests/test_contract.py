"""The contract framework: methods build transactions, checkers (explicit and default)
decide calls, dependencies are recorded."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from chainspace import (
    BadRequest,
    ChainspaceContract,
    ChainspaceObject,
    DependencyError,
    MethodResultError,
    Reject,
    all_checker_calls,
    output_ids,
    transaction_digest,
    transaction_inline_objects,
    validate_call,
)


def make_counter() -> ChainspaceContract:
    c = ChainspaceContract("counter")

    @c.method("init")
    def init() -> dict[str, Any]:
        return {"outputs": ("0",)}

    @c.method("add")
    def add(inputs, reference_inputs, parameters):
        (n,) = parameters
        return {"outputs": (str(int(inputs[0]) + n),), "returns": (int(inputs[0]),)}

    @c.method("read")
    def read(inputs, reference_inputs, parameters):
        return {"returns": [int(reference_inputs[0])]}

    @c.method("signed")
    def signed(inputs, reference_inputs, parameters, secret):
        return {"outputs": [str(len(secret))], "extra_parameters": [secret[::-1]]}

    return c


def call_of(data: dict[str, Any]) -> dict[str, Any]:
    return transaction_inline_objects(data)


def test_chainspace_object_is_a_str_with_an_id() -> None:
    o = ChainspaceObject("ab" * 32, "hello")
    assert o == "hello" and isinstance(o, str) and o.object_id == "ab" * 32
    assert repr(o) == "'hello'"
    back = pickle.loads(pickle.dumps(o))
    assert back == "hello" and back.object_id == o.object_id


def test_methods_build_the_original_transaction_shape() -> None:
    c = make_counter()
    data = c.methods["init"]()
    tx = data["transaction"]
    assert set(tx) == {"contractID", "methodID", "inputIDs", "referenceInputIDs", "parameters", "outputs", "returns", "dependencies"}
    assert tx["outputs"][0].object_id == output_ids(tx)[0]
    counter = tx["outputs"][0]
    added = c.methods["add"]([counter], None, [5])
    assert added["transaction"]["parameters"] == [5]
    assert added["transaction"]["outputs"] == ["5"] and added["transaction"]["returns"] == [0]
    assert added["store"] == {counter.object_id: "0"}
    read = c.methods["read"](None, [counter])
    assert read["transaction"]["referenceInputIDs"] == [counter.object_id]
    assert read["store"] == {counter.object_id: "0"}


def test_extra_parameters_are_appended_and_private_args_not_recorded() -> None:
    c = make_counter()
    data = c.methods["signed"](None, None, ["public"], "s3cret")
    assert data["transaction"]["parameters"] == ["public", "terc3s"]
    assert "s3cret" not in str(data["transaction"])


def test_inputs_must_carry_ids_and_results_must_be_well_formed() -> None:
    c = make_counter()
    with pytest.raises(TypeError, match="ChainspaceObject"):
        c.methods["add"](["0"], None, [1])
    with pytest.raises(TypeError, match="takes no parameters"):
        c.methods["init"](None, None, [1])
    bad = ChainspaceContract("bad")

    @bad.method("int_output")
    def int_output():
        return {"outputs": [1]}

    @bad.method("typo")
    def typo():
        return {"output": ["1"]}

    @bad.method("nan")
    def nan():
        return {"returns": [float("nan")]}

    with pytest.raises(MethodResultError, match="json.dumps"):
        int_output()
    with pytest.raises(MethodResultError, match="unknown key"):
        typo()
    with pytest.raises(ValueError):
        nan()


def test_default_checker_reruns_the_method() -> None:
    c = make_counter()
    counter = c.methods["init"]()["transaction"]["outputs"][0]
    call = call_of(c.methods["add"]([counter], None, [5]))
    assert c.check(call).success
    for key, value in (("outputs", ["6"]), ("returns", [1]), ("parameters", [6]), ("inputs", ["1"])):
        verdict = c.check(dict(call, **{key: value}))
        assert not verdict.success, key
    assert not c.check(dict(call, dependencies=[dict(call, dependencies=[])])).success
    # A method that raises on the call's values rejects it.
    assert not c.check(dict(call, parameters=["x"])).success
    assert not c.check(dict(call, inputs=[])).success


def test_default_checker_cannot_rerun_methods_with_extra_parameters() -> None:
    c = make_counter()
    call = call_of(c.methods["signed"](None, None, [], "k"))
    verdict = c.check(call)
    assert not verdict.success and "private arguments" in verdict.reason
    plain = ChainspaceContract("plain")

    @plain.method("extra")
    def extra(inputs, reference_inputs, parameters):
        return {"extra_parameters": ["x"]}

    verdict = plain.check(call_of(extra()))
    assert not verdict.success and "extra_parameters" in verdict.reason


def test_explicit_checkers_accept_only_true() -> None:
    c = ChainspaceContract("strict")
    answers: dict[str, Any] = {}

    @c.checker("m")
    def m(inputs, reference_inputs, parameters, outputs, returns, dependencies):
        if answers.get("raise"):
            raise answers["raise"]
        return answers["value"]

    call = {"contractID": "strict", "methodID": "m", "inputs": [], "referenceInputs": [], "parameters": [],
            "outputs": [], "returns": [], "dependencies": []}
    for value, ok in ((True, True), (False, False), (1, False), ("yes", False), (None, False)):
        answers["value"] = value
        assert c.check(call).success is ok, value
    answers["raise"] = Reject("no way")
    assert c.check(call) == c.check(call) and c.check(call).reason == "no way"
    answers["raise"] = KeyError("boom")
    assert "KeyError" in c.check(call).reason
    answers["raise"] = RecursionError()
    assert not c.check(call).success
    assert not c.check(dict(call, methodID="other")).success
    assert not c.check(dict(call, contractID="other")).success


def test_dependencies_nest_and_need_registering() -> None:
    inner = make_counter()
    outer = ChainspaceContract("outer")
    outer.register_dependency(inner)
    outer.register_dependency(inner)
    assert outer.dependencies == [inner]

    @outer.method("double_init")
    def double_init(inputs, reference_inputs, parameters):
        a = inner.methods["init"]()
        b = inner.methods["add"]([inputs[0]], None, [1])
        return {"returns": [a["transaction"]["outputs"][0], b["transaction"]["outputs"][0]]}

    seed = inner.methods["init"]()["transaction"]["outputs"][0]
    data = double_init([seed])
    deps = data["transaction"]["dependencies"]
    assert [d["methodID"] for d in deps] == ["init", "add"]
    assert data["transaction"]["returns"] == ["0", "1"]
    assert data["store"] == {seed.object_id: "0"}
    # Dependency outputs derive from the dependency's own digest.
    assert deps[1]["outputs"][0].object_id == output_ids(deps[1])[0]
    assert transaction_digest(data["transaction"]) != transaction_digest(deps[0])
    calls = all_checker_calls(data)
    assert [c["contractID"] for c in calls] == ["outer", "counter", "counter"]
    assert "dependencies" not in calls[0]["dependencies"][0]
    served = outer.contracts_served()
    assert all(served[c["contractID"]].check(c).success for c in calls)
    # A nested call from an unregistered contract fails.
    lonely = ChainspaceContract("lonely")

    @lonely.method("m")
    def m():
        inner.methods["init"]()
        return {}

    with pytest.raises(DependencyError):
        m()


def test_validate_call_names_the_offending_place() -> None:
    good = {"contractID": "c", "methodID": "m", "inputs": ["a"], "referenceInputs": [], "parameters": [1],
            "outputs": [], "returns": [], "dependencies": []}
    assert validate_call(dict(good, extra=1)) == good
    cases = [
        ([], "call: expected a JSON object"),
        ({k: v for k, v in good.items() if k != "outputs"}, "call.outputs: missing field"),
        ({k: v for k, v in good.items() if k != "dependencies"}, "call.dependencies: missing field"),
        (dict(good, inputs=[1]), "call.inputs[0]: expected a string"),
        (dict(good, contractID=None), "call.contractID: expected a string"),
        (dict(good, parameters={}), "call.parameters: expected an array"),
        (dict(good, dependencies={}), "call.dependencies: expected an array"),
        (dict(good, dependencies=[{"contractID": "d"}]), "call.dependencies[0].methodID: missing field"),
    ]
    for body, message in cases:
        with pytest.raises(BadRequest) as e:
            validate_call(body)
        assert str(e.value) == message
    nested = dict(good, dependencies=[dict(good)])
    assert "dependencies" not in validate_call(nested)["dependencies"][0]


def test_transaction_inline_objects_needs_every_value() -> None:
    c = make_counter()
    counter = c.methods["init"]()["transaction"]["outputs"][0]
    data = c.methods["add"]([counter], None, [1])
    call = transaction_inline_objects(data)
    assert call["inputs"] == ["0"] and call["dependencies"] == []
    assert data["transaction"]["inputIDs"] == [counter.object_id]  # unchanged
    with pytest.raises(KeyError):
        transaction_inline_objects({"transaction": data["transaction"], "store": {}})


def test_contract_names_are_checked() -> None:
    for bad in ("", "a/b", None):
        with pytest.raises(ValueError):
            ChainspaceContract(bad)  # type: ignore[arg-type]
