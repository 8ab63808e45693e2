"""Counts in words for messages: `1 request`, `2 requests`, `1,200 batches`."""

from __future__ import annotations

from batchtop.core.models import ResultType, RetryPlan

_OUTCOMES = (ResultType.ERRORED, ResultType.EXPIRED, ResultType.CANCELED)


def quantity(n: int, noun: str, plural: str | None = None) -> str:
    """`n` with thousands separators and the noun agreeing with it (`plural` if not +s)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def resend_words(plan: RetryPlan) -> str:
    """What a retry sends: `3 requests (2 errored, 1 expired)` (the CLI and the TUI)."""
    parts = [f"{plan.resend_by_type[t]:,} {t}" for t in _OUTCOMES if plan.resend_by_type.get(t)]
    return quantity(plan.resend, "request") + (f" ({', '.join(parts)})" if parts else "")


def left_out_words(plan: RetryPlan) -> str | None:
    """What a retry leaves out because it would fail the same way again, or None."""
    if not plan.left_out:
        return None
    kinds = ", ".join(f"{n:,} {kind}" for kind, n in sorted(plan.left_out.items()))
    return f"{quantity(plan.left_out_total, 'request')} that would fail the same way ({kinds})"


def unknown_words(plan: RetryPlan) -> str | None:
    """Failed requests a retry cannot rebuild (created outside batchtop), or None."""
    if not plan.unknown:
        return None
    return f"{quantity(plan.unknown, 'failed request')} with unknown parameters (not sent)"
