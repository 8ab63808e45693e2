"""Thousands of batches: the table holds at most MAX_ROWS, filter reaches the rest."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from batchtop.core.config import Settings
from batchtop.core.models import ProcessingStatus, RemoteBatch, RequestCounts
from batchtop.core.service import BatchService
from batchtop.core.store import Store
from batchtop.tui.app import BatchtopApp
from batchtop.tui.screens.rows import MAX_ROWS
from dashboard_support import until
from rich.console import Console

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
COUNT = MAX_ROWS + 500


def many_batches(count: int) -> list[RemoteBatch]:
    out = []
    for i in range(count):
        created = NOW - timedelta(minutes=i)
        active = i % 10 == 0
        out.append(
            RemoteBatch(
                id=f"msgbatch_01{i:022d}",
                processing_status=(
                    ProcessingStatus.IN_PROGRESS if active else ProcessingStatus.ENDED
                ),
                request_counts=RequestCounts(processing=10 if active else 0, succeeded=5),
                created_at=created,
                expires_at=created + timedelta(hours=24),
                ended_at=None if active else created + timedelta(minutes=5),
            )
        )
    return out


async def test_many_batches_are_capped_and_filterable(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "many.sqlite3")
    store.upsert_remote(many_batches(COUNT), NOW)
    store.set_label("msgbatch_01" + f"{2345:022d}", "needle in the haystack")
    settings = Settings(notify_bell=False)
    service = BatchService(
        store, settings, api_key="k", base_url="http://127.0.0.1:9", now=lambda: NOW
    )
    app = BatchtopApp(service, settings, poll=False, now=lambda: NOW)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            table = app.dashboard.table
            assert table.row_count == MAX_ROWS
            console = Console(width=200, file=io.StringIO(), record=True)
            console.print(app.screen.query_one("#title-bar").content)  # type: ignore[attr-defined]
            assert f"{MAX_ROWS:,} of {COUNT:,} shown" in console.export_text()
            # the labelled batch is older than the first MAX_ROWS: the filter finds it
            await pilot.press("slash", *"needle")
            assert await until(pilot, lambda: table.row_count == 1)
            await pilot.press("escape")
            assert await until(pilot, lambda: table.row_count == MAX_ROWS)
            await pilot.press("2")
            assert table.row_count == COUNT // 10
            await pilot.press("j", "j")
            assert table.cursor_row == 2
    finally:
        await service.close()
        store.close()
