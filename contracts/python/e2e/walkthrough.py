"""End-to-end walkthrough of a running network, driven the way a user of the original
Chainspace drove it: transactions built by the contracts' own methods, submitted with
``chainspaceapi.ChainspaceClient`` to the client API, whose replicas check them with the
Python checkers.

Steps, each printed as one JSON line on stdout (``{"step": ..., "ok": ..., ...}``):

* ``addition``: ``init``, ``increment`` of its output, then a second spend of the spent
  counter (an ``increment_twice`` consuming it: a different transaction, so not a replay
  of the first) that must be refused with a reason; then ``increment_twice`` of the live
  counter (a nested ``addition.increment`` committed atomically with it), and one more
  ``increment``;
* ``bank_authenticated`` (skipped, with the reason, if ``cryptography`` is missing):
  two accounts made to live on different shards, a transfer between them (cross-shard,
  so every replica runs this checker), and a transfer whose signature is by someone
  else, which must be refused;
* with ``--pause``: a ``{"step": "pause"}`` line, then it waits for a line on stdin (the
  Rust test kills checker processes meanwhile), then ``after_pause``: another increment
  and, if the bank ran, a transfer back, which must commit.

The last line, ``{"step": "summary", ...}``, lists every object and transaction with the
state it must have (``active``, ``inactive``, ``absent``; ``commit``, ``abort``), so the
caller can read them back from the replicas. Exit code 0 iff every step went as expected.

Run: ``PYTHONPATH=python/src:contracts/python python contracts/python/e2e/walkthrough.py
--api 127.0.0.1:5000 --shards 2``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import addition
import increment_twice
from chainspace.ids import output_ids, shard_of, transaction_digest
from chainspaceapi import ChainspaceClient


class StepFailed(Exception):
    """A step's answer was not the expected one (already reported on stdout)."""


class Walk:
    """The client, and what the summary must say about every object and transaction."""

    def __init__(self, client: ChainspaceClient, shards: int) -> None:
        self.client = client
        self.shards = shards
        self.objects: dict[str, dict[str, Any]] = {}
        self.transactions: dict[str, dict[str, Any]] = {}

    def report(self, step: str, ok: bool, **fields: Any) -> None:
        print(json.dumps({"step": step, "ok": ok, **fields}), flush=True)
        if not ok:
            raise StepFailed(step)

    def expect(self, name: str, obj: Any, state: str, value: str | None = None) -> None:
        """Record that ``obj`` (a ChainspaceObject, or an ID and its ``value``) must be
        ``state``: ``active``, ``inactive`` or ``absent`` (never created)."""
        object_id = getattr(obj, "object_id", None)
        if object_id is not None:
            value = str(obj)
        self.objects[name] = {"id": object_id or str(obj), "value": value, "state": state}

    def submit(self, step: str, data: dict[str, Any], commit: bool, reason: str | None = None) -> dict[str, Any]:
        """Submit ``data`` (a method's result); it must commit, or be refused with a reason
        containing ``reason``. Returns the API's answer."""
        tx = data["transaction"]
        tx_id = transaction_digest(tx)
        answer = self.client.process_transaction(data)
        try:
            body = answer.json()
        except ValueError:
            body = {"text": answer.text[:300]}
        outcome, why = body.get("outcome"), body.get("reason")
        if commit:
            ok = answer.status_code == 200 and outcome == "accepted_t_commit"
        else:
            ok = answer.status_code != 200 and outcome != "accepted_t_commit" and bool(why)
            ok = ok and (reason is None or reason in str(why))
        self.transactions[step] = {"id": tx_id, "outcome": "commit" if commit else "abort"}
        if not commit:
            for i, object_id in enumerate(output_ids(tx)):
                self.expect(f"{step}.output{i}", object_id, "absent")
        self.report(step, ok, status=answer.status_code, outcome=outcome, reason=why,
                    transactionID=tx_id, shards=sorted({shard_of(i, self.shards) for i in tx["inputIDs"]}))
        return body


