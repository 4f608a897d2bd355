"""``bank_authenticated``: signed transfers, no overdraft, forged outputs rejected."""

from __future__ import annotations

import json

import bank_authenticated as bank
import pytest
from chainspace import Reject, transaction_inline_objects
from chainspace.ed25519 import generate_key, public_key_hex, sign_hex


@pytest.fixture()
def keys():
    return generate_key(), generate_key()


def accounts(keys, alice_balance=10, bob_balance=5):
    alice, bob = keys
    a = bank.create_account(parameters=[public_key_hex(alice), alice_balance, "alice"])
    b = bank.create_account(parameters=[public_key_hex(bob), bob_balance, "bob"])
    return a, b


def check(call):
    return bank.contract.check(call)


def test_create_account_makes_a_canonical_value_the_checker_accepts(keys) -> None:
    a, _ = accounts(keys)
    value = a["transaction"]["outputs"][0]
    assert json.loads(value) == {"balance": 10, "label": "alice", "nonce": 0, "owner": public_key_hex(keys[0])}
    assert check(transaction_inline_objects(a)).success
    forged = transaction_inline_objects(a)
    forged["outputs"] = [value.replace('"balance":10', '"balance":1000')]
    assert not check(forged).success


def test_transfer_moves_money_and_is_accepted(keys) -> None:
    a, b = accounts(keys)
    frm, to = a["transaction"]["outputs"][0], b["transaction"]["outputs"][0]
    data = bank.transfer([frm, to], None, [3], keys[0])
    tx = data["transaction"]
    assert tx["inputIDs"] == [frm.object_id, to.object_id]
    assert tx["parameters"][0] == 3 and len(tx["parameters"][1]) == 128
    paid, credited = (json.loads(v) for v in tx["outputs"])
    assert (paid["balance"], paid["nonce"], credited["balance"], credited["nonce"]) == (7, 1, 8, 1)
    assert check(transaction_inline_objects(data)).success
    # A second transfer from the new state is accepted too.
    again = bank.transfer([tx["outputs"][0], tx["outputs"][1]], None, [7], keys[0])
    assert check(transaction_inline_objects(again)).success


def test_checker_rejects_a_forged_output(keys) -> None:
    a, b = accounts(keys)
    data = bank.transfer([a["transaction"]["outputs"][0], b["transaction"]["outputs"][0]], None, [3], keys[0])
    call = transaction_inline_objects(data)
    call["outputs"][1] = call["outputs"][1].replace('"balance":8', '"balance":9')
    verdict = check(call)
    assert not verdict.success and "outputs[1]" in verdict.reason


def test_checker_rejects_a_bad_signature(keys) -> None:
    alice, bob = keys
    a, b = accounts(keys)
    frm, to = a["transaction"]["outputs"][0], b["transaction"]["outputs"][0]
    call = transaction_inline_objects(bank.transfer([frm, to], None, [3], alice))
    # Signed by bob, who does not own the paying account.
    call["parameters"][1] = sign_hex(bob, bank.TRANSFER_DOMAIN, bank.transfer_message(frm, to, 3))
    verdict = check(call)
    assert not verdict.success and "signature" in verdict.reason
    # Alice's signature for another amount.
    tampered = transaction_inline_objects(bank.transfer([frm, to], None, [3], alice))
    tampered["parameters"][1] = sign_hex(alice, bank.TRANSFER_DOMAIN, bank.transfer_message(frm, to, 4))
    assert not check(tampered).success
    # Alice's signature in another domain.
    other = transaction_inline_objects(bank.transfer([frm, to], None, [3], alice))
    other["parameters"][1] = sign_hex(alice, b"chainspace-contracts/vote/cast/v1", bank.transfer_message(frm, to, 3))
    assert not check(other).success
    # Garbage signatures.
    for garbage in ["00" * 64, "zz" * 64, "AB" * 64, "00", 7, None]:
        call["parameters"][1] = garbage
        assert not check(call).success, garbage
    # The client refuses to sign for an account the key does not own.
    with pytest.raises(Reject):
        bank.transfer([frm, to], None, [3], bob)


def test_checker_rejects_an_overdraft(keys) -> None:
    alice, _ = keys
    a, b = accounts(keys, alice_balance=10)
    frm, to = a["transaction"]["outputs"][0], b["transaction"]["outputs"][0]
    with pytest.raises(Reject, match="insufficient funds"):
        bank.transfer([frm, to], None, [11], alice)
    # A hand-made call for 11 out of 10, correctly signed: outputs as they would be with a
    # negative balance.
    payer, payee = bank.Account.parse(frm), bank.Account.parse(to)
    negative = json.dumps({"balance": -1, "label": "alice", "nonce": 1, "owner": payer.owner}, sort_keys=True, separators=(",", ":"))
    credited = bank.Account(payee.balance + 11, payee.label, 1, payee.owner).to_value()
    call = {"contractID": "bank_authenticated", "methodID": "transfer", "inputs": [frm, to], "referenceInputs": [],
            "parameters": [11, sign_hex(alice, bank.TRANSFER_DOMAIN, bank.transfer_message(frm, to, 11))],
            "outputs": [negative, credited], "returns": [], "dependencies": []}
    verdict = check(call)
    assert not verdict.success and "insufficient funds" in verdict.reason


@pytest.mark.parametrize("amount", [0, -1, 1.0, True, "3", 2**64])
def test_checker_rejects_bad_amounts(keys, amount) -> None:
    alice, _ = keys
    a, b = accounts(keys)
    frm, to = a["transaction"]["outputs"][0], b["transaction"]["outputs"][0]
    call = transaction_inline_objects(bank.transfer([frm, to], None, [3], alice))
    call["parameters"][0] = amount
    assert not check(call).success


def test_checker_rejects_paying_oneself_and_non_canonical_accounts(keys) -> None:
    alice, _ = keys
    a, _ = accounts(keys)
    frm = a["transaction"]["outputs"][0]
    payer = bank.Account.parse(frm)
    after, _ = bank.transferred(payer, payer, 1)
    call = {"contractID": "bank_authenticated", "methodID": "transfer", "inputs": [frm, frm], "referenceInputs": [],
            "parameters": [1, sign_hex(alice, bank.TRANSFER_DOMAIN, bank.transfer_message(frm, frm, 1))],
            "outputs": [after.to_value(), after.to_value()], "returns": [], "dependencies": []}
    assert not check(call).success
    spaced = json.dumps(json.loads(frm))  # same account, non-canonical spelling
    with pytest.raises(Reject, match="canonical"):
        bank.Account.parse(spaced)
