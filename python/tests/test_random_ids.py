"""Cross-language fixture: 200 random transactions with their Python digests and IDs.

The fixture ``fixtures/random_ids.json`` has the format of ``shared/vectors/ids.json``
(``{"about", "seed", "cases": [{"name", "transaction", "canonical_json", "tx_digest",
"output_ids", "output_shards_of_2", "output_shards_of_5"}]}``) so the Rust side can check
it with the same reader. Regenerate it with::

    CHAINSPACE_WRITE_RANDOM_IDS=1 python -m pytest python/tests/test_random_ids.py

(or set the variable to another path to write there). Without the variable, the tests
check every case of the committed fixture against this package, and that the generator
still produces exactly the committed fixture.
"""

from __future__ import annotations

import json
import os
import random
import struct
from pathlib import Path
from typing import Any

import pytest
from chainspace import canonical_json, output_ids, shard_of, transaction_digest

SEED = 20180218  # NDSS 2018
COUNT = 200
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "random_ids.json"
ENV = "CHAINSPACE_WRITE_RANDOM_IDS"

# Characters that stress the escaping: quotes, backslash, slash, control characters,
# DEL, Latin-1, CJK, line separators, the edges of the BMP, private use, and astral
# characters (written as surrogate pairs; they also sort after U+E000-U+FFFF by code
# point, unlike in UTF-16 order). No lone surrogates: they are not valid Unicode text.
TRICKY = list('"\\/\b\f\n\r\t\x00\x01\x1f\x7f\x80 ~') + [
    "é", "ß", "Ω", "ж", "日", "本", "語", "\u2028", "\u2029", "\ufeff", "\uffff",
    "\ue000", "\ud7ff", "\U00010000", "\U0001f389", "\U0001f600", "\U0010ffff", "\u0301",
]
ALPHABET = list("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789_-. ") + TRICKY


def _string(rng: random.Random, max_len: int = 12) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, max_len)))


def _float(rng: random.Random) -> float:
    kind = rng.randrange(8)
    if kind == 0:
        return rng.choice([0.0, -0.0, 1.0, -1.0, 0.5, 1e16, 1e15, 1e-4, 1e-5, 1e-7, 1e300, -1e300, 5e-324, 1.7976931348623157e308, 0.1, 0.30000000000000004])
    if kind == 1:
        return rng.uniform(-1e6, 1e6)
    if kind == 2:
        return rng.uniform(-1, 1) * 10.0 ** rng.randint(-320, 300)
    if kind == 3:
        return float(rng.randint(-(2**60), 2**60))
    if kind == 4:
        return round(rng.uniform(-1000, 1000), rng.randint(0, 6))
    # Any finite double, from its bits.
    while True:
        x = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if x == x and x not in (float("inf"), float("-inf")):
            return x


