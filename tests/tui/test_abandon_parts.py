"""A job part whose create was interrupted (unresolved) in the dashboard: the jobs view's
detail names it with the key that abandons it, `A` asks first (saying what it risks and the
command line's `batchtop reconcile --abandon`), then closes it as not sent, and `u` sends it.

The unresolved part is made the way it happens: a submit whose create is held at the
emulator (it has arrived, no batch is made) is cancelled, leaving its intent open."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from batchtop.core import store as store_module
from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import ImportOptions, IntentState
from batchtop.core.service import BatchService
from batchtop.tui.app import BatchtopApp
from batchtop.tui.screens.confirm import ConfirmScreen
from batchtop.tui.screens.rows import JOB_PREFIX
from dashboard_support import close_service, make_service, until
from data_factory import request, requests, write_jsonl
from textual.pilot import Pilot
from waiting import async_wait

SETTINGS = Settings(notify_bell=False, max_retries=0)
SIZE = (80, 24)


async def interrupted_submit(service: BatchService, emulator: EmulatorHandle, source: Path) -> str:
    """A one-part job (of the file `source`) whose create reached the server, which holds it
    (no batch made), and whose submit was then cancelled: its part is unresolved. Returns
    the job id."""
    write_jsonl(source, requests(3, prefix="held"))
    report = await service.analyse(source, ImportOptions())
    emulator.set_faults(create_latency_s=3600.0)  # held until the emulator stops
    task = asyncio.ensure_future(service.submit(report, name="held job"))
    await async_wait(
        lambda: task.done() or emulator.call(lambda: emulator.server.held_creates) >= 1,
        60,
        "the create held at the server",
    )
    assert not task.done(), task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    emulator.set_faults(create_latency_s=0.0)  # later creates go through; the held one stays
    (job,) = service.jobs()
    progress = service.job_progress(job.id)
    assert progress is not None
    assert progress.open == (1,)
    return job.id


def messages(app: BatchtopApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def screen_text(app: BatchtopApp) -> str:
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


async def select_job(pilot: Pilot[Any], app: BatchtopApp, job_id: str) -> None:
    await pilot.press("5")  # the jobs view
    table = app.dashboard.table
    assert await until(pilot, lambda: table.get_row_index(JOB_PREFIX + job_id) >= 0)
    table.move_cursor(row=table.get_row_index(JOB_PREFIX + job_id))
    assert await until(pilot, lambda: table.selected_key == JOB_PREFIX + job_id)


async def test_an_unresolved_part_is_shown_abandoned_after_a_yes_and_then_sent(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    emulator = emulator_factory()
    service = make_service(tmp_path / "s.sqlite3", emulator, SETTINGS)
    try:
        job_id = await interrupted_submit(service, emulator, tmp_path / "input.jsonl")
        app = BatchtopApp(service, SETTINGS, poll=False, now=emulator.clock.now)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("r")  # a refresh reconciles: the part stays open (not proven)
            assert await until(
                pilot, lambda: any("is not submitted" in m for m in messages(app)), tries=200
            )
            (notice,) = [m for m in messages(app) if "is not submitted" in m]
            assert "part 1 unresolved" in notice
            assert "press u" not in notice  # u sends no unresolved part
            assert "A closes an unresolved part" in notice
            await select_job(pilot, app, job_id)
            # the detail names the part, until when a batch may appear, and the key
            assert await until(pilot, lambda: "unresolved" in screen_text(app))
            shown = " ".join(screen_text(app).split())  # at 80 columns the line wraps
            assert "unresolved part 1: a batch may still" in shown, shown
            assert "appear until 12:30:00 UTC · A" in shown, shown  # journaled at 12:00
            assert "abandons" in shown, shown

            await pilot.press("A")
            assert await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            asked = " ".join(screen_text(app).split())
            assert "Close part 1 of held job" in asked, asked
            assert "sent twice" in asked
            assert "batchtop reconcile --abandon" in asked
            await pilot.press("n")  # no: nothing is closed
            assert await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
            assert [i.state for i in service.store.open_intents()] == [IntentState.PENDING]

            await pilot.press("A")
            assert await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            assert await until(
                pilot, lambda: any("abandoned as asked" in m for m in messages(app)), tries=200
            )
            progress = service.job_progress(job_id)
            assert progress is not None
            assert (progress.open, progress.missing) == ((), (1,))
            assert await until(pilot, lambda: "unresolved" not in screen_text(app))

            await pilot.press("u")  # the part is sent now
            assert await until(
                pilot, lambda: any(m.startswith("Resumed held job") for m in messages(app)), 400
            )
        progress = service.job_progress(job_id)
        assert progress is not None
        assert progress.complete
        assert emulator.stats.count("create", 200) == 1  # the held create made nothing
    finally:
        await close_service(service)


async def test_abandon_on_a_job_without_unresolved_parts_says_so(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    emulator = emulator_factory()
    service = make_service(tmp_path / "s.sqlite3", emulator, SETTINGS)
    try:
        outcome = await service.submit_requests([request("fine")], name="fine job")
        app = BatchtopApp(service, SETTINGS, poll=False, now=emulator.clock.now)
        async with app.run_test(size=SIZE) as pilot:
            await select_job(pilot, app, outcome.job_id)
            await pilot.press("A")
            assert await until(pilot, lambda: any("unresolved part" in m for m in messages(app)))
            assert not isinstance(app.screen, ConfirmScreen)
    finally:
        await close_service(service)


@pytest.fixture
def unresolved_store(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, str]:
    """A store holding a job with an unresolved part, its job id from a counter and its
    source a relative path (the detail shows both), made in a loop of its own before the
    app opens the store."""
    path = tmp_path / "unresolved.sqlite3"
    monkeypatch.chdir(tmp_path)
    counter = itertools.count(1)
    monkeypatch.setattr(
        store_module, "uuid", SimpleNamespace(uuid4=lambda: uuid.UUID(int=next(counter) << 96))
    )

    async def seed() -> str:
        service = make_service(path, emulator, SETTINGS)
        try:
            return await interrupted_submit(service, emulator, Path("input.jsonl"))
        finally:
            await close_service(service)

    return path, asyncio.run(seed())


def snapshot(
    snap_compare: Any,
    emulator: EmulatorHandle,
    store: tuple[Path, str],
    then: Callable[[Pilot[Any], BatchtopApp], Awaitable[None]] | None = None,
) -> bool:
    """The dashboard at 80x24 on `store`, its job selected in the jobs view, then `then`."""
    path, job_id = store
    service = make_service(path, emulator, SETTINGS)
    app = BatchtopApp(service, SETTINGS, poll=False, now=emulator.clock.now)

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await select_job(pilot, app, job_id)
        if then is not None:
            await then(pilot, app)
        await pilot.pause()

    try:
        return bool(snap_compare(app, terminal_size=SIZE, run_before=run_before))
    finally:
        asyncio.run(close_service(service))


def test_unresolved_part_in_the_jobs_detail_snapshot(
    snap_compare: Any, emulator: EmulatorHandle, unresolved_store: tuple[Path, str]
) -> None:
    assert snapshot(snap_compare, emulator, unresolved_store)


def test_abandon_dialog_snapshot(
    snap_compare: Any, emulator: EmulatorHandle, unresolved_store: tuple[Path, str]
) -> None:
    async def ask(pilot: Pilot[Any], app: BatchtopApp) -> None:
        await pilot.press("A")
        assert await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))

    assert snapshot(snap_compare, emulator, unresolved_store, ask)
