"""The original ``chainspacecontract`` module name, so original contracts import unchanged:
``from chainspacecontract import ChainspaceContract``."""

from chainspace.calls import transaction_inline_objects
from chainspace.contract import ChainspaceContract, ChainspaceObject

__all__ = ["ChainspaceContract", "ChainspaceObject", "transaction_inline_objects"]
