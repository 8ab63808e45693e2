"""Thousands of batches: every one reachable by scrolling, only the rows on screen built."""

from __future__ import annotations

import dataclasses
import gc
import io
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from batchtop.core.config import Settings
from batchtop.core.models import (
    BatchChanged,
    BatchView,
    ProcessingStatus,
    RemoteBatch,
    RequestCounts,
)
from batchtop.core.service import BatchService
from batchtop.core.store import Store
from batchtop.tui.app import BatchtopApp
from batchtop.tui.format import short_id
from dashboard_support import until
from rich.console import Console

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
COUNT = 2500  # more than the 2,000 rows the DataTable-based table used to hold
SIZE = (160, 48)
NEEDLE = f"msgbatch_01{2345:022d}"  # labelled, and older than the first 2,000 batches
SHORT_ID = re.compile(r"\d{8}…\d{3}")  # how the ID column shows these ids


def batch_id(i: int) -> str:
    return f"msgbatch_01{i:022d}"


def many_batches(count: int) -> list[RemoteBatch]:
    out = []
    for i in range(count):
        created = NOW - timedelta(minutes=i)
        active = i % 10 == 0
        out.append(
            RemoteBatch(
                id=batch_id(i),
                processing_status=(
                    ProcessingStatus.IN_PROGRESS if active else ProcessingStatus.ENDED
                ),
                request_counts=RequestCounts(processing=10 if active else 0, succeeded=5 + i % 7),
                created_at=created,
                expires_at=created + timedelta(hours=24),
                ended_at=None if active else created + timedelta(minutes=5),
            )
        )
    return out


class Clock:
    """The app's clock: tests move it by hand."""

    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
async def many(tmp_path: Path) -> AsyncIterator[BatchtopApp]:
    store = Store.open(tmp_path / "many.sqlite3")
    store.upsert_remote(many_batches(COUNT), NOW)
    store.set_label(NEEDLE, "needle in the haystack")
    settings = Settings(notify_bell=False)
    clock = Clock()
    service = BatchService(store, settings, api_key="k", base_url="http://127.0.0.1:9", now=clock)
    try:
        yield BatchtopApp(service, settings, poll=False, now=clock)
    finally:
        await service.close()
        store.close()


def count_built(app: BatchtopApp) -> set[str]:
    """Record the batches whose cells the dashboard builds from now on."""
    builder = app.dashboard._builder
    built: set[str] = set()
    original: Callable[..., Any] = builder.batch_cells

    def spy(b: BatchView, *args: Any, **kw: Any) -> Any:
        built.add(b.id)
        return original(b, *args, **kw)

    builder.batch_cells = spy  # type: ignore[method-assign]
    return built


def screen_text(app: BatchtopApp) -> str:
    console = Console(width=SIZE[0], file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True))  # type: ignore[arg-type]
    return console.export_text()


def painted(app: BatchtopApp) -> list[str]:
    """The lines of the screen as painted (Textual's line caches included)."""
    update = app.screen._compositor.render_update(full=True)
    return ["".join(seg.text for strip in line for seg in strip) for line in update.strips]  # type: ignore[attr-defined]


def highlighted(app: BatchtopApp) -> list[str]:
    """The short ids on the lines the screen paints with the cursor's background."""
    table = app.dashboard.table
    cursor = table.get_component_rich_style("batches-table--cursor").bgcolor
    update = app.screen._compositor.render_update(full=True)
    out = []
    for line in update.strips:  # type: ignore[attr-defined]
        segments = [seg for strip in line for seg in strip]
        ids = SHORT_ID.findall("".join(seg.text for seg in segments))
        if ids and any(seg.style and seg.style.bgcolor == cursor for seg in segments):
            out.extend(ids)
    return out


def title(app: BatchtopApp) -> str:
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(app.screen.query_one("#title-bar").content)  # type: ignore[attr-defined]
    return console.export_text()


async def test_every_batch_is_reachable(many: BatchtopApp) -> None:
    app = many
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.dashboard.table
        assert table.row_count == COUNT
        assert f"{COUNT:,} shown" in title(app)
        assert table.selected_key == batch_id(0)  # newest first
        await pilot.press("G")
        assert table.selected_key == batch_id(COUNT - 1)  # the oldest batch
        await pilot.pause()
        assert short_id(batch_id(COUNT - 1), "anthropic") in screen_text(app)
        await pilot.press("k", "pageup")
        assert table.cursor_row == COUNT - 2 - (table.scrollable_content_region.height - 1)
        await pilot.press("g")
        assert table.selected_key == batch_id(0)


async def test_the_first_frame_shows_what_reading_every_batch_shows(many: BatchtopApp) -> None:
    app = many
    app.service.store.mark_deleted(batch_id(3))  # counted by neither
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        dashboard = app.dashboard
        assert len(dashboard._batches) == COUNT - 1  # all were read after the first frame
        everything = painted(app)
        assert f"{COUNT - 1:,} batches · {COUNT // 10} active" in title(app)
        dashboard._show_newest()  # what the first frame is drawn from
        await pilot.pause()
        assert len(dashboard._batches) == SIZE[1] < COUNT  # as many as the screen has lines
        assert painted(app) == everything


async def test_the_gc_is_back_on_once_every_batch_is_read(many: BatchtopApp) -> None:
    """`batchtop` starts with the cyclic GC off (cli.cmd_tui); the dashboard turns it back
    on after reading every batch, with what exists frozen out of its passes."""
    app = many
    gc.disable()
    try:
        async with app.run_test(size=SIZE) as pilot:
            assert await until(pilot, lambda: len(app.dashboard._batches) == COUNT)
            assert await until(pilot, gc.isenabled)
            assert gc.get_freeze_count() > 0
    finally:
        gc.enable()


