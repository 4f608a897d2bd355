"""``vote``: an election with a fixed list of voters, each casting one signed ballot, and
a public tally. The same contract, byte for byte, as the Rust ``contracts/src/vote.rs``
(same contract ID, values, parameters and signature domain), so either checker can serve
it.

An election is an object whose value is the canonical JSON
``{"label": s, "options": [s...], "tallies": [u64...], "voted": [key...], "voters": [key...]}``
with keys in lower-case hex.

* ``create(parameters=[options, voters, label])``: one output, the election with every
  tally zero. Options and voters are non-empty and without repeats.
* ``cast(inputs=[election], parameters=[option], voter_key)``: consumes the election and
  creates it with that option's tally + 1 and the voter appended to ``voted``. The
  transaction's parameters are ``[option, voter_hex, signature_hex]``; the signature is
  the voter's, in :data:`CAST_DOMAIN`, over the canonical JSON of
  ``[election_value, option]``. The voter must be listed and not have voted.
* ``tally(reference_inputs=[election])``: reads the election (not consumed), returns
  ``[tallies]``.

Run its checker service with ``python contracts/python/vote.py checker --port 5001``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chainspace.checks import (
    Reject,
    expect_count,
    expect_equal,
    expect_fields,
    expect_hex,
    expect_list,
    expect_str,
    expect_u64,
    parse_canonical,
    require,
)
from chainspace.ed25519 import Ed25519PrivateKey, public_key_hex, sign_hex, verify_hex
from chainspace.ids import canonical_json
from chainspacecontract import ChainspaceContract

contract = ChainspaceContract("vote")

#: The signature domain of ballots (the Rust contract's).
CAST_DOMAIN = b"chainspace-contracts/vote/cast/v1"
U64_MAX = 2**64 - 1


def _keys(value: Any, what: str) -> list[str]:
    items = expect_list(value, what)
    for i, key in enumerate(items):
        expect_hex(key, f"{what}[{i}]", 32)
    return list(items)


@dataclass
class Election:
    """One state of an election."""

    label: str
    options: list[str]
    tallies: list[int]
    voted: list[str] = field(default_factory=list)
    voters: list[str] = field(default_factory=list)

    @staticmethod
    def new(options: Any, voters: Any, label: Any) -> "Election":
        """A new election (every tally zero), validated."""
        opts = [expect_str(o, f"options[{i}]") for i, o in enumerate(expect_list(options, "options"))]
        election = Election(expect_str(label, "label"), opts, [0] * len(opts), [], _keys(voters, "voters"))
        election.validate("election")
        return election

    def to_value(self) -> str:
        """The object value: canonical JSON."""
        return canonical_json({"label": self.label, "options": self.options, "tallies": self.tallies,
                               "voted": self.voted, "voters": self.voters})

    @staticmethod
    def parse(value: Any, what: str = "election") -> "Election":
        """Read an election from an object value, which must be exactly what
        :meth:`to_value` writes, for an election ``create`` and ``cast`` can produce."""
        fields = expect_fields(parse_canonical(value, what), what, ("label", "options", "tallies", "voted", "voters"))
        options = expect_list(fields["options"], f"{what}.options")
        tallies = expect_list(fields["tallies"], f"{what}.tallies")
        election = Election(
            label=expect_str(fields["label"], f"{what}.label"),
            options=[expect_str(o, f"{what}.options[{i}]") for i, o in enumerate(options)],
            tallies=[expect_u64(t, f"{what}.tallies[{i}]") for i, t in enumerate(tallies)],
            voted=_keys(fields["voted"], f"{what}.voted"),
            voters=_keys(fields["voters"], f"{what}.voters"),
        )
        election.validate(what)
        return election

    def validate(self, what: str) -> None:
        """The invariants every election reachable by ``create`` and ``cast`` holds."""
        require(len(self.options) > 0, f"{what} is invalid: an election needs at least one option")
        require(len(set(self.options)) == len(self.options), f"{what} is invalid: options repeat")
        require(len(self.voters) > 0, f"{what} is invalid: an election needs at least one voter")
        require(len(set(self.voters)) == len(self.voters), f"{what} is invalid: voters repeat")
        require(len(self.tallies) == len(self.options), f"{what} is invalid: there must be one tally per option")
        require(len(set(self.voted)) == len(self.voted) and set(self.voted) <= set(self.voters),
                f"{what} is invalid: voted must list distinct allowed voters")
        require(sum(self.tallies) == len(self.voted),
                f"{what} is invalid: the tallies do not add up to the number of voters who voted")

    def cast(self, option: int, voter: str) -> "Election":
        """The election after ``voter`` chooses ``option``."""
        if not 0 <= option < len(self.options):
            raise Reject(f"option {option} is out of range (there are {len(self.options)})")
        require(voter in self.voters, f"{voter} is not a voter of this election")
        require(voter not in self.voted, f"{voter} has already voted")
        tallies = list(self.tallies)
        require(tallies[option] < U64_MAX, f"tallies[{option}] overflows a 64-bit integer")
        tallies[option] += 1
        return Election(self.label, list(self.options), tallies, self.voted + [voter], list(self.voters))


def cast_message(election_value: str, option: int) -> bytes:
    """What a voter signs: the canonical JSON of ``[election_value, option]``."""
    return canonical_json([election_value, option]).encode("ascii")


@contract.method("create")
def create(inputs: tuple[str, ...], reference_inputs: tuple[str, ...], parameters: tuple[Any, ...]) -> dict[str, Any]:
    """``parameters = [options, voters_hex, label]``: a new election."""
    options, voters, label = parameters
    return {"outputs": (Election.new(options, voters, label).to_value(),)}


@contract.method("cast")
def cast(inputs: tuple[str, ...], reference_inputs: tuple[str, ...], parameters: tuple[Any, ...], voter_key: Ed25519PrivateKey) -> dict[str, Any]:
    """``inputs = [election]``, ``parameters = [option]``; ``voter_key`` signs the ballot
    (the voter's key and the signature are added to the parameters)."""
    (election_value,) = inputs
    (option,) = parameters
    voter = public_key_hex(voter_key)
    after = Election.parse(election_value).cast(expect_u64(option, "option"), voter)
    signature = sign_hex(voter_key, CAST_DOMAIN, cast_message(election_value, option))
    return {"outputs": (after.to_value(),), "extra_parameters": (voter, signature)}


@contract.method("tally")
def tally(inputs: tuple[str, ...], reference_inputs: tuple[str, ...], parameters: tuple[Any, ...]) -> dict[str, Any]:
    """``reference_inputs = [election]``: return its tallies (one value, a list)."""
    (election_value,) = reference_inputs
    return {"returns": (Election.parse(election_value).tallies,)}


def _counts(**counts: tuple[list[Any], int]) -> None:
    for name, (items, n) in counts.items():
        expect_count(name.replace("_", " "), items, n)


@contract.checker("create")
def create_checker(inputs: list[str], reference_inputs: list[str], parameters: list[Any], outputs: list[str], returns: list[Any], dependencies: list[Any]) -> bool:
    """Accept exactly the call ``create`` makes."""
    _counts(inputs=(inputs, 0), reference_inputs=(reference_inputs, 0), parameters=(parameters, 3),
            outputs=(outputs, 1), returns=(returns, 0), dependencies=(dependencies, 0))
    expect_equal("outputs[0]", outputs[0], Election.new(*parameters).to_value())
    return True


@contract.checker("cast")
def cast_checker(inputs: list[str], reference_inputs: list[str], parameters: list[Any], outputs: list[str], returns: list[Any], dependencies: list[Any]) -> bool:
    """Accept exactly the call ``cast`` makes, with the voter's valid signature."""
    _counts(inputs=(inputs, 1), reference_inputs=(reference_inputs, 0), parameters=(parameters, 3),
            outputs=(outputs, 1), returns=(returns, 0), dependencies=(dependencies, 0))
    option = expect_u64(parameters[0], "parameters[0] (option)")
    voter = parameters[1]
    voter_key = expect_hex(voter, "parameters[1] (voter)", 32)
    signature = expect_hex(parameters[2], "parameters[2] (signature)", 64)
    after = Election.parse(inputs[0], "inputs[0]").cast(option, voter)
    expect_equal("outputs[0]", outputs[0], after.to_value())
    require(verify_hex(voter_key, CAST_DOMAIN, cast_message(inputs[0], option), signature),
            "invalid signature: not by the voter over this election and option")
    return True


@contract.checker("tally")
def tally_checker(inputs: list[str], reference_inputs: list[str], parameters: list[Any], outputs: list[str], returns: list[Any], dependencies: list[Any]) -> bool:
    """Accept a tally whose returns are the referenced election's tallies."""
    _counts(inputs=(inputs, 0), reference_inputs=(reference_inputs, 1), parameters=(parameters, 0),
            outputs=(outputs, 0), returns=(returns, 1), dependencies=(dependencies, 0))
    expect_equal("returns", returns, [Election.parse(reference_inputs[0], "referenceInputs[0]").tallies])
    return True


if __name__ == "__main__":
    contract.run()
