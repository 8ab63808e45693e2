"""OpenAI batches in the dashboard and results viewer (Pilot), through the official `openai`
SDK against the OpenAI emulator: status words, counters, cancel, results rows."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import ImportOptions
from batchtop.core.service import BatchService
from batchtop.tui.app import BatchtopApp
from dashboard_support import OPENAI_SETTINGS as SETTINGS
from dashboard_support import until
from textual.widgets import Static

pytest.importorskip("openai")
# Runs once the OpenAI emulator (core/emulator/openai_api, the openai_emulator fixture) is in.
pytest.importorskip("batchtop.core.emulator.openai_api")

SIZE = (160, 48)


def articles(path: Path, n: int) -> Path:
    lines = [
        {
            "custom_id": f"art-{i:04d}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": f"Summarise article {i}"}],
            },
        }
        for i in range(n)
    ]
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def detail_text(app: BatchtopApp) -> str:
    """The detail panel's head as plain text."""
    from rich.console import Console

    console = Console(width=150, record=True, file=io.StringIO())
    console.print(app.screen.query_one("#detail-head", Static).content)
    return console.export_text()


def status_cell(app: BatchtopApp, key: str) -> str:
    return app.dashboard.table.get_cell(key, "status").plain


async def test_openai_batch_in_dashboard_and_results(
    openai_emulator: EmulatorHandle, openai_service: BatchService, tmp_path: Path
) -> None:
    from batchtop.tui.screens.results import ResultsScreen

    report = await openai_service.analyse(articles(tmp_path / "in.jsonl", 12), ImportOptions())
    (batch_id,) = (await openai_service.submit(report)).batch_ids
    app = BatchtopApp(openai_service, SETTINGS, poll=False, now=openai_emulator.clock.now)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.dashboard.table
        assert await until(pilot, lambda: batch_id in table.keys)
        assert status_cell(app, batch_id) == "validating"
        table.move_cursor(row=table.get_row_index(batch_id))
        assert await until(pilot, lambda: "openai /v1/chat/completions" in detail_text(app))
        openai_emulator.advance(3600)
        await pilot.press("r")
        assert await until(pilot, lambda: status_cell(app, batch_id) == "ended", tries=200)
        table.move_cursor(row=table.get_row_index(batch_id))
        await pilot.pause()
        await pilot.press("enter")
        assert await until(pilot, lambda: isinstance(app.screen, ResultsScreen), tries=200)
        screen: Any = app.screen
        assert screen.batch_ids == [batch_id]
        # Results are downloaded when the viewer opens them: 12 rows, each with its text.
        assert await until(pilot, lambda: screen.table.total == 12, tries=300)
        rows = [screen.table.row_at(i) for i in range(12)]
        assert sorted(r.custom_id for r in rows) == [f"art-{i:04d}" for i in range(12)]
        assert all(r.text for r in rows)
