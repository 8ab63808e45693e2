"""The README's 1,000-article flow with OpenAI in the TUI (Pilot), through the official
`openai` SDK against the OpenAI emulator: the articles file `core/demo.write_articles`
writes → import screen (template, model, max tokens) → analyse → submit → the dashboard
follows the batch to its end → results viewer (1,000 rows, a search) → export to CSV."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from batchtop.core.demo import article, write_articles
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.service import BatchService
from batchtop.tui.app import BatchtopApp
from dashboard_support import OPENAI_SETTINGS as SETTINGS
from dashboard_support import until
from textual.widgets import Input, TextArea

pytest.importorskip("openai")

N = 1000


async def test_thousand_articles_journey_with_openai(
    openai_emulator: EmulatorHandle, openai_service: BatchService, tmp_path: Path
) -> None:
    from batchtop.tui.screens.confirm import ConfirmScreen
    from batchtop.tui.screens.export import ExportScreen
    from batchtop.tui.screens.importer import ImportScreen
    from batchtop.tui.screens.results import ResultsScreen

    articles = write_articles(tmp_path / "articles.json", N)
    app = BatchtopApp(openai_service, SETTINGS, poll=False, now=openai_emulator.clock.now)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        dashboard = app.screen
        await pilot.press("i")
        assert await until(pilot, lambda: isinstance(app.screen, ImportScreen))
        form: Any = app.screen
        form.query_one("#import-path", Input).value = str(articles)
        form.query_one("#import-template", TextArea).text = "Summarise: {content}"
        form.query_one("#import-model", Input).value = "gpt-4o-mini"
        form.query_one("#import-max-tokens", Input).value = "200"
        await pilot.pause()
        await pilot.press("ctrl+r")
        assert await until(pilot, lambda: form.report is not None and not form.busy, 300)
        report = form.report
        assert report.ok, report.issues
        assert report.request_count == N
        assert len(report.parts) == 1
        assert "Summarise: " + article(0)["content"] in str(report.preview[0])
        await pilot.press("ctrl+s")
        assert await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 300)
        await pilot.press("y")
        assert await until(pilot, lambda: app.screen is dashboard, 400)
        (job,) = openai_service.jobs()
        (batch_id,) = job.batch_ids
        table = app.dashboard.table
        assert await until(pilot, lambda: batch_id in table.keys, 200)
        # the emulator answers 100 requests per emulated second: an hour ends the batch
        openai_emulator.advance(3600)
        await pilot.press("r")

        def status() -> str:
            return str(table.get_cell(batch_id, "status").plain)

        assert await until(pilot, lambda: status() == "ended", 400)
        table.move_cursor(row=table.get_row_index(batch_id))
        await pilot.pause()
        await pilot.press("enter")
        assert await until(pilot, lambda: isinstance(app.screen, ResultsScreen), 200)
        results: Any = app.screen
        assert await until(pilot, lambda: results.table.total == N, 600)
        view = openai_service.batch(batch_id)
        assert view is not None
        assert view.results_indexed == N
        assert view.remote.request_counts.succeeded == N
        assert results.table.row_at(0).custom_id.startswith("article-")
        # a search over the inputs finds the one article that says "piece (123)"
        await pilot.press("slash")
        await pilot.press(*"piece (123)", "enter")
        assert await until(pilot, lambda: results.table.total == 1, 400)
        assert results.table.row_at(0).custom_id == "article-0123"
        await pilot.press("escape")
        assert await until(pilot, lambda: results.table.total == N, 400)
        await pilot.press("e")
        assert await until(pilot, lambda: isinstance(app.screen, ExportScreen), 200)
        export: Any = app.screen
        out = tmp_path / "summaries.csv"
        export.query_one("#export-path", Input).value = str(out)
        await pilot.press("ctrl+s")
        assert await until(pilot, lambda: app.screen is results, 600)
        assert export.result.rows == N
        with out.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == N
        assert {r["custom_id"] for r in rows} == {f"article-{i:04d}" for i in range(N)}
        assert all(r["output"] for r in rows)