def counters(walk: Walk) -> Any:
    """init, increment, a refused second spend, increment_twice; the live counter."""
    init = addition.init()
    walk.submit("addition.init", init, commit=True)
    c0 = init["transaction"]["outputs"][0]
    once = addition.increment(inputs=[c0])
    walk.submit("addition.increment", once, commit=True)
    c1 = once["transaction"]["outputs"][0]
    again = increment_twice.increment(inputs=[c0])
    walk.submit("addition.second_spend", again, commit=False, reason="inactive")
    twice = increment_twice.increment(inputs=[c1])
    walk.submit("increment_twice.increment", twice, commit=True)
    c3 = twice["transaction"]["outputs"][0]
    nested = twice["transaction"]["dependencies"][0]
    # Once more, so that the shard holding the live counter has run its addition
    # checkers before the pause, and the step after it needs them restarted.
    thrice = addition.increment(inputs=[c3])
    walk.submit("addition.increment_again", thrice, commit=True)
    c4 = thrice["transaction"]["outputs"][0]
    walk.expect("counter0", c0, "inactive")
    walk.expect("counter1", c1, "inactive")
    walk.expect("counter2", output_ids(nested)[0], "active", value="2")
    walk.expect("counter3", c3, "inactive")
    walk.expect("counter4", c4, "active")
    return c4


def account_on(bank: Any, owner: str, label: str, shard: int, walk: Walk) -> Any:
    """An account of ``owner`` whose object lives on ``shard``: labels are tried in turn
    until the account's ID falls there (a new account's shard is its ID's)."""
    for n in range(64):
        data = bank.create_account(parameters=[owner, 100, f"{label}-{n}"])
        account = data["transaction"]["outputs"][0]
        if shard_of(account.object_id, walk.shards) == shard:
            walk.submit(f"bank.create_{label}", data, commit=True)
            return account
    raise RuntimeError(f"no label puts {label}'s account on shard {shard}")


def bank_transfers(walk: Walk) -> Any:
    """Two accounts on different shards, a transfer, a transfer with a bad signature.
    Returns what the step after the pause needs, or None if skipped."""
    try:
        import bank_authenticated as bank
        from chainspace.ed25519 import generate_key, public_key_hex, sign_hex
    except ImportError as e:
        print(json.dumps({"step": "bank", "ok": True, "skipped": f"{sys.executable} cannot import it: {e}"}), flush=True)
        return None
    alice, bob, mallory = generate_key(), generate_key(), generate_key()
    a0 = account_on(bank, public_key_hex(alice), "alice", 0, walk)
    b0 = account_on(bank, public_key_hex(bob), "bob", min(1, walk.shards - 1), walk)
    pay = bank.transfer([a0, b0], None, [30], alice)
    walk.submit("bank.transfer", pay, commit=True)
    a1, b1 = pay["transaction"]["outputs"]
    forged = bank.transfer([a1, b1], None, [50], alice)
    message = bank.transfer_message(str(a1), str(b1), 50)
    forged["transaction"]["parameters"][1] = sign_hex(mallory, bank.TRANSFER_DOMAIN, message)
    walk.submit("bank.forged_transfer", forged, commit=False, reason="invalid signature")
    for name, obj, state in [("alice0", a0, "inactive"), ("bob0", b0, "inactive"), ("alice1", a1, "active"), ("bob1", b1, "active")]:
        walk.expect(name, obj, state)
    return bank, bob, a1, b1


def after_pause(walk: Walk, counter: Any, bank: Any) -> None:
    """Transactions after the checkers were killed: they must still commit."""
    more = addition.increment(inputs=[counter])
    walk.submit("after_pause.increment", more, commit=True)
    walk.expect("counter4", counter, "inactive")
    walk.expect("counter5", more["transaction"]["outputs"][0], "active")
    if bank is not None:
        module, bob, a1, b1 = bank
        back = module.transfer([b1, a1], None, [5], bob)
        walk.submit("after_pause.bank_transfer", back, commit=True)
        b2, a2 = back["transaction"]["outputs"]
        walk.expect("alice1", a1, "inactive")
        walk.expect("bob1", b1, "inactive")
        walk.expect("alice2", a2, "active")
        walk.expect("bob2", b2, "active")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", default="127.0.0.1:5000", help="the client API, HOST:PORT")
    parser.add_argument("--shards", type=int, default=2, help="the network's number of shards")
    parser.add_argument("--pause", action="store_true", help="wait for a stdin line before the last steps")
    args = parser.parse_args()
    host, _, port = args.api.rpartition(":")
    walk = Walk(ChainspaceClient(host, int(port), timeout=60.0), args.shards)
    try:
        counter = counters(walk)
        bank = bank_transfers(walk)
        if args.pause:
            print(json.dumps({"step": "pause", "ok": True}), flush=True)
            if not sys.stdin.readline():
                walk.report("pause", False, reason="stdin closed")
            after_pause(walk, counter, bank)
    except StepFailed:
        return 1
    finally:
        print(json.dumps({"step": "summary", "ok": True, "objects": walk.objects, "transactions": walk.transactions}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
