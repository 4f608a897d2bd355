"""Ed25519 signatures for contracts, domain-separated exactly as the Rust node signs.

A signature covers ``domain || 0x00 || message`` (``core/src/crypto``: ``signed_bytes``),
so a signature made for one purpose (a bank transfer, a ballot) is valid for no other.
Keys and signatures travel in calls as lower-case hex (64 and 128 digits).

Needs the ``cryptography`` package (``pip install 'chainspace[contracts]'``).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = ["Ed25519PrivateKey", "generate_key", "public_key_hex", "sign_hex", "verify_hex", "signed_bytes"]


def generate_key() -> Ed25519PrivateKey:
    """A new random private key."""
    return Ed25519PrivateKey.generate()


def public_key_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The 32-byte public key of ``key`` in lower-case hex."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def signed_bytes(domain: bytes, message: bytes) -> bytes:
    """What is actually signed: ``domain || 0x00 || message``."""
    return domain + b"\x00" + message


def sign_hex(key: Ed25519PrivateKey, domain: bytes, message: bytes) -> str:
    """Sign ``message`` in ``domain``; the 64-byte signature in lower-case hex."""
    return key.sign(signed_bytes(domain, message)).hex()


def verify_hex(public_key: bytes, domain: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` (64 bytes) by ``public_key`` (32 bytes) covers ``message``
    in ``domain``. Never raises: a malformed key or signature is simply invalid."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, signed_bytes(domain, message))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
