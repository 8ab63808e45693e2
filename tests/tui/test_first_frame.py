"""What runs before the dashboard's first frame (issue 14.6): nothing drawn twice, nothing
made or imported that the frame does not show."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from batchtop.core.models import ProcessingStatus, RequestCounts
from batchtop.core.store import Store
from batchtop.tui.app import BatchtopApp
from batchtop.tui.widgets.batch_detail import BatchDetail
from dashboard_support import Workspace, until
from data_factory import remote
from textual.screen import Screen

SIZE = (160, 48)


async def test_the_dashboard_is_not_drawn_inside_the_start_up_batch(
    make_app: Callable[..., BatchtopApp], workspace: Workspace
) -> None:
    """Textual shows nothing while the app starts (one batch update). The dashboard is the
    bottom of the stack, composed while the app starts, so its first drawing is the first
    frame; pushed from `on_mount` it was laid out and drawn once inside that batch (a frame
    thrown away) and drawn again after it."""
    app = make_app()
    frames: list[tuple[Screen[Any], bool]] = []  # (screen, drawn while updates are held)
    original = app._display

    def display(screen: Screen[Any], renderable: Any) -> None:
        if renderable is not None:
            frames.append((screen, bool(app._batch_count)))
        original(screen, renderable)

    app._display = display  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        assert await until(pilot, lambda: any(s is app.dashboard for s, _ in frames))
        first = next(held for screen, held in frames if screen is app.dashboard)
        assert not first
        assert app.screen_stack == [app.dashboard]
        assert not app.dashboard.query("#filter")  # the filter box is made when `/` opens it


# Modules the first frame of an Anthropic dashboard does without; each loads when first used.
NOT_BEFORE_FIRST_FRAME = (
    "anthropic",  # the SDK: a thread imports it after the first refresh starts (~3 s)
    "openai",  # only an OpenAI dashboard or import needs it
    "aiohttp",  # the emulator's server
    "batchtop.core.emulator",
    "batchtop.core.notices",  # what to say when batches end
    "batchtop.core.stats",  # the statistics view's numbers
    "batchtop.core.submit",  # the journaled submitter
    "batchtop.core.results.download",  # the results' download, ingest and export pages
    "batchtop.core.results.ingest",
    "batchtop.core.results.export_pages",
    "batchtop.core.result_blocks",
    "batchtop.tui.screens.help",  # every screen and dialog is imported when first opened
    "batchtop.tui.screens.confirm",
    "batchtop.tui.screens.label",
    "batchtop.tui.screens.retry",
    "batchtop.tui.screens.results",
    "batchtop.tui.screens.statistics",
    "importlib.resources",  # the price table is read beside its module
)

FIRST_FRAME = """
import asyncio, os, sys
from pathlib import Path

from batchtop.core.config import Settings
from batchtop.core.service import BatchService
from batchtop.tui.app import BatchtopApp
from batchtop.tui.widgets.batch_detail import BatchDetail


async def main():
    settings = Settings(notify_bell=False)
    service = await BatchService.open(
        Path(sys.argv[1]), settings, api_key="test-key", base_url="http://127.0.0.1:9"
    )
    app = BatchtopApp(service, settings)
    display = app._display

    def first_frame(screen, renderable):
        display(screen, renderable)
        if screen is app.dashboard and renderable is not None and not app._batch_count:
            loaded = [m for m in sys.argv[2].split(",") if m in sys.modules]
            print(len(app.dashboard.table.keys), ",".join(loaded), sep="|", flush=True)
            os._exit(0)

    app._display = first_frame
    await app.run_async(headless=True, size=(160, 48))


asyncio.run(main())
"""


def test_the_first_frame_imports_no_sdk_and_no_screen_it_does_not_show(tmp_path: Path) -> None:
    """`batchtop`'s first frame pays for what it draws: the SDKs (openai installed or
    not), the emulator, the dialogs and screens not open yet, the end-of-batch notices load
    after it, when used. A fresh interpreter runs the dashboard headless to that frame."""
    now = datetime.now(UTC)
    store = Store.open(tmp_path / "store.sqlite3")
    active, ended = ProcessingStatus.IN_PROGRESS, ProcessingStatus.ENDED
    store.upsert_remote(
        [
            remote(
                f"msgbatch_{i:024d}",
                created=now - timedelta(minutes=i),
                status=active if i % 2 else ended,
                counts=RequestCounts(processing=1) if i % 2 else None,
            )
            for i in range(40)
        ],
        now,
    )
    store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_"))}
    env["BATCHTOP_HOME"] = str(tmp_path / "home")
    watched = ",".join(NOT_BEFORE_FIRST_FRAME)
    out = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME, str(tmp_path / "store.sqlite3"), watched],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    rows, loaded = out.stdout.strip().split("|")
    assert rows == "40"  # the frame shows the store's batches
    assert loaded == ""


async def test_the_first_frame_is_laid_out_for_the_terminal_size(
    make_app: Callable[..., BatchtopApp], workspace: Workspace
) -> None:
    """At 80×24 the first frame already has the 80-column table: before, the table drew every
    column at its narrowest (cut off at the right, with a sideways scrollbar) until its resize
    event laid it out a frame later. The detail panel too: its narrow layout (no right
    column) is chosen before that frame, not by the resize event after it."""
    from textual._compositor import LayoutUpdate

    app = make_app()
    first: list[list[str]] = []
    narrow: list[bool] = []
    original = app._display

    def display(screen: Screen[Any], renderable: Any) -> None:
        if not first and screen is app.dashboard and isinstance(renderable, LayoutUpdate):
            lines = renderable.strips
            first.append(["".join(s.text for strip in line for s in strip) for line in lines])
            narrow.append(screen.query_one(BatchDetail).has_class("-narrow"))
        original(screen, renderable)

    app._display = display  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        assert await until(pilot, lambda: bool(first))
        table = app.dashboard.table
        await pilot.pause()
        settled = table.shown_columns
        header = "".join(s.text for s in table.render_line(0))
        lines = first[0]
        top = table.region.y
        assert lines[top].rstrip() == header.rstrip()
        assert "Err" in header
        assert "Cost" in header
        assert settled[0] == "label"
        bottom = table.region.bottom - 1
        assert "▋" not in lines[bottom]
        assert "▁" not in lines[bottom]
        assert narrow == [True]
