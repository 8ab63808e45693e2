"""SVG snapshots of the dashboard and its dialogs, on a seeded, frozen workspace.

Deterministic by construction: the emulator's ids come from a fixed seed, its ManualClock
never moves during the snapshot, the service and the app read time from that clock, cursor
blink is frozen (conftest) and nothing polls (`poll=False`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.tui.app import BatchtopApp
from dashboard_support import SETTINGS, Workspace, close_service, make_service
from textual.pilot import Pilot

SIZE = (160, 48)
RunBefore = Callable[[Pilot[Any]], Awaitable[None]]


@pytest.fixture
def snapshot_app(
    seeded_store: tuple[Path, Workspace], emulator: EmulatorHandle
) -> Iterator[tuple[BatchtopApp, Workspace]]:
    path, workspace = seeded_store
    service = make_service(path, emulator)
    yield BatchtopApp(service, SETTINGS, poll=False, now=emulator.clock.now), workspace
    asyncio.run(close_service(service))


def select(batch_id: str) -> RunBefore:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()  # the dashboard (the bottom screen) mounts as the app starts
        table = pilot.app.dashboard.table  # type: ignore[attr-defined]
        table.move_cursor(row=table.get_row_index(batch_id))
        await pilot.pause()

    return run_before


def test_dashboard(snap_compare: Any, snapshot_app: tuple[BatchtopApp, Workspace]) -> None:
    app, workspace = snapshot_app
    assert snap_compare(app, terminal_size=SIZE, run_before=select(workspace.running))


def test_demo_banner_and_ended_detail(
    snap_compare: Any, snapshot_app: tuple[BatchtopApp, Workspace]
) -> None:
    app, workspace = snapshot_app
    app.dashboard = type(app.dashboard)(
        app.service, now=app.now, refresh_interval_s=30.0, demo=True
    )
    assert snap_compare(app, terminal_size=SIZE, run_before=select(workspace.errors))


def test_jobs_view(snap_compare: Any, snapshot_app: tuple[BatchtopApp, Workspace]) -> None:
    app, _ = snapshot_app
    assert snap_compare(app, terminal_size=SIZE, press=["5"])


def test_filter(snap_compare: Any, snapshot_app: tuple[BatchtopApp, Workspace]) -> None:
    app, _ = snapshot_app
    assert snap_compare(app, terminal_size=SIZE, press=["slash", *"eval"])


def test_help(snap_compare: Any, snapshot_app: tuple[BatchtopApp, Workspace]) -> None:
    app, _ = snapshot_app
    assert snap_compare(app, terminal_size=SIZE, press=["question_mark"])


def test_confirm_cancel(snap_compare: Any, snapshot_app: tuple[BatchtopApp, Workspace]) -> None:
    app, workspace = snapshot_app

    async def run_before(pilot: Pilot[Any]) -> None:
        await select(workspace.running)(pilot)
        await pilot.press("c")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_label_dialog(snap_compare: Any, snapshot_app: tuple[BatchtopApp, Workspace]) -> None:
    app, workspace = snapshot_app

    async def run_before(pilot: Pilot[Any]) -> None:
        await select(workspace.done)(pilot)
        await pilot.press("l")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (250, 70)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_dashboard_at_size(
    snap_compare: Any, snapshot_app: tuple[BatchtopApp, Workspace], size: tuple[int, int]
) -> None:
    """The columns, title, detail panel and footer fitted to common terminal sizes."""
    app, workspace = snapshot_app
    assert snap_compare(app, terminal_size=size, run_before=select(workspace.running))
