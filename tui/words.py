"""Counts in words for messages: `1 request`, `2 requests`, `1,200 batches`."""

from __future__ import annotations

from batchtop.core.models import ResultType, RetryPlan
from batchtop.core.words import numbered, quantity, them

__all__ = [
    "left_out_words",
    "not_raised_words",
    "numbered",
    "quantity",
    "resend_words",
    "them",
]

_OUTCOMES = (ResultType.ERRORED, ResultType.EXPIRED, ResultType.CANCELED)


def resend_words(plan: RetryPlan) -> str:
    """What a retry sends: `3 requests (2 errored, 1 expired)`, with refusals and max_tokens
    cuts when asked for: `4 requests (1 errored, 1 refusal, 2 max_tokens cuts with
    max_tokens 8,000)` (the CLI and the TUI; an OpenAI batch's cuts are named by its
    endpoint's field, `RetryPlan.budget_field`)."""
    parts = [f"{plan.resend_by_type[t]:,} {t}" for t in _OUTCOMES if plan.resend_by_type.get(t)]
    if n := plan.resend_by_stop.get("refusal"):
        parts.append(quantity(n, "refusal"))
    if (n := plan.resend_by_stop.get("max_tokens")) and plan.max_tokens is not None:
        field = plan.budget_field  # the endpoint's name for it (core decides)
        parts.append(f"{quantity(n, f'{field} cut')} with {field} {plan.max_tokens:,}")
    return quantity(plan.resend, "request") + (f" ({', '.join(parts)})" if parts else "")


def left_out_words(plan: RetryPlan) -> str | None:
    """What a retry leaves out because it would fail the same way again, or None."""
    if not plan.left_out:
        return None
    kinds = ", ".join(f"{n:,} {kind}" for kind, n in sorted(plan.left_out.items()))
    return f"{quantity(plan.left_out_total, 'request')} that would fail the same way ({kinds})"


def not_raised_words(plan: RetryPlan) -> str | None:
    """Cuts a retry leaves out because the new max_tokens does not raise theirs, or None."""
    if not plan.not_raised or plan.max_tokens is None:
        return None
    field = plan.budget_field
    cuts = quantity(plan.not_raised, f"{field} cut")
    return f"{cuts} already at {field} {plan.max_tokens:,} or more (not sent)"


def unknown_words(plan: RetryPlan) -> str | None:
    """Failed requests a retry cannot rebuild (created outside batchtop), or None."""
    if not plan.unknown:
        return None
    return f"{quantity(plan.unknown, 'failed request')} with unknown parameters (not sent)"
