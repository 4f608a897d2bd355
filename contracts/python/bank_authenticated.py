"""``bank_authenticated``: accounts with a balance, and transfers signed by the paying
account's owner (after the original prototype's example of the same name; the rules are
those of the Rust ``contracts/src/bank.rs``).

An account is an object whose value is the canonical JSON
``{"balance": <u64>, "label": <string>, "nonce": <u64>, "owner": <hex ed25519 key>}``.

* ``create_account(parameters=[owner_hex, balance, label])``: no inputs, one output, the
  account with nonce 0. Money enters here (an open faucet: this is a benchmark platform);
  the label tells apart accounts of one owner with one balance.
* ``transfer(inputs=[from, to], parameters=[amount], private_key)``: consumes two distinct
  accounts and creates ``[from - amount, to + amount]`` (owners and labels unchanged, both
  nonces + 1). The transaction's parameters are ``[amount, signature_hex]``: the signature
  is by ``from``'s owner, in :data:`TRANSFER_DOMAIN`, over the canonical JSON of
  ``[from_value, to_value, amount]``. No balance may go negative or pass ``2**64 - 1``.

The signature binds the input *values* (a checker never sees IDs); the nonces make every
state of an account a distinct value, so a signature cannot be replayed onto a later
state.

Run its checker service with ``python contracts/python/bank_authenticated.py checker --port 5001``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from chainspace.checks import (
    Reject,
    expect_count,
    expect_equal,
    expect_fields,
    expect_hex,
    expect_str,
    expect_u64,
    parse_canonical,
    require,
)
from chainspace.ed25519 import Ed25519PrivateKey, public_key_hex, sign_hex, verify_hex
from chainspace.ids import canonical_json
from chainspacecontract import ChainspaceContract

contract = ChainspaceContract("bank_authenticated")

#: The signature domain of transfers of this contract.
TRANSFER_DOMAIN = b"chainspace-contracts/bank_authenticated/transfer/v1"
U64_MAX = 2**64 - 1


@dataclass(frozen=True)
class Account:
    """One state of an account."""

    balance: int
    label: str
    nonce: int
    owner: str  # public key, lower-case hex

    def to_value(self) -> str:
        """The object value: canonical JSON."""
        return canonical_json({"balance": self.balance, "label": self.label, "nonce": self.nonce, "owner": self.owner})

    @staticmethod
    def parse(value: Any, what: str = "account") -> "Account":
        """Read an account from an object value, which must be exactly what
        :meth:`to_value` writes."""
        fields = expect_fields(parse_canonical(value, what), what, ("balance", "label", "nonce", "owner"))
        owner = fields["owner"]
        expect_hex(owner, f"{what}.owner", 32)
        return Account(
            balance=expect_u64(fields["balance"], f"{what}.balance"),
            label=expect_str(fields["label"], f"{what}.label"),
            nonce=expect_u64(fields["nonce"], f"{what}.nonce"),
            owner=owner,
        )


def transferred(payer: Account, payee: Account, amount: int) -> tuple[Account, Account]:
    """The accounts after ``payer`` pays ``amount`` to ``payee``."""
    require(amount > 0, "amount is invalid: must be positive")
    if amount > payer.balance:
        raise Reject(f"insufficient funds: balance {payer.balance} is less than amount {amount}")
    require(payee.balance + amount <= U64_MAX, "to.balance overflows a 64-bit integer")
    require(payer.nonce < U64_MAX and payee.nonce < U64_MAX, "a nonce overflows a 64-bit integer")
    return (
        replace(payer, balance=payer.balance - amount, nonce=payer.nonce + 1),
        replace(payee, balance=payee.balance + amount, nonce=payee.nonce + 1),
    )


def transfer_message(from_value: str, to_value: str, amount: int) -> bytes:
    """What the paying owner signs: the canonical JSON of ``[from_value, to_value, amount]``."""
    return canonical_json([from_value, to_value, amount]).encode("ascii")


@contract.method("create_account")
def create_account(inputs: tuple[str, ...], reference_inputs: tuple[str, ...], parameters: tuple[Any, ...]) -> dict[str, Any]:
    """``parameters = [owner_hex, initial_balance, label]``: a new account."""
    owner, balance, label = parameters
    expect_hex(owner, "owner", 32)
    account = Account(expect_u64(balance, "initial balance"), expect_str(label, "label"), 0, owner)
    return {"outputs": (account.to_value(),)}


@contract.method("transfer")
def transfer(inputs: tuple[str, ...], reference_inputs: tuple[str, ...], parameters: tuple[Any, ...], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """``inputs = [from, to]``, ``parameters = [amount]``; ``private_key`` owns ``from``
    and signs the transfer (the signature is added to the parameters)."""
    from_value, to_value = inputs
    (amount,) = parameters
    payer, payee = Account.parse(from_value, "from"), Account.parse(to_value, "to")
    require(from_value != to_value, "to must be another account than from")
    require(public_key_hex(private_key) == payer.owner, "the signing key does not own the paying account")
    paid, credited = transferred(payer, payee, expect_u64(amount, "amount"))
    signature = sign_hex(private_key, TRANSFER_DOMAIN, transfer_message(from_value, to_value, amount))
    return {"outputs": (paid.to_value(), credited.to_value()), "extra_parameters": (signature,)}


def _counts(what: dict[str, tuple[list[Any], int]]) -> None:
    for name, (items, n) in what.items():
        expect_count(name, items, n)


@contract.checker("create_account")
def create_account_checker(inputs: list[str], reference_inputs: list[str], parameters: list[Any], outputs: list[str], returns: list[Any], dependencies: list[Any]) -> bool:
    """Accept exactly the call ``create_account`` makes."""
    _counts({"inputs": (inputs, 0), "reference inputs": (reference_inputs, 0), "parameters": (parameters, 3),
             "outputs": (outputs, 1), "returns": (returns, 0), "dependencies": (dependencies, 0)})
    owner, balance, label = parameters
    expect_hex(owner, "parameters[0] (owner)", 32)
    account = Account(expect_u64(balance, "parameters[1] (initial balance)"), expect_str(label, "parameters[2] (label)"), 0, owner)
    expect_equal("outputs[0]", outputs[0], account.to_value())
    return True


@contract.checker("transfer")
def transfer_checker(inputs: list[str], reference_inputs: list[str], parameters: list[Any], outputs: list[str], returns: list[Any], dependencies: list[Any]) -> bool:
    """Accept exactly the call ``transfer`` makes, signed by the paying account's owner."""
    _counts({"inputs": (inputs, 2), "reference inputs": (reference_inputs, 0), "parameters": (parameters, 2),
             "outputs": (outputs, 2), "returns": (returns, 0), "dependencies": (dependencies, 0)})
    amount = expect_u64(parameters[0], "parameters[0] (amount)")
    signature = expect_hex(parameters[1], "parameters[1] (signature)", 64)
    payer, payee = Account.parse(inputs[0], "inputs[0]"), Account.parse(inputs[1], "inputs[1]")
    require(inputs[0] != inputs[1], "inputs are invalid: from and to are the same account")
    paid, credited = transferred(payer, payee, amount)
    expect_equal("outputs[0]", outputs[0], paid.to_value())
    expect_equal("outputs[1]", outputs[1], credited.to_value())
    message = transfer_message(inputs[0], inputs[1], amount)
    require(verify_hex(bytes.fromhex(payer.owner), TRANSFER_DOMAIN, message, signature),
            "invalid signature: not by the paying account's owner over these accounts and amount")
    return True


if __name__ == "__main__":
    contract.run()
