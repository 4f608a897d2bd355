"""Helpers for writing checkers: strict readers of untrusted values and :class:`Reject`.

A checker is a pure function over data that may come from a Byzantine client: any value in
a call can be garbage. The readers here never let a bad value through silently: they raise
:class:`Reject` naming the offending place, which the checker service turns into
``{"success": false, "reason": ...}``. They follow the Rust contracts
(``contracts/src/call.rs``): object values must be *canonical* JSON (one state, one
spelling, hence one ID), integers are in ``0..2**64`` and never booleans, keys and
signatures are lower-case hex of an exact length.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, NoReturn, Sequence

from .ids import canonical_json

__all__ = [
    "Reject",
    "reject",
    "require",
    "expect_count",
    "expect_equal",
    "parse_canonical",
    "expect_fields",
    "expect_u64",
    "expect_str",
    "expect_list",
    "expect_hex",
    "clip",
]

U64_MAX = 2**64 - 1


class Reject(Exception):
    """Raised by a checker (or a helper) to reject a call, with the reason as message."""


def clip(text: Any, limit: int = 80) -> str:
    """At most ``limit`` characters of ``repr``-like text, so a hostile value cannot make
    a reason arbitrarily long."""
    s = text if isinstance(text, str) else repr(text)
    return s if len(s) <= limit else s[:limit] + "..."


def reject(reason: str) -> NoReturn:
    """Reject the call being checked for ``reason``."""
    raise Reject(reason)


def require(condition: bool, reason: str) -> None:
    """Reject the call for ``reason`` unless ``condition`` holds."""
    if not condition:
        raise Reject(reason)


def expect_count(what: str, items: Sequence[Any], expected: int) -> None:
    """Reject unless ``items`` has exactly ``expected`` elements."""
    if len(items) != expected:
        raise Reject(f"expected exactly {expected} {what}, got {len(items)}")


def expect_equal(what: str, got: Any, expected: Any) -> None:
    """Reject unless ``got`` and ``expected`` have the same canonical JSON (so a tuple
    equals a list, but ``1`` differs from ``1.0`` and from ``true``)."""
    if canonical_json(got) != canonical_json(expected):
        raise Reject(
            f"{what} is {clip(canonical_json(got))}, expected {clip(canonical_json(expected))}"
        )


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def parse_canonical(text: Any, what: str) -> Any:
    """Parse an object value that must be canonical JSON (what :func:`canonical_json`
    writes), so that one state of an object has exactly one value."""
    if not isinstance(text, str):
        raise Reject(f"{what} is invalid: expected a string")
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError) as e:
        raise Reject(f"{what} is invalid: not JSON ({clip(str(e))}): {clip(text)}") from None
    if canonical_json(value) != text:
        raise Reject(f"{what} is invalid: not canonical JSON: {clip(text)}")
    return value


def expect_fields(value: Any, what: str, keys: Iterable[str]) -> Mapping[str, Any]:
    """``value`` as a JSON object that has exactly the keys ``keys``."""
    if not isinstance(value, dict):
        raise Reject(f"{what} is invalid: expected a JSON object")
    wanted = set(keys)
    extra = sorted(set(value) - wanted)
    if extra:
        raise Reject(f"{what} is invalid: unknown key {clip(extra[0])}")
    missing = sorted(wanted - set(value))
    if missing:
        raise Reject(f"{what} is invalid: missing key {missing[0]!r}")
    return value


def expect_u64(value: Any, what: str) -> int:
    """``value`` as an integer in ``0..2**64`` (not a boolean, not a float)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Reject(f"{what} is invalid: expected an integer, got {type(value).__name__}")
    if not 0 <= value <= U64_MAX:
        raise Reject(f"{what} is invalid: expected an integer in 0..2^64, got {clip(str(value))}")
    return value


def expect_str(value: Any, what: str) -> str:
    """``value`` as a string."""
    if not isinstance(value, str):
        raise Reject(f"{what} is invalid: expected a string, got {type(value).__name__}")
    return value


def expect_list(value: Any, what: str) -> list[Any]:
    """``value`` as a JSON array."""
    if not isinstance(value, list):
        raise Reject(f"{what} is invalid: expected an array, got {type(value).__name__}")
    return value


def expect_hex(value: Any, what: str, length: int) -> bytes:
    """``value`` as exactly ``length`` bytes written as ``2 * length`` lower-case hex
    digits, the only spelling accepted (a key or signature written two ways would give
    one call two transaction IDs)."""
    text = expect_str(value, what)
    if len(text) != 2 * length or any(c not in "0123456789abcdef" for c in text):
        raise Reject(f"{what} is invalid: expected {2 * length} lower-case hex digits")
    return bytes.fromhex(text)
