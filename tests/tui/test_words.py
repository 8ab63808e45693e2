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


def test_a_long_notification_stays_up_long_enough_to_be_read() -> None:
    from batchtop.tui.format import reading_seconds

    assert reading_seconds("Submitted.") == 5.0  # Textual's own
    unresolved = (
        "The create of part 2 timed out: the batch may still be made. It is not sent"
        " again; batchtop reconcile looks for it until 21:40 UTC and then closes it."
    )
    assert 10 <= reading_seconds(unresolved) <= 15
    assert reading_seconds(unresolved * 10) == 30.0  # never forever
