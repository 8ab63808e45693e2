from __future__ import annotations

from pathlib import Path

from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import ResultFilter
from data_factory import requests
from service_support import ServiceFactory


async def test_submit_refresh_download(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = make_service()
    outcome = await service.submit_requests(requests(20), name="smoke")
    assert len(outcome.batch_ids) == 1
    bid = outcome.batch_ids[0]
    emulator.advance(60)
    done = await service.refresh()
    assert done.active == 0
    await service.wait_background()
    view = service.batch(bid)
    assert view is not None
    assert view.results_indexed == 20
    page = service.results_page([bid], ResultFilter(), 0, 50)
    assert page.total == 20
