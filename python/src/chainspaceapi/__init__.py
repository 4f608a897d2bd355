"""The original ``chainspaceapi`` module name: ``from chainspaceapi import ChainspaceClient``."""

from chainspace.client import ChainspaceClient, ChainspaceConnectionError, Response

__all__ = ["ChainspaceClient", "ChainspaceConnectionError", "Response"]
