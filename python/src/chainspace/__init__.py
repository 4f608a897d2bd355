"""Chainspace for Python: the client of the client API and the contract framework.

The same objects are importable under the original prototype's module names, so original
scripts and contracts run unchanged::

    from chainspaceapi import ChainspaceClient
    from chainspacecontract import ChainspaceContract, ChainspaceObject

See ``python/README.md`` for a guide to writing a contract.
"""

from .calls import (
    BadRequest,
    all_checker_calls,
    transaction_inline_objects,
    validate_call,
)
from .checks import Reject
from .client import (
    FINAL_OUTCOMES,
    ChainspaceClient,
    ChainspaceConnectionError,
    Response,
)
from .contract import (
    ChainspaceContract,
    ChainspaceObject,
    DependencyError,
    MethodResultError,
    Verdict,
)
from .ids import (
    canonical_json,
    object_id,
    output_ids,
    sha256_hex,
    shard_of,
    transaction_digest,
)
from .service import CheckerService

__version__ = "0.1.0"

__all__ = [
    "BadRequest",
    "ChainspaceClient",
    "ChainspaceConnectionError",
    "ChainspaceContract",
    "ChainspaceObject",
    "CheckerService",
    "DependencyError",
    "FINAL_OUTCOMES",
    "MethodResultError",
    "Reject",
    "Response",
    "Verdict",
    "all_checker_calls",
    "canonical_json",
    "object_id",
    "output_ids",
    "sha256_hex",
    "shard_of",
    "transaction_digest",
    "transaction_inline_objects",
    "validate_call",
]
