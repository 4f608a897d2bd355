"""Canonical JSON, transaction digests, object IDs and shards, as the Rust node computes them.

A transaction's ID (its *digest*) is the SHA-256 of its canonical JSON, and the ID of each
object it creates derives from that digest (DESIGN.md, "Compatibility with the original
Chainspace"):

* canonical JSON = ``json.dumps(tx, sort_keys=True, separators=(',', ':'))`` with ASCII
  escaping, exactly as the original Python ``chainspacecontract`` wrote it;
* transaction digest = ``sha256_hex(canonical_json(tx))``;
* object ID = ``sha256_hex(tx_digest + "|" + sha256_hex(value) + "|" + str(index))``;
* shard of an ID = ``int(id_hex, 16) % num_shards``.

The Rust side (``core/src/json.rs``, ``core/src/transaction.rs``) is tested against the
same vectors (``shared/vectors/ids.json``), so IDs computed here are the IDs the network
uses.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, Sequence

__all__ = [
    "TRANSACTION_FIELDS",
    "canonical_json",
    "sha256_hex",
    "transaction_digest",
    "object_id",
    "output_ids",
    "shard_of",
]

#: The eight keys of a transaction, as the original framework names them. The Rust client
#: API requires exactly these keys (a missing or extra key would change the digest).
TRANSACTION_FIELDS: tuple[str, ...] = (
    "contractID",
    "methodID",
    "inputIDs",
    "referenceInputIDs",
    "parameters",
    "outputs",
    "returns",
    "dependencies",
)


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value``: sorted keys, no spaces, ASCII escaping.

    Tuples are written as lists and ``str`` subclasses (such as
    :class:`chainspace.ChainspaceObject`) as plain strings. ``NaN`` and infinities raise
    ``ValueError``: they are not JSON, and the Rust side refuses them.
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def sha256_hex(data: str | bytes) -> str:
    """SHA-256 of ``data`` (a ``str`` is hashed as UTF-8) in lower-case hex."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def transaction_digest(transaction: Mapping[str, Any]) -> str:
    """The ID of ``transaction`` (the dict with the eight keys, dependencies included):
    the SHA-256 hex of its canonical JSON."""
    return sha256_hex(canonical_json(transaction))


def object_id(tx_digest: str, value: str, index: int) -> str:
    """The ID of output number ``index`` (from 0) with value ``value`` of the transaction
    whose digest is ``tx_digest``."""
    if not isinstance(value, str):
        raise TypeError(f"object values are strings, got {type(value).__name__}")
    return sha256_hex(f"{tx_digest}|{sha256_hex(value)}|{int(index)}")


def output_ids(transaction: Mapping[str, Any]) -> list[str]:
    """The IDs of the objects ``transaction`` itself creates, in the order of its
    ``outputs`` (a dependency's outputs derive from the dependency's own digest)."""
    digest = transaction_digest(transaction)
    outputs: Sequence[str] = transaction["outputs"]
    return [object_id(digest, value, i) for i, value in enumerate(outputs)]


def shard_of(hex_id: str, num_shards: int) -> int:
    """The shard managing the object (or transaction) ``hex_id`` among ``num_shards``."""
    if num_shards <= 0:
        raise ValueError("num_shards must be positive")
    return int(hex_id, 16) % num_shards
