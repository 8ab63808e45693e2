"""Counts in words, the one plural rule of every message: `1 request`, `2 requests`."""

from __future__ import annotations

from collections.abc import Sequence


def quantity(n: int, noun: str, plural: str | None = None) -> str:
    """`n` with thousands separators and the noun agreeing with it (`plural` if not +s)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def numbered(noun: str, numbers: Sequence[int]) -> str:
    """The things of these numbers: `part 2`, `parts 1, 3`."""
    return f"{noun if len(numbers) == 1 else noun + 's'} {', '.join(str(n) for n in numbers)}"


def them(n: int) -> str:
    """The pronoun that agrees with `n` things: `fix it` (1 error), `fix them` (2 errors)."""
    return "it" if n == 1 else "them"
