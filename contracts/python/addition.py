"""``addition``: the original prototype's first example contract, a counter.

``init()`` creates a counter whose value is ``"0"``; ``increment(inputs=[counter])``
consumes a counter ``n`` and creates ``n + 1``. Values are the integer's decimal text,
exactly as ``json.dumps`` writes it, so these calls reproduce the DESIGN.md test vectors
(transaction ``f0f110bd...`` creating object ``a9bde7fa...``, then ``f7f147b2...``
creating ``404d5c43...``). Same rules as the Rust ``contracts/src/addition.rs``: counters
are in ``0..2**64`` and written canonically (no sign, no leading zero).

Run its checker service with ``python contracts/python/addition.py checker --port 5001``.
"""

from __future__ import annotations

from typing import Any

from chainspace.checks import Reject, expect_count, expect_equal
from chainspacecontract import ChainspaceContract

contract = ChainspaceContract("addition")

U64_MAX = 2**64 - 1


def parse_counter(value: str, what: str) -> int:
    """A counter value: the canonical decimal text of an integer in ``0..2**64``."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise Reject(f"{what} is invalid: expected a non-negative integer in canonical form")
    if len(value) > 1 and value.startswith("0"):
        raise Reject(f"{what} is invalid: leading zero")
    n = int(value)
    if n > U64_MAX:
        raise Reject(f"{what} overflows a 64-bit integer")
    return n


def incremented(n: int) -> int:
    """``n + 1``, refusing to pass ``2**64 - 1``."""
    if n >= U64_MAX:
        raise Reject("counter + 1 overflows a 64-bit integer")
    return n + 1


@contract.method("init")
def init() -> dict[str, Any]:
    """Create a counter at zero. Every ``init`` is the same transaction, hence creates the
    same object, as in the original."""
    return {"outputs": ("0",)}


@contract.method("increment")
def increment(inputs: tuple[str, ...], reference_inputs: tuple[str, ...], parameters: tuple[Any, ...]) -> dict[str, Any]:
    """Consume a counter ``n`` and create ``n + 1``."""
    if len(inputs) != 1:
        raise ValueError("increment consumes exactly one counter")
    return {"outputs": (str(incremented(parse_counter(inputs[0], "counter"))),)}


def _shape(inputs: list[str], reference_inputs: list[str], parameters: list[Any], outputs: list[str], returns: list[Any], dependencies: list[Any], n_inputs: int) -> None:
    expect_count("inputs", inputs, n_inputs)
    expect_count("reference inputs", reference_inputs, 0)
    expect_count("parameters", parameters, 0)
    expect_count("outputs", outputs, 1)
    expect_count("returns", returns, 0)
    expect_count("dependencies", dependencies, 0)


@contract.checker("init")
def init_checker(inputs: list[str], reference_inputs: list[str], parameters: list[Any], outputs: list[str], returns: list[Any], dependencies: list[Any]) -> bool:
    """Accept exactly the call ``init`` makes: no inputs, one output ``"0"``."""
    _shape(inputs, reference_inputs, parameters, outputs, returns, dependencies, 0)
    expect_equal("outputs[0]", outputs[0], "0")
    return True


@contract.checker("increment")
def increment_checker(inputs: list[str], reference_inputs: list[str], parameters: list[Any], outputs: list[str], returns: list[Any], dependencies: list[Any]) -> bool:
    """Accept exactly the call ``increment`` makes: one counter ``n`` in, ``n + 1`` out."""
    _shape(inputs, reference_inputs, parameters, outputs, returns, dependencies, 1)
    n = parse_counter(inputs[0], "inputs[0]")
    expect_equal("outputs[0]", outputs[0], str(incremented(n)))
    return True


if __name__ == "__main__":
    contract.run()
