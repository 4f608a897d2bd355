"""IDs agree with the Rust side: the shared vectors (shared/vectors/ids.json) and the two
DESIGN.md vectors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from chainspace import (
    canonical_json,
    object_id,
    output_ids,
    sha256_hex,
    shard_of,
    transaction_digest,
)

REPO = Path(__file__).resolve().parents[2]
VECTORS = Path(os.environ.get("CHAINSPACE_SHARED_DIR", REPO / ".." / "shared")) / "vectors" / "ids.json"


def _cases() -> list[Any]:
    if not VECTORS.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{VECTORS} is absent (shared/ is not beside the repository)"))]
    cases = json.loads(VECTORS.read_text(encoding="utf-8"))["cases"]
    return [pytest.param(case, id=case["name"]) for case in cases]


@pytest.mark.parametrize("case", _cases())
def test_shared_vector(case: dict[str, Any]) -> None:
    tx = case["transaction"]
    assert canonical_json(tx) == case["canonical_json"]
    digest = transaction_digest(tx)
    assert digest == case["tx_digest"]
    assert output_ids(tx) == case["output_ids"]
    assert [object_id(digest, v, i) for i, v in enumerate(tx["outputs"])] == case["output_ids"]
    for n in (2, 5):
        key = f"output_shards_of_{n}"
        if key in case:
            assert [shard_of(i, n) for i in case["output_ids"]] == case[key]


def test_shared_vectors_are_twenty_or_more() -> None:
    if not VECTORS.is_file():
        pytest.skip(f"{VECTORS} is absent")
    assert len(json.loads(VECTORS.read_text(encoding="utf-8"))["cases"]) >= 20


INIT = {
    "contractID": "addition",
    "methodID": "init",
    "inputIDs": [],
    "referenceInputIDs": [],
    "parameters": [],
    "outputs": ["0"],
    "returns": [],
    "dependencies": [],
}
INIT_TX = "f0f110bd77f6b3603c8386b02a866dbc10d26b2ae75c371fe268dc20ee3a57ff"
INIT_OBJECT = "a9bde7fac83d70a4c6811d74d3cb218abc6c0f69e0dc5a77f0097be61faf79c7"
INCREMENT_TX = "f7f147b2c2e6506e1e26b0b3186de9e859c7db60efcc3c80dfe9e312ae26cfcd"
INCREMENT_OBJECT = "404d5c43cf0f34857b65405cb2cdcf015cbe792ee0327157f1cd66ea8b340411"


def test_design_vector_addition_init() -> None:
    assert transaction_digest(INIT) == INIT_TX
    assert output_ids(INIT) == [INIT_OBJECT]


def test_design_vector_addition_increment() -> None:
    tx = dict(INIT, methodID="increment", inputIDs=[INIT_OBJECT], outputs=["1"])
    assert transaction_digest(tx) == INCREMENT_TX
    assert output_ids(tx) == [INCREMENT_OBJECT]


def test_canonical_json_is_python_json_with_sorted_keys_and_ascii() -> None:
    assert canonical_json({"b": 1, "a": ("x", "é", "\U0001f389")}) == '{"a":["x","\\u00e9","\\ud83c\\udf89"],"b":1}'
    with pytest.raises(ValueError):
        canonical_json([float("nan")])


def test_object_id_definition() -> None:
    digest = "ab" * 32
    expected = sha256_hex(digest + "|" + sha256_hex("v") + "|" + "3")
    assert object_id(digest, "v", 3) == expected
    with pytest.raises(TypeError):
        object_id(digest, 3, 0)  # type: ignore[arg-type]
