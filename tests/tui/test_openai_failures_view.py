"""An OpenAI batch that failed validation in the dashboard (Pilot, the official `openai`
SDK against the OpenAI emulator): the detail panel says why, and view 4 (with errors)
lists it; delete (OpenAI has none) and cancel (it has ended) say so before asking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.service import BatchService
from batchtop.tui.app import BatchtopApp
from dashboard_support import OPENAI_SETTINGS as SETTINGS
from dashboard_support import until
from test_openai_dashboard import SIZE, detail_text
from textual.pilot import Pilot

pytest.importorskip("openai")


def two_model_batch(emulator: EmulatorHandle) -> str:
    from openai import OpenAI

    client = OpenAI(api_key="test-key", base_url=emulator.base_url, max_retries=0)
    lines = [
        {
            "custom_id": f"q-{n}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": model, "messages": [{"role": "user", "content": "Hi"}]},
        }
        for n, model in ((1, "gpt-4o-mini"), (2, "gpt-4o"))
    ]
    data = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    file = client.files.create(file=("in.jsonl", data), purpose="batch")
    batch = client.batches.create(
        input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    emulator.advance(3600)
    return batch.id


async def refresh_to(pilot: Pilot[Any], app: BatchtopApp, batch_id: str) -> None:
    """A refresh (r) lists the batch; the cursor goes to it."""
    await pilot.pause()
    await pilot.press("r")
    table = app.dashboard.table
    assert await until(pilot, lambda: batch_id in table.keys, tries=200)
    table.move_cursor(row=table.get_row_index(batch_id))


async def test_a_failed_batch_shows_why_and_is_with_errors(
    openai_emulator: EmulatorHandle, openai_service: BatchService
) -> None:
    batch_id = two_model_batch(openai_emulator)
    app = BatchtopApp(openai_service, SETTINGS, poll=False, now=openai_emulator.clock.now)
    async with app.run_test(size=SIZE) as pilot:
        await refresh_to(pilot, app, batch_id)
        assert await until(pilot, lambda: "mismatched_model" in detail_text(app))
        assert "line 2" in detail_text(app)
        assert openai_service.progress(batch_id)[0] == 0.0  # nothing ran: not "by count 100%"
        await pilot.press("4")
        await pilot.pause()
        assert await until(pilot, lambda: list(app.dashboard.table.keys) == [batch_id])


async def test_delete_and_cancel_that_do_not_apply_say_so_before_asking(
    openai_emulator: EmulatorHandle, openai_service: BatchService
) -> None:
    from batchtop.tui.screens.confirm import ConfirmScreen

    batch_id = two_model_batch(openai_emulator)
    app = BatchtopApp(openai_service, SETTINGS, poll=False, now=openai_emulator.clock.now)

    def said() -> list[str]:
        return [str(n.message) for n in app._notifications]

    async with app.run_test(size=SIZE) as pilot:
        await refresh_to(pilot, app, batch_id)
        await pilot.pause()
        await pilot.press("D")
        assert await until(pilot, lambda: any("cannot be deleted" in m for m in said()))
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("c")
        assert await until(pilot, lambda: any("nothing to cancel" in m for m in said()))
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("R")  # retry: why there is nothing to resend
        assert await until(pilot, lambda: any("failed as a whole" in m for m in said()))


def test_a_result_without_a_stop_reason_shows_a_dash() -> None:
    """An embedding does not stop: the viewer's line and table say — (not end_turn); a
    provider's own stop reason is shown as it came."""
    from batchtop.core.models import ResultRow, ResultType
    from batchtop.tui.widgets.result_detail import meta_text
    from batchtop.tui.widgets.results_table import _stop

    embedding = ResultRow("batch_1", "w-1", ResultType.SUCCEEDED, None, model="text-embedding-3")
    assert "stop: —" in meta_text(embedding).plain
    assert _stop(embedding) == "—"
    chat = ResultRow("batch_1", "q-1", ResultType.SUCCEEDED, "length")
    assert "stop: length" in meta_text(chat).plain
    errored = ResultRow("batch_1", "q-2", ResultType.ERRORED)
    assert "stop:" not in meta_text(errored).plain
    assert _stop(errored) == ""


async def test_a_failed_batch_exports_nothing_and_its_statistics_say_why(
    openai_emulator: EmulatorHandle, openai_service: BatchService, tmp_path: Path
) -> None:
    """A batch OpenAI failed as a whole never has results: the export is refused as the
    command line's `results` refuses it (no empty file, no "Export finished"), and the
    statistics say it failed rather than "no results downloaded yet"."""
    from batchtop.tui.screens.export import ExportScreen
    from batchtop.tui.screens.statistics import StatisticsScreen
    from textual.widgets import Input, Static

    batch_id = two_model_batch(openai_emulator)
    app = BatchtopApp(openai_service, SETTINGS, poll=False, now=openai_emulator.clock.now)
    out = tmp_path / "out.jsonl"
    async with app.run_test(size=SIZE) as pilot:
        await refresh_to(pilot, app, batch_id)
        await pilot.pause()
        await pilot.press("e")
        assert await until(pilot, lambda: isinstance(app.screen, ExportScreen))
        screen = app.screen
        screen.query_one("#export-path", Input).value = str(out)
        screen.run_export()

        def error() -> str:
            return str(screen.query_one("#export-error", Static).content)

        assert await until(pilot, lambda: "failed and has no results" in error())
        assert "mismatched_model" in error()
        assert not out.exists()
        assert not [n for n in app._notifications if n.title == "Export finished"]
        await pilot.press("escape")
        assert await until(pilot, lambda: app.screen is app.dashboard)
        await pilot.press("v")
        assert await until(
            pilot, lambda: isinstance(app.screen, StatisticsScreen) and app.screen.loaded
        )
        summary = str(app.screen.query_one("#stats-summary", Static).content)
        assert "no results: the batch failed" in summary
        assert "downloaded yet" not in summary
