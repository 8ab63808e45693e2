"""An adopted batch whose results report input tokens far from its part's requests is said
to be possibly another client's (core/adopted_check.py), once its results are indexed."""

from __future__ import annotations

from typing import Any

import pytest
from batchtop.core.adopted_check import TokenGap
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import IntentState
from batchtop.core.submit import prepare_requests
from data_factory import request
from service_support import ServiceFactory


def _part(tag: str, text: str) -> list[dict[str, Any]]:
    return [request(f"row-{tag}-{i:06d}", text.format(i=i)) for i in range(1, 7)]


async def test_adopted_batch_of_other_prompts_is_flagged_after_its_results(
    make_service: ServiceFactory, emulator: EmulatorHandle
) -> None:
    service = make_service()
    tag = service._client_tag()
    ours = prepare_requests(_part(tag, "topic number {i}, in full detail: " * 12))
    job = service.store.create_job("crashed", None, emulator.clock.now())
    service.store.add_manifest(job.id, 1, ours.manifest_rows)
    service.store.add_intent(job.id, 1, 6, ours.content_hash, emulator.clock.now())
    # another batch of the same custom_ids but short prompts (a wrong adoption's shape)
    theirs = prepare_requests(_part(tag, "hi {i}"))
    created = await service._api.create_raw(theirs.body)
    emulator.advance(60)
    (resolved,) = await service.reconcile()
    assert (resolved.state, resolved.batch_id) == (IntentState.RECONCILED, created.id)
    assert service.adopted_warning(created.id) is None  # nothing said before its results

    await service.download_results(created.id)
    warning = await service.adopted_results_warning(created.id)
    assert warning is not None
    assert f"The results of {created.id} may not be this part's" in warning
    assert service.adopted_warning(created.id) == warning  # what the detail panel shows


@pytest.mark.parametrize(
    ("rows", "estimated", "reported", "mismatched"),
    [
        (6, 600, 18, True),  # far fewer tokens than the part's requests
        (6, 600, 4000, True),  # far more
        (6, 600, 300, False),  # within the estimate's own error
        (6, 600, 1500, False),
        (2, 600, 3, False),  # too few requests to say anything
        (6, 30, 0, False),  # too few tokens
    ],
)
def test_only_a_large_gap_over_several_requests_is_said(
    rows: int, estimated: int, reported: int, mismatched: bool
) -> None:
    assert TokenGap("b", rows, estimated, reported).mismatched is mismatched
