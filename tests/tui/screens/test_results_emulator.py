"""The results viewer on a batch run by the emulator: download on open, then known outcomes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from batchtop.core import paths
from batchtop.core.emulator import EmulatorHandle, ManualClock, Rule
from batchtop.core.models import ProcessingStatus, ResultType
from batchtop.core.service import BatchService
from batchtop.tui.messages import ServiceEvent
from batchtop.tui.screens.results import ResultsScreen
from batchtop.tui.widgets.result_detail import ResultDetail
from screens_data import HOSTILE, ScreenHost, retry_dialog, screen_text, wait_for
from waiting import wait_until


def compose_requests(ids: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "custom_id": cid,
            "params": {
                "model": "claude-haiku-4-5",
                "max_tokens": 64,
                "messages": [{"role": "user", "content": f"Prompt for {cid}"}],
            },
        }
        for cid in ids
    ]


async def test_open_an_ended_batch_downloads_then_shows_known_outcomes(
    emulator: EmulatorHandle, live_service: BatchService
) -> None:
    emulator.set_rules(
        [
            Rule(r"^err-", "errored", error_type="overloaded_error", error_message="Overloaded"),
            Rule(r"^exp-", "expired"),
            Rule(r"^evil", "succeeded", text=HOSTILE),
        ]
    )
    ids = [f"ok-{i}" for i in range(6)] + ["err-1", "err-2", "exp-1", "evil-1"]
    outcome = await live_service.submit_requests(compose_requests(ids), name="known")
    [batch_id] = outcome.batch_ids
    emulator.advance(3600)
    await live_service.refresh()
    view = live_service.batch(batch_id)
    assert view.remote.processing_status is ProcessingStatus.ENDED
    assert not view.results_downloaded

    app = ScreenHost(lambda: ResultsScreen(live_service, batch_ids=[batch_id], title="known"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, ResultsScreen)
        await wait_for(pilot, lambda: screen.loaded, limit_s=20)
        await pilot.pause()
        assert live_service.batch(batch_id).results_downloaded
        summary = screen.summary
        assert summary is not None
        assert summary.by_type[ResultType.SUCCEEDED] == 7
        assert summary.by_type[ResultType.ERRORED] == 2
        assert summary.by_type[ResultType.EXPIRED] == 1
        text = screen_text(app)
        assert "2 succeeded 7" in text
        assert "3 errored 2" in text
        assert "4 expired 1" in text
        # the manifest joins inputs to results
        detail = screen.query_one(ResultDetail)
        await wait_for(pilot, lambda: detail.row is not None)
        await pilot.pause()
        assert f"Prompt for {detail.row.custom_id}" in screen_text(app)
        # hostile output is literal, in the table and in the rendered Markdown
        await pilot.press("slash", *"evil", "enter")
        await wait_for(pilot, lambda: screen.table.total == 1)
        await wait_for(pilot, lambda: detail.row is not None and detail.row.custom_id == "evil-1")
        await pilot.pause()
        text = screen_text(app)
        assert "[bold red]alert[/]" in text
        assert "\x1b" not in text
        # status filters combine with the search: no expired result mentions "evil"
        await pilot.press("4")
        await wait_for(pilot, lambda: screen.filt.types == frozenset({ResultType.EXPIRED}))
        await wait_for(pilot, lambda: screen.table.total == 0)
        await pilot.pause()
        assert "no matching results" in screen_text(app)


async def test_retry_failed_from_the_viewer(
    emulator: EmulatorHandle, live_service: BatchService
) -> None:
    emulator.set_rules([Rule(r"^err-", "errored", error_type="overloaded_error")])
    ids = ["ok-1", "ok-2", "err-1", "err-2", "err-3"]
    outcome = await live_service.submit_requests(compose_requests(ids), name="retry me")
    [batch_id] = outcome.batch_ids
    emulator.advance(3600)
    await live_service.refresh()
    emulator.set_rules([])  # the retry succeeds
    async with retry_dialog(live_service, batch_id, "retry") as (app, pilot):
        assert "Resend 3 requests (3 errored) of retry" in screen_text(app)
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: any("Resent 3 requests" in str(n.message) for n in app._notifications),
            limit_s=20,
        )
    children = [b for b in live_service.batches() if b.parent_batch_id == batch_id]
    assert len(children) == 1
    assert children[0].remote.request_counts.total == 3


async def test_viewer_of_a_running_batch_loads_when_it_ends(
    emulator: EmulatorHandle, live_service: BatchService
) -> None:
    outcome = await live_service.submit_requests(compose_requests(["a-1", "a-2", "a-3"]))
    [batch_id] = outcome.batch_ids
    await live_service.refresh()
    assert live_service.batch(batch_id).remote.is_active
    app = ScreenHost(lambda: ResultsScreen(live_service, batch_ids=[batch_id], title="running"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, ResultsScreen)
        # what BatchtopApp does for the screens of its stack (the host here is bare)
        live_service.subscribe(lambda event: screen.post_message(ServiceEvent(event)))
        await wait_for(pilot, lambda: screen.loaded)
        await pilot.pause()
        assert "once the batch has ended" in screen_text(app)
        # a status filter while it runs still says why there is nothing to show
        await pilot.press("3")
        await wait_for(pilot, lambda: {str(t) for t in screen.filt.types} == {"errored"})
        await app.workers.wait_for_complete()  # the filter's query, off the event loop
        await pilot.pause()
        assert "once the batch has ended" in screen_text(app)
        await pilot.press("1")
        emulator.advance(3600)
        await live_service.refresh()  # the batch ends: the viewer downloads and shows it
        await wait_for(pilot, lambda: screen.table.total == 3, limit_s=20)
        await pilot.pause()
        text = screen_text(app)
        assert "a-1" in text
        assert "once the batch has ended" not in text


async def test_position_line_counts_the_rows_on_screen_after_a_download(
    emulator: EmulatorHandle, live_service: BatchService
) -> None:
    """The progress bar shrinks the table while downloading; once it goes, the position
    line must count the rows of the grown table, not those of the download layout."""
    outcome = await live_service.submit_requests(
        compose_requests([f"row-{i:03d}" for i in range(80)]), name="many"
    )
    [batch_id] = outcome.batch_ids
    emulator.advance(3600)
    await live_service.refresh()
    app = ScreenHost(lambda: ResultsScreen(live_service, batch_ids=[batch_id], title="many"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, ResultsScreen)
        await wait_for(pilot, lambda: screen.loaded, limit_s=20)
        await pilot.pause()
        height = screen.table.scrollable_content_region.height
        assert height > 10
        expected = f"rows 1–{height} of 80 · row 1"
        await wait_for(pilot, lambda: expected in screen_text(app), limit_s=5)
        # scrolling (the wheel, the scrollbar) moves the window, not the cursor: the line follows
        screen.table.scroll_to(y=10, animate=False)
        expected = f"rows 11–{height + 10} of 80 · row 1"
        await wait_for(pilot, lambda: expected in screen_text(app), limit_s=5)


@pytest.mark.skipif(sys.platform == "win32", reason="downloads are serialised with flock")
async def test_viewer_says_another_process_is_downloading_then_shows_the_results(
    emulator: EmulatorHandle, live_service: BatchService
) -> None:
    """Another batchtop process holds the batch's download lock: the viewer says so and
    waits; once that process lets go, it downloads and shows the results."""
    import fcntl

    outcome = await live_service.submit_requests(compose_requests(["a", "b", "c"]), name="held")
    [batch_id] = outcome.batch_ids
    emulator.advance(3600)
    await live_service.refresh()
    results_dir = paths.results_dir()
    results_dir.mkdir(parents=True, exist_ok=True)
    # what another process's download holds (flock: another open file conflicts in-process too)
    fd = os.open(results_dir / f".{batch_id}.jsonl.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    app = ScreenHost(lambda: ResultsScreen(live_service, batch_ids=[batch_id], title="held"))
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            screen = app.screen
            assert isinstance(screen, ResultsScreen)
            await wait_for(
                pilot, lambda: "Another batchtop is downloading the results" in screen_text(app)
            )
            assert not screen.loaded
            os.close(fd)
            fd = -1
            await wait_for(pilot, lambda: screen.loaded, limit_s=20)
            assert screen.summary is not None
            assert screen.summary.by_type[ResultType.SUCCEEDED] == 3
            assert live_service.batch(batch_id).results_indexed == 3
    finally:
        if fd >= 0:
            os.close(fd)


def start_results(batch_id: str, cwd: Path, err: Path) -> subprocess.Popen[bytes]:
    """`batchtop results BATCH --out -` as another process (this test's environment), its
    stderr in `err`."""
    with err.open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "batchtop.tui.cli", "results", batch_id, "--out", "-"],
            cwd=cwd,
            env=dict(os.environ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


@pytest.mark.skipif(sys.platform == "win32", reason="downloads are serialised with flock")
async def test_viewer_says_another_process_downloaded_the_results(
    emulator_factory: Callable[..., EmulatorHandle],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A `batchtop results` process is downloading the batch when the viewer opens it: the
    viewer waits for that process, then says the results were downloaded by it (this
    process fetched nothing) and shows them."""
    emulator = emulator_factory(clock=ManualClock(datetime.now(UTC).replace(microsecond=0)))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", emulator.base_url)
    # the store of the data directory the `batchtop results` process below uses too
    service = await BatchService.open(now=emulator.clock.now, sleep=asyncio.sleep)
    service.auto_download = False
    holder: subprocess.Popen[bytes] | None = None
    err = tmp_path / "holder.err"
    try:
        outcome = await service.submit_requests(compose_requests(["a", "b", "c"]), name="two")
        [batch_id] = outcome.batch_ids
        emulator.advance(3600)
        await service.refresh()
        emulator.set_faults(results_latency_s=600.0)  # the holder's stream pauses until released
        holder = start_results(batch_id, tmp_path, err)
        await asyncio.to_thread(
            wait_until, lambda: emulator.server.held_results >= 1, 90, "the holder's download"
        )
        app = ScreenHost(lambda: ResultsScreen(service, batch_ids=[batch_id], title="two"))
        async with app.run_test(size=(160, 48)) as pilot:
            screen = app.screen
            assert isinstance(screen, ResultsScreen)
            await wait_for(
                pilot,
                lambda: "Another batchtop is downloading the results" in screen_text(app),
                limit_s=30,
            )
            emulator.call(emulator.server.release_slow_results)
            await wait_for(pilot, lambda: screen.loaded, limit_s=60)
            said = [str(n.message) for n in app._notifications]
            assert any(
                f"The results of {batch_id} were already downloaded by another batchtop process"
                in s
                for s in said
            ), said
            assert screen.summary is not None
            assert screen.summary.by_type[ResultType.SUCCEEDED] == 3
        assert await asyncio.to_thread(holder.wait, 60) == 0, err.read_text()
        assert f"downloaded 3 results of {batch_id}" in err.read_text()
        assert emulator.stats.arrivals("results") == 1  # fetched by the holder alone
    finally:
        if holder is not None and holder.poll() is None:
            holder.kill()
            holder.wait()
        await service.close()
