"""What a batch costs: one rule, used by every front end.

A request is billed only when it succeeded (the API bills neither canceled, expired nor
errored requests), at the prices of the batch's own provider (`price_source`). Before the
results are indexed the cost is the submit-time estimate, scaled to the requests that can
still be billed (succeeded + processing), and it is marked as an estimate; once the results
are indexed it is the sum of the rows' usage at batch price, and no longer an estimate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from .models import BatchCost, BatchView, RemoteBatch
from .pricing import BATCH_DISCOUNT, cost_usd, price_for, price_source


def batch_cost(view: BatchView) -> BatchCost:
    """The cost of one batch (see the module docstring for the rule)."""
    counts = view.remote.request_counts
    source = price_source(view.remote.provider)  # the batch's own provider's prices
    if view.actual_cost_usd is not None:
        return _cost(view.actual_cost_usd, estimate=False, source=source)
    billable = counts.succeeded + counts.processing
    if billable == 0 and (counts.total > 0 or not view.remote.is_active):
        # Every request ended canceled, expired or errored, or none ever ran (an OpenAI
        # batch that failed its validation or was cancelled before it ran): nothing is
        # billed, and that is known from the counts alone.
        return _cost(0.0, estimate=False, source=source)
    if view.results_indexed and not view.remote.is_active:
        # Results are indexed but no row has a known price: the cost is unknown, not zero.
        return BatchCost(None, is_estimate=False, price_source=source, unpriced=True)
    if view.model and price_for(view.model) is None:
        # A model without a price: an estimate of it is no figure at all (not ~$0.00).
        return BatchCost(None, is_estimate=True, price_source=source, unpriced=True)
    if view.estimated_cost_usd is None:
        return BatchCost(None, is_estimate=True, price_source=source)
    share = billable / counts.total if counts.total else 1.0
    cost = _cost(view.estimated_cost_usd * share, estimate=True, source=source)
    return replace(cost, floor=view.estimate_floor)


def billed_usd(remote: RemoteBatch) -> float | None:
    """What an ended batch was billed according to the usage its provider reports for the
    whole batch (OpenAI's batch `usage` and `model`), at batch price: its cost before (or
    without) its results. None when it reports no model or no tokens, or the model has no
    price. The totals cannot say which requests were above a model's prompt-size tier
    (OpenAI's 272K input tokens, per request): they are priced at the base tier, what the
    batch cost at least, until the results' rows price each request."""
    usage = remote.usage
    if remote.is_active or usage is None or not remote.model:
        return None
    if usage.input_tokens + usage.output_tokens == 0:
        return None  # not reported (older batches): unknown, not free
    cached = min(usage.cached_tokens, usage.input_tokens)
    return cost_usd(
        remote.model,
        usage.input_tokens - cached,
        usage.output_tokens,
        cache_read=cached,
        tier_prompt=0,
    )


def total_cost(costs: Iterable[BatchCost]) -> BatchCost:
    """The sum of several batches' costs (a job): an estimate if any part is one."""
    usd = standard = 0.0
    any_known = estimate = unpriced = floor = False
    source = ""
    for cost in costs:
        source = source or cost.price_source
        estimate = estimate or cost.is_estimate
        floor = floor or cost.floor
        unpriced = unpriced or cost.unpriced
        if cost.usd is None:
            continue
        any_known = True
        usd += cost.usd
        standard += cost.standard_usd if cost.standard_usd is not None else cost.usd
    if not any_known or unpriced:  # a part without a price: the sum is not known either
        return BatchCost(None, is_estimate=estimate, price_source=source, unpriced=unpriced)
    return BatchCost(
        usd, is_estimate=estimate, standard_usd=standard, price_source=source, floor=floor
    )


def _cost(usd: float, *, estimate: bool, source: str) -> BatchCost:
    return BatchCost(
        usd, is_estimate=estimate, standard_usd=usd / BATCH_DISCOUNT, price_source=source
    )
