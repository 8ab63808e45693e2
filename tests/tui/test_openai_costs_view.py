"""What the dashboard shows of an OpenAI batch's cost (Pilot, real services on the emulators):
the Cost column and the detail panel as for an Anthropic batch, the price source of the
batch's own provider, and the retry dialog naming the endpoint's budget field."""

from __future__ import annotations

import io
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from batchtop.core import pricing
from batchtop.core.demo import Demo, open_demo
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.service import BatchService
from batchtop.tui.app import BatchtopApp
from batchtop.tui.screens.retry import RetryScreen
from dashboard_support import OPENAI_SETTINGS as SETTINGS
from dashboard_support import until
from rich.console import Console
from textual.widgets import Checkbox, Static

pytest.importorskip("openai")
pytest.importorskip("batchtop.core.emulator.openai_api")

SIZE = (160, 48)


def plain(widget: Any) -> str:
    console = Console(width=150, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def cost_panel(app: BatchtopApp) -> str:
    return plain(app.screen.query_one("#detail-cost", Static))


def select(app: BatchtopApp, batch_id: str) -> None:
    table = app.dashboard.table
    table.move_cursor(row=table.get_row_index(batch_id))


@pytest.fixture
async def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Demo]:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the demo's home
    made = await open_demo(SETTINGS)
    yield made
    await made.close()


async def test_openai_rows_show_their_cost_and_openais_price_source(demo: Demo) -> None:
    app = BatchtopApp(demo.fleet, demo.service.settings, now=demo.now, workspace=demo, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        assert await until(pilot, lambda: demo.started, tries=3000)
        table = app.dashboard.table
        ids = set(demo.openai_batches.values())
        assert await until(pilot, lambda: ids <= set(table.keys), tries=500)
        faq = demo.openai_batches["faq answers"]  # ended, 77 of 80 succeeded
        # ended: what its usage was billed ($, or <$0.01 on today's cheapest model), not "—"
        # nor an estimate (~)
        assert table.get_cell(faq, "cost").plain.removeprefix("<").startswith("$")
        select(app, faq)
        openai_source = pricing.price_source("openai")
        assert await until(pilot, lambda: openai_source in cost_panel(app))
        text = cost_panel(app)
        assert "OpenAI pricing page" in text
        assert "Anthropic" not in text
        assert "created elsewhere" not in text  # the demo submitted it through batchtop
        # the other tool's upload: failed validation, nothing billed, inputs unknown
        broken = demo.openai_batches["broken upload"]
        assert table.get_cell(broken, "cost").plain == "$0.00"
        select(app, broken)
        assert await until(pilot, lambda: "created elsewhere" in cost_panel(app))
        # an Anthropic row names Anthropic's prices
        anthropic = next(k for k in table.keys if k.startswith("msgbatch_"))
        select(app, anthropic)
        assert await until(pilot, lambda: "Anthropic pricing page" in cost_panel(app))


async def test_retry_dialog_names_the_endpoints_budget_field(
    openai_emulator: EmulatorHandle, openai_service: BatchService
) -> None:
    """A chat completions batch with a cut (finish_reason length): the dialog offers the
    cut with a new max_completion_tokens, the field the resend raises."""
    service = openai_service
    service.auto_download = False
    question = [{"role": "user", "content": "Tell me about the sea and its tides"}]
    requests = [
        {
            "custom_id": "cut",
            "params": {"model": "gpt-4o-mini", "messages": question, "max_completion_tokens": 3},
        },
        {
            "custom_id": "ok",
            "params": {"model": "gpt-4o-mini", "messages": question, "max_completion_tokens": 500},
        },
    ]
    (batch_id,) = (await service.submit_requests(requests, name="cuts")).batch_ids
    openai_emulator.advance(3600)
    await service.refresh()
    app = BatchtopApp(service, SETTINGS, poll=False, now=openai_emulator.clock.now)
    async with app.run_test(size=SIZE) as pilot:
        table = app.dashboard.table
        assert await until(pilot, lambda: batch_id in table.keys)
        select(app, batch_id)
        await pilot.pause()
        await pilot.press("R")
        assert await until(pilot, lambda: isinstance(app.screen, RetryScreen), tries=400)
        box = str(app.screen.query_one("#retry-cuts", Checkbox).label)
        assert "1 max_completion_tokens cut (m)" in box
        assert "max_tokens" not in box.replace("max_completion_tokens", "")
        budget = plain(app.screen.query_one("#retry-budget-label"))  # the new budget's line
        assert budget.strip() == "with max_completion_tokens"
        await pilot.press("m")
        question_text = lambda: plain(app.screen.query_one("#retry-question"))  # noqa: E731
        assert await until(pilot, lambda: "Type the new max_completion_tokens" in question_text())
        await pilot.press("4", "0", "0")
        expected = "1 max_completion_tokens cut with max_completion_tokens 400"
        assert await until(pilot, lambda: expected in question_text())
        await pilot.press("escape")
