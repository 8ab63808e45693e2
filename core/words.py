"""Counts in words, the one plural rule of every message: `1 request`, `2 requests`."""

from __future__ import annotations


def quantity(n: int, noun: str, plural: str | None = None) -> str:
    """`n` with thousands separators and the noun agreeing with it (`plural` if not +s)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
