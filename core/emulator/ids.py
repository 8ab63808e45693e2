"""Identifier minting: realistic `msgbatch_01…`, `msg_01…` and `req_01…` ids."""

from __future__ import annotations

import hashlib
import os

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


_TABLE = bytes(ord(_ALPHABET[b % 58]) for b in range(256))


def base58(data: bytes, length: int) -> str:
    """Fixed-length base58-alphabet text, one character per byte (fast: bytes.translate)."""
    return data[:length].translate(_TABLE).decode("ascii")


def digest(*parts: object) -> bytes:
    """24 bytes determined by the parts (ids derived from a seed and what they name)."""
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=24).digest()


def batch_id(seed: int, seq: int, created_us: int) -> str:
    """Deterministic per (seed, sequence, creation time): reproducible under a manual clock,
    never colliding across restarts on the same database."""
    return "msgbatch_01" + base58(digest("batch", seed, seq, created_us), 22)


def message_id(seed: int, batch: str, custom_id: str) -> str:
    return "msg_01" + base58(digest("msg", seed, batch, custom_id), 22)


def request_id() -> str:
    return "req_01" + base58(os.urandom(22), 22)


def organization_id(seed: int) -> str:
    """An organization id in the real API's shape (a UUID), fixed per seed."""
    h = digest("org", seed).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def workspace_id(seed: int, name: str = "default") -> str:
    return "wrkspc_01" + base58(digest("workspace", seed, name), 22)
