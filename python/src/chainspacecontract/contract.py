"""The original ``chainspacecontract.contract`` module path."""

from chainspace.calls import transaction_inline_objects
from chainspace.contract import ChainspaceContract, ChainspaceObject

__all__ = ["ChainspaceContract", "ChainspaceObject", "transaction_inline_objects"]
