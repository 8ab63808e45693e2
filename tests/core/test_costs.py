"""What a batch costs (issue 14.3): only succeeded requests are billed; an estimate stays
marked as one until the results' usage is known; savings come from what was billed.

The batches are real store rows (a canceled batch is canceled through the emulator by the
official SDK in the service tests); here the rule itself is pinned on BatchView values.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from batchtop.core.costs import batch_cost, total_cost
from batchtop.core.models import BatchView, ProcessingStatus, RemoteBatch, RequestCounts

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def view(
    *,
    status: ProcessingStatus = ProcessingStatus.ENDED,
    estimate: float | None = 1.40,
    actual: float | None = None,
    indexed: int = 0,
    **counts: int,
) -> BatchView:
    remote = RemoteBatch(
        id="msgbatch_1",
        processing_status=status,
        request_counts=RequestCounts(**counts),
        created_at=T0,
        expires_at=T0,
    )
    return BatchView(
        remote=remote,
        seen_at=T0,
        estimated_cost_usd=estimate,
        actual_cost_usd=actual,
        results_indexed=indexed,
    )


def test_all_canceled_costs_nothing_and_saves_nothing() -> None:
    cost = batch_cost(view(canceled=10))
    assert cost.usd == 0.0
    assert not cost.is_estimate
    assert not cost.savings_usd


@pytest.mark.parametrize("kind", ["canceled", "expired", "errored"])
def test_unbilled_outcomes_are_taken_out_of_the_estimate(kind: str) -> None:
    cost = batch_cost(view(succeeded=3, **{kind: 1}))  # results not downloaded yet
    assert cost.is_estimate
    assert cost.usd == pytest.approx(1.40 * 3 / 4)
    assert cost.savings_usd == pytest.approx(cost.usd)  # standard = 2x batch price


def test_in_progress_is_an_estimate_over_what_can_still_be_billed() -> None:
    cost = batch_cost(view(status=ProcessingStatus.IN_PROGRESS, processing=6, canceled=2))
    assert cost.is_estimate
    assert cost.usd == pytest.approx(1.40 * 6 / 8)


def test_indexed_usage_is_the_cost_and_savings_come_from_it() -> None:
    cost = batch_cost(view(succeeded=3, canceled=1, actual=0.12, indexed=4))
    assert not cost.is_estimate
    assert cost.usd == pytest.approx(0.12)
    assert cost.standard_usd == pytest.approx(0.24)
    assert cost.savings_usd == pytest.approx(0.12)
    assert cost.price_source.startswith("prices of ")


def test_indexed_without_a_known_price_is_unknown_not_an_estimate() -> None:
    cost = batch_cost(view(succeeded=2, indexed=2))
    assert cost.usd is None
    assert not cost.is_estimate


def test_no_estimate_and_no_results_is_unknown() -> None:
    cost = batch_cost(view(status=ProcessingStatus.IN_PROGRESS, estimate=None, processing=2))
    assert cost.usd is None
    assert cost.is_estimate


def test_a_job_total_is_an_estimate_while_any_part_is() -> None:
    done = batch_cost(view(succeeded=1, actual=0.5, indexed=1))
    running = batch_cost(view(status=ProcessingStatus.IN_PROGRESS, estimate=1.0, processing=1))
    total = total_cost([done, running])
    assert total.usd == pytest.approx(1.5)
    assert total.is_estimate
    assert total.savings_usd == pytest.approx(1.5)
    assert not total_cost([done, batch_cost(view(canceled=3))]).is_estimate
    assert total_cost([]).usd is None


def test_estimate_is_never_shown_unmarked_once_ended_with_successes() -> None:
    base = view(succeeded=5)
    assert batch_cost(base).is_estimate
    assert not batch_cost(replace(base, actual_cost_usd=0.3, results_indexed=5)).is_estimate
