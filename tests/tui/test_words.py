"""Counts in messages agree with their nouns."""

from __future__ import annotations

import pytest
from batchtop.tui.words import quantity


@pytest.mark.parametrize(
    ("n", "noun", "plural", "expected"),
    [
        (0, "request", None, "0 requests"),
        (1, "request", None, "1 request"),
        (2, "result", None, "2 results"),
        (1200, "row", None, "1,200 rows"),
        (1, "batch", "batches", "1 batch"),
        (3, "batch", "batches", "3 batches"),
    ],
)
def test_quantity(n: int, noun: str, plural: str | None, expected: str) -> None:
    assert quantity(n, noun, plural) == expected
