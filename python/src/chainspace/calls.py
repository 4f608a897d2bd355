"""Checker calls: the JSON body a replica POSTs to a checker, read strictly, and built
from a transaction and its store.

The body (DESIGN.md, "Checker call") is::

    {"contractID", "methodID", "inputs", "referenceInputs", "parameters", "outputs",
     "returns", "dependencies"}

where ``inputs`` and ``referenceInputs`` are object *values* (not IDs), and each entry of
``dependencies`` is a nested call inlined the same way, without a ``dependencies`` key of
its own. Rust builds the same body in ``core/src/checker.rs`` (``CheckRequest::to_json``).
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = [
    "BadRequest",
    "CALL_FIELDS",
    "validate_call",
    "transaction_inline_objects",
    "all_checker_calls",
]

#: The keys of a nested call (a dependency inside a checker call).
CALL_FIELDS: tuple[str, ...] = (
    "contractID",
    "methodID",
    "inputs",
    "referenceInputs",
    "parameters",
    "outputs",
    "returns",
)


class BadRequest(ValueError):
    """A checker call that is not of the documented shape (answered with HTTP 400)."""


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        raise BadRequest(f"{where}: expected an array")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise BadRequest(f"{where}[{i}]: expected a string")
    return value


def _one_call(body: Any, where: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest(f"{where}: expected a JSON object")
    for key in CALL_FIELDS:
        if key not in body:
            raise BadRequest(f"{where}.{key}: missing field")
    for key in ("contractID", "methodID"):
        if not isinstance(body[key], str):
            raise BadRequest(f"{where}.{key}: expected a string")
    for key in ("parameters", "returns"):
        if not isinstance(body[key], list):
            raise BadRequest(f"{where}.{key}: expected an array")
    return {
        "contractID": body["contractID"],
        "methodID": body["methodID"],
        "inputs": _strings(body["inputs"], f"{where}.inputs"),
        "referenceInputs": _strings(body["referenceInputs"], f"{where}.referenceInputs"),
        "parameters": body["parameters"],
        "outputs": _strings(body["outputs"], f"{where}.outputs"),
        "returns": body["returns"],
    }


def validate_call(body: Any) -> dict[str, Any]:
    """Read a checker call body (already parsed from JSON) strictly.

    Returns a new dict with exactly the eight keys; each dependency has the seven keys of
    :data:`CALL_FIELDS` (a ``dependencies`` key inside a dependency is dropped: nested
    calls are checked on their own). Unknown keys are ignored. Raises :class:`BadRequest`
    naming the offending place (``call.dependencies[0].inputs[1]: expected a string``).
    """
    call = _one_call(body, "call")
    if "dependencies" not in body:
        raise BadRequest("call.dependencies: missing field")
    deps = body["dependencies"]
    if not isinstance(deps, list):
        raise BadRequest("call.dependencies: expected an array")
    call["dependencies"] = [_one_call(d, f"call.dependencies[{i}]") for i, d in enumerate(deps)]
    return call


def _inline(transaction: Mapping[str, Any], store: Mapping[str, str]) -> dict[str, Any]:
    def values(ids: Any, what: str) -> list[str]:
        out = []
        for object_id in ids:
            if object_id not in store:
                raise KeyError(f"the store has no value for {what} {object_id}")
            out.append(str(store[object_id]))
        return out

    return {
        "contractID": transaction["contractID"],
        "methodID": transaction["methodID"],
        "inputs": values(transaction["inputIDs"], "input"),
        "referenceInputs": values(transaction["referenceInputIDs"], "reference input"),
        "parameters": list(transaction["parameters"]),
        "outputs": [str(o) for o in transaction["outputs"]],
        "returns": list(transaction["returns"]),
    }


def transaction_inline_objects(data: Mapping[str, Any]) -> dict[str, Any]:
    """The checker call for the top-level call of ``data`` (``{"transaction": ...,
    "store": {object_id: value}}``, what a contract method returns): object IDs replaced
    by their values from the store, each direct dependency inlined the same way without a
    ``dependencies`` key. ``data`` is not modified. Raises ``KeyError`` if the store lacks
    a value."""
    transaction = data["transaction"]
    store = data.get("store", {})
    call = _inline(transaction, store)
    call["dependencies"] = [_inline(dep, store) for dep in transaction["dependencies"]]
    return call


def all_checker_calls(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One checker call per call of ``data``'s transaction: the top level first, then
    every dependency, depth first, as replicas check them (all must be accepted)."""
    store = data.get("store", {})
    out: list[dict[str, Any]] = []

    def walk(transaction: Mapping[str, Any]) -> None:
        out.append(transaction_inline_objects({"transaction": transaction, "store": store}))
        for dep in transaction["dependencies"]:
            walk(dep)

    walk(data["transaction"])
    return out
