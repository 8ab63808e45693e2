"""The status bar and title tell how big the workspace is (issue 13.4): the first sync's
progress while it pages through 5,000 batches, and the count once it is done."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import Event, ListingProgress
from batchtop.core.service import BatchService
from batchtop.tui.app import BatchtopApp
from dashboard_support import close_service, make_service, until
from data_factory import request
from textual.widgets import Static

FIVE_K = re.compile(r"\b5,?000 batches\b")
FAST_FAIL = Settings(notify_bell=False, max_retries=0, request_timeout_s=5.0)


def status_text(app: BatchtopApp) -> str:
    return str(app.dashboard.status.render())


def title_text(app: BatchtopApp) -> str:
    return str(app.dashboard.query_one("#title-bar", Static).render())


async def test_first_sync_progress_then_the_workspace_count(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.seed_history(5_000)
    service = make_service(tmp_path / "s.sqlite3", emulator, FAST_FAIL)

    def stop_after_two_pages(event: Event) -> None:
        # the walk is cut after its second page (every call fails from then on): the
        # progress it made stays on screen, deterministically
        if isinstance(event, ListingProgress) and event.listed == 2_000:
            emulator.set_faults(rate_529=1.0)

    service.subscribe(stop_after_two_pages)
    app = BatchtopApp(service, FAST_FAIL, poll=False, now=emulator.clock.now)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            await pilot.press("r")
            assert await until(pilot, lambda: "API error" in status_text(app), tries=400)
            assert "first sync: 3,000 batches listed…" in status_text(app)
            emulator.clear_faults()
            await pilot.press("r")  # continues where it stopped
            ok = await until(pilot, lambda: bool(FIVE_K.search(title_text(app))), tries=400)
            assert ok, (title_text(app), status_text(app))
            assert await until(pilot, lambda: "first sync" not in status_text(app), tries=100)
            assert "listing unfinished" not in status_text(app)
    finally:
        await close_service(service)


async def test_status_bar_names_the_workspace_and_switches_with_the_key(
    emulator_factory: Callable[..., EmulatorHandle],
) -> None:
    """Issue 14.2: the status bar says which endpoint and workspace are shown; a key of
    another workspace shows that workspace's batches once the API has named it."""
    ws_a, ws_b = "wrkspc_01AAAAAAAAAAAAAAAAAAAAAA", "wrkspc_01BBBBBBBBBBBBBBBBBBBBBB"
    emulator = emulator_factory(key_workspaces={"key-a": ws_a, "key-b": ws_b})
    first = await BatchService.open(
        settings=FAST_FAIL, api_key="key-a", base_url=emulator.base_url, now=emulator.clock.now
    )
    try:
        outcome = await first.submit_requests([request("in-a")])
        await first.refresh()
    finally:
        await first.close()
    (bid,) = outcome.batch_ids

    service = await BatchService.open(
        settings=FAST_FAIL, api_key="key-b", base_url=emulator.base_url, now=emulator.clock.now
    )
    service.auto_download = False
    app = BatchtopApp(service, FAST_FAIL, poll=False, now=emulator.clock.now)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            # before any answer: the store of the workspace seen last here, said so
            assert f"127.0.0.1 · {ws_a}" in status_text(app)
            assert bid in app.dashboard._batches
            await pilot.press("r")
            assert await until(pilot, lambda: ws_b in status_text(app), tries=400)
            assert await until(pilot, lambda: bid not in app.dashboard._batches, tries=100)
            assert ws_a not in status_text(app)
    finally:
        await close_service(service)