def _int(rng: random.Random) -> int:
    kind = rng.randrange(5)
    if kind == 0:
        return rng.randint(-10, 10)
    if kind == 1:
        return rng.randint(-(2**63), 2**64)
    if kind == 2:
        return rng.choice([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64, -(2**64)])
    if kind == 3:
        return rng.randint(-(10**40), 10**40)
    return int("9" * rng.randint(20, 120)) * rng.choice([1, -1])


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 3 else 6)
    if kind == 0:
        return _string(rng)
    if kind == 1:
        return _int(rng)
    if kind == 2:
        return _float(rng)
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return _string(rng, 40)
    if kind == 5:
        return rng.choice(["", "0", "1e5", "null", "[]", "{}"])
    if kind == 6:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {_string(rng, 6): _value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def _id(rng: random.Random) -> str:
    return "%064x" % rng.getrandbits(256)


def _transaction(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    return {
        "contractID": rng.choice(["addition", "bank", "vote", "dummy", _string(rng, 10)]),
        "methodID": rng.choice(["init", "increment", "transfer", _string(rng, 10)]),
        "inputIDs": [_id(rng) for _ in range(rng.randint(0, 3))],
        "referenceInputIDs": [_id(rng) for _ in range(rng.randint(0, 2))],
        "parameters": [_value(rng) for _ in range(rng.randint(0, 4))],
        "outputs": [
            rng.choice([_string(rng, 20), canonical_json(_value(rng)), json.dumps(_value(rng), ensure_ascii=False)])
            for _ in range(rng.randint(0, 3))
        ],
        "returns": [_value(rng) for _ in range(rng.randint(0, 2))],
        "dependencies": [_transaction(rng, depth + 1) for _ in range(rng.randint(0, 2) if depth < 2 and rng.random() < 0.3 else 0)],
    }


def generate(seed: int = SEED, count: int = COUNT) -> dict[str, Any]:
    """The fixture: ``count`` random transactions from ``seed`` with their IDs."""
    rng = random.Random(seed)
    cases = []
    for i in range(count):
        tx = _transaction(rng)
        ids = output_ids(tx)
        cases.append(
            {
                "name": f"random {i}",
                "transaction": tx,
                "canonical_json": canonical_json(tx),
                "tx_digest": transaction_digest(tx),
                "output_ids": ids,
                "output_shards_of_2": [shard_of(x, 2) for x in ids],
                "output_shards_of_5": [shard_of(x, 5) for x in ids],
            }
        )
    return {
        "about": (
            "Random transactions (non-ASCII and control characters, astral characters, big "
            "integers, floats of every magnitude, nested parameters, dependencies) with the "
            "digests and object IDs the Python package computes: digest = sha256 hex of "
            "json.dumps(tx, sort_keys=True, separators=(',', ':')) (ensure_ascii on), object "
            "id = sha256 hex of digest|sha256_hex(utf-8 value)|index, shard = int(id, 16) mod n. "
            "output_ids are the top-level call's outputs only. Written by "
            "python/tests/test_random_ids.py with CHAINSPACE_WRITE_RANDOM_IDS=1."
        ),
        "seed": seed,
        "count": count,
        "cases": cases,
    }


def _dump(data: Any) -> str:
    return json.dumps(data, indent=1, ensure_ascii=True) + "\n"


def test_write_fixture_when_asked() -> None:
    target = os.environ.get(ENV)
    if not target:
        pytest.skip(f"set {ENV}=1 (or a path) to write the fixture")
    path = FIXTURE if target == "1" else Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_dump(generate()), encoding="ascii")


def _fixture() -> dict[str, Any]:
    if not FIXTURE.is_file():
        pytest.skip(f"{FIXTURE} is absent: run with {ENV}=1 to write it")
    return json.loads(FIXTURE.read_text(encoding="ascii"))


def test_fixture_ids_match_this_package() -> None:
    data = _fixture()
    assert len(data["cases"]) == COUNT
    for case in data["cases"]:
        tx = case["transaction"]
        assert canonical_json(tx) == case["canonical_json"], case["name"]
        assert transaction_digest(tx) == case["tx_digest"], case["name"]
        assert output_ids(tx) == case["output_ids"], case["name"]


def test_generator_reproduces_the_fixture() -> None:
    if os.environ.get(ENV):
        pytest.skip("writing the fixture")
    _fixture()
    assert FIXTURE.read_text(encoding="ascii") == _dump(generate())


def test_fixture_stresses_what_it_should() -> None:
    _fixture()
    text = FIXTURE.read_text(encoding="ascii")
    for needle in ("\\ud83c\\udf89", "\\u0000", "\\u2028", "e-", "e+", "-0.0", "\\\\", '\\"'):
        assert needle in text, needle
    data = json.loads(text)
    assert any(c["transaction"]["dependencies"] for c in data["cases"])
    assert any(abs(p) > 2**64 for c in data["cases"] for p in c["transaction"]["parameters"] if isinstance(p, int) and not isinstance(p, bool))
