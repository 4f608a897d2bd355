"""``increment_twice``: a contract that calls another (``addition``) as a dependency.

``increment(inputs=[counter])`` takes an ``addition`` counter ``n``, calls
``addition.increment`` on it (a nested call, which creates ``n + 1`` and commits
atomically with this one) and itself creates ``n + 2``. This is the ``dependency`` case of
``shared/vectors/ids.json``: incrementing the counter ``a9bde7fa...`` (``"0"``) gives
transaction ``c8bda145...`` creating ``85e28c02...`` (``"2"``).

It has no explicit checker: the default checker re-runs ``increment`` on the call's
values and accepts only if the outputs *and the dependency* are those the method makes.
The dependency itself is also checked by ``addition``'s checker (replicas check every
nested call with its own contract); this service serves both, at ``/increment_twice/...``
and ``/addition/...``.
"""

from __future__ import annotations

from typing import Any

import addition
from chainspacecontract import ChainspaceContract

contract = ChainspaceContract("increment_twice")
contract.register_dependency(addition.contract)


@contract.method("increment")
def increment(inputs: tuple[str, ...], reference_inputs: tuple[str, ...], parameters: tuple[Any, ...]) -> dict[str, Any]:
    """Increment ``inputs[0]`` through ``addition`` and create the counter after that."""
    if len(inputs) != 1 or reference_inputs or parameters:
        raise ValueError("increment takes exactly one counter and nothing else")
    once = addition.increment(inputs=[inputs[0]])
    n = int(once["transaction"]["outputs"][0])
    return {"outputs": (str(addition.incremented(n)),)}


if __name__ == "__main__":
    contract.run()
