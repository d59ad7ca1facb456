"""Pseudonymisation key versions and rotation by HMAC chaining.

A *key chain* is the ordered list of key versions in use: ``[("v1", k1), ("v2", k2), ...]``. The
secret (``EVICTION_PREVENTION_PSEUDONYM_KEY``) is either one plain key (the chain ``[("v1", key)]``) or a
JSON object ``{"v1": "...", "v2": "..."}`` listing every version in rotation order.

Design choice: identifiers are never stored, so a rotation cannot re-derive pseudonyms from clear text.
Instead a pseudonym is an *HMAC chain*::

    p_1 = HMAC(k1, "eviction-prevention/v1/{field}" 0x1F value)[:32 hex]
    p_i = HMAC(ki, "eviction-prevention/{vi}/{field}" 0x1F p_{i-1})[:32 hex]      (i = 2..n)

Rotating to a new version ``vn`` therefore needs only the stored pseudonyms and the new key: each stored
``p_{n-1}`` is replaced by ``HMAC(kn, ... p_{n-1})`` (``rotate_pseudonym``), and new deliveries are
pseudonymised through the whole chain, so old and new rows agree and history stays linkable. Once the
stored values have been rotated, a leaked old key alone no longer reproduces them (the outer HMAC needs
the newest key). Bloom filters rotate the same way: each version adds a keyed permutation of the bit
positions (``bloom_permutation``), which keeps every Dice/Hamming similarity exactly.

Every staged row carries ``key_version`` (the newest version of the chain that produced it), so a
half-finished rotation is visible and can be resumed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "DOMAIN_ROOT",
    "KeyChain",
    "bloom_permutation",
    "chain_step",
    "derived_key",
    "parse_key_chain",
    "rotate_pseudonym",
]

DOMAIN_ROOT = "eviction-prevention"
HEX_CHARS = 32
_VERSION = re.compile(r"^v[0-9]+$")


def _check_field(field: str) -> str:
    if not field or "\x1f" in field:
        raise ValueError("a pseudonym field label must be non-empty and must not contain the separator")
    return field


def domain_prefix(version: str, field: str) -> bytes:
    """The HMAC message prefix of one field under one key version."""
    return f"{DOMAIN_ROOT}/{version}/{_check_field(field)}\x1f".encode()


def derived_key(key: bytes, version: str, field: str, length: int) -> bytes:
    """A key of its own for one use of one key version: HKDF-SHA256(ikm=key, no salt, info=root/version/field
    0x1F), so it is independent of every HMAC and of every other use's key drawn from the same secret."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=domain_prefix(version, field)).derive(key)


def chain_step(key: bytes, version: str, field: str, value: str) -> str:
    """One link of the chain: 32 hex chars of HMAC-SHA256(key, root/version/field 0x1F value)."""
    return hmac.new(key, domain_prefix(version, field) + value.encode(), hashlib.sha256).hexdigest()[:HEX_CHARS]


@dataclass(frozen=True)
class KeyChain:
    """Key versions in rotation order; the last one is current."""

    versions: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.versions:
            raise ValueError("a key chain needs at least one key version")
        names = [v for v, _ in self.versions]
        if len(set(names)) != len(names) or not all(_VERSION.match(v) for v in names):
            raise ValueError("key versions must be distinct labels v1, v2, ...")
        if not all(isinstance(k, bytes) and k for _, k in self.versions):
            raise ValueError("the pseudonymisation key must be non-empty bytes")

    @property
    def current(self) -> str:
        return self.versions[-1][0]

    @property
    def first_key(self) -> bytes:
        return self.versions[0][1]

    def rotated(self, version: str, key: bytes) -> KeyChain:
        """This chain with a new current version appended."""
        return KeyChain((*self.versions, (version, key)))


def parse_key_chain(secret: bytes | KeyChain) -> KeyChain:
    """A plain key is the one-version chain ``v1``; a JSON object lists every version in order."""
    if isinstance(secret, KeyChain):
        return secret
    if not isinstance(secret, bytes | bytearray) or not secret:
        raise ValueError("the pseudonymisation key must be non-empty bytes")
    text = bytes(secret).strip()
    if text.startswith(b"{"):
        try:
            data = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            data = None
        if isinstance(data, dict) and data and all(isinstance(v, str) for v in data.values()):
            return KeyChain(tuple((str(k), v.encode("utf-8")) for k, v in data.items()))
    return KeyChain((("v1", bytes(secret)),))


def rotate_pseudonym(key: bytes, version: str, field: str, stored: str | None) -> str | None:
    """The stored pseudonym of the previous version, carried to ``version`` (no clear text needed)."""
    return None if stored is None or stored == "" else chain_step(key, version, field, stored)


def bloom_permutation(key: bytes, version: str, size: int) -> list[int]:
    """A keyed permutation of ``size`` bit positions for one key version (deterministic)."""
    seed = hmac.new(key, domain_prefix(version, "bloom_permutation"), hashlib.sha256).digest()
    order = list(range(size))
    random.Random(int.from_bytes(seed, "big")).shuffle(order)
    return order