async def test_the_cursor_line_is_painted_where_the_cursor_is(many: BatchtopApp) -> None:
    app = many
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.dashboard.table
        for keys in (("pagedown", "pagedown"), ("j",), ("j", "j"), ("pageup",), ("k",)):
            await pilot.press(*keys)
            await pilot.pause()
            assert table.scroll_offset.y > 0
            assert highlighted(app) == [short_id(table.selected_key or "", "anthropic")], keys


async def test_the_clock_repaints_the_times_on_screen(many: BatchtopApp) -> None:
    app = many
    clock = app.now
    assert isinstance(clock, Clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("G")  # created 2,499 minutes before NOW: 1d17h old
        await pilot.pause()
        short = short_id(batch_id(COUNT - 1), "anthropic")
        assert any(short in line and " 1d17h " in line for line in painted(app))
        clock.at += timedelta(hours=2)
        # the once-a-second tick repaints the rows on screen whose times changed
        assert await until(
            pilot, lambda: any(short in line and " 1d19h " in line for line in painted(app))
        )


async def test_only_rows_on_screen_are_built(many: BatchtopApp) -> None:
    app = many
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.dashboard.table
        height = table.scrollable_content_region.height
        built = count_built(app)
        table.refresh_rows()
        await pilot.pause()
        assert 0 < len(built) <= height  # the header takes a line
        built.clear()
        await pilot.press("G")
        await pilot.pause()
        assert batch_id(COUNT - 1) in built
        assert len(built) <= height
        assert not built & {batch_id(i) for i in range(COUNT - 2 * height)}


async def test_filter_and_views_keep_the_cursor_on_its_batch(many: BatchtopApp) -> None:
    app = many
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.dashboard.table
        await pilot.press("slash", *"needle")
        assert await until(pilot, lambda: table.row_count == 1)
        assert table.selected_key == NEEDLE
        await pilot.press("enter", "escape")
        assert await until(pilot, lambda: table.row_count == COUNT)
        assert table.selected_key == NEEDLE  # the cursor followed its batch back
        assert table.cursor_row == 2345
        await pilot.press("2")  # active: every 10th batch; the needle is not one
        assert table.row_count == COUNT // 10
        assert table.cursor_row == COUNT // 10 - 1  # its row, kept within the shorter list
        await pilot.press("g", "j", "j")
        assert table.cursor_row == 2
        assert table.selected_key == batch_id(20)
        await pilot.press("1")
        assert table.selected_key == batch_id(20)
        assert table.cursor_row == 20


async def test_sort_orders_every_row_and_keeps_the_cursor(many: BatchtopApp) -> None:
    app = many
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        dashboard = app.dashboard
        table = dashboard.table
        await pilot.press(*["j"] * 5)
        selected = table.selected_key
        while dashboard.sort_by != "total":
            await pilot.press("s")
        assert table.header_label("total") == "Total ▼"
        batches = app.service.batches()
        by_total = sorted(batches, key=lambda b: (b.remote.request_counts.total, b.id))
        assert table.keys == [b.id for b in reversed(by_total)]
        assert table.selected_key == selected
        await pilot.press("S")
        assert table.keys == [b.id for b in by_total]
        assert table.header_label("total") == "Total ▲"
        assert table.selected_key == selected


async def test_an_update_that_moves_the_batch_keeps_the_cursor_on_it(
    many: BatchtopApp,
) -> None:
    app = many
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        dashboard = app.dashboard
        table = dashboard.table
        while dashboard.sort_by != "total":
            await pilot.press("s")
        await pilot.press("G")  # the smallest batch
        moved = dashboard._batches[table.selected_key or ""]
        counts = dataclasses.replace(moved.remote.request_counts, succeeded=1_000_000)
        bigger = dataclasses.replace(
            moved, remote=dataclasses.replace(moved.remote, request_counts=counts)
        )
        dashboard.apply_event(BatchChanged(bigger))
        assert await until(pilot, lambda: table.keys[0] == moved.id)
        assert table.selected_key == moved.id
        assert table.cursor_row == 0
        assert table.get_cell(moved.id, "succeeded").plain == "1,000,000"


async def test_click_highlights_then_opens(many: BatchtopApp) -> None:
    from batchtop.tui.screens.results import ResultsScreen

    app = many
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.dashboard.table
        await pilot.click("#batches", offset=(5, 3))  # line 0 is the header
        assert table.selected_key == batch_id(2)
        assert not isinstance(app.screen, ResultsScreen)
        await pilot.click("#batches", offset=(5, 3))
        assert await until(pilot, lambda: isinstance(app.screen, ResultsScreen))
        assert app.screen.batch_ids == [batch_id(2)]  # type: ignore[attr-defined]


async def test_wheel_scrolls_without_moving_the_cursor(many: BatchtopApp) -> None:
    from textual import events

    app = many
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.dashboard.table
        for _ in range(5):
            table.post_message(events.MouseScrollDown(table, 5, 5, 0, 1, 0, False, False, False))
        assert await until(pilot, lambda: table.scroll_offset.y > 0)
        assert table.selected_key == batch_id(0)
        top = round(table.scroll_offset.y)
        await pilot.pause()
        assert short_id(batch_id(top), "anthropic") in screen_text(app)
