"""Issue 14.17: an empty workspace says how to start (n, i, the command line)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from batchtop.core.emulator import EmulatorHandle
from batchtop.tui.app import BatchtopApp
from dashboard_support import SETTINGS, AppFactory, Workspace, close_service, make_service


def screen_text(app: Any) -> str:
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


async def test_an_empty_workspace_says_how_to_start(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "No batches in this workspace yet" in text
        assert " n  compose a batch by hand" in text
        assert " i  import a JSONL or CSV file" in text
        assert " $  batchtop submit requests.jsonl from a shell" in text


async def test_a_filter_that_hides_everything_says_so(
    make_app: AppFactory, workspace: Workspace
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "No batches in this workspace" not in screen_text(app)
        await pilot.press("slash", *"no such batch")
        await pilot.pause()
        assert "No batch matches the filter (esc clears it)." in screen_text(app)


def test_empty_workspace_snapshot(
    snap_compare: Any, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = make_service(tmp_path / "empty.sqlite3", emulator)
    app = BatchtopApp(service, SETTINGS, poll=False, now=emulator.clock.now)
    try:
        assert snap_compare(app, terminal_size=(80, 24))
    finally:
        asyncio.run(close_service(service))
