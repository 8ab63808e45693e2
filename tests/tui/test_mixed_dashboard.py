"""One dashboard over both providers (Pilot on `batchtop --demo`): rows of both with a
provider column, the provider filter (`P` and `provider:` in the filter box), the results
of an OpenAI row, and a cancel that reaches the OpenAI emulator."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from batchtop.core.config import Settings
from batchtop.core.demo import Demo, open_demo
from batchtop.tui.app import BatchtopApp
from dashboard_support import until
from textual.pilot import Pilot

pytest.importorskip("openai")

SIZE = (160, 48)
SETTINGS = Settings(notify_bell=False, desktop_notify=False)


@pytest.fixture
async def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Demo]:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the demo's home
    made = await open_demo(SETTINGS)
    yield made
    await made.close()


async def started(pilot: Pilot[Any], app: BatchtopApp, demo: Demo) -> None:
    """The demo is up and its OpenAI batches are rows of the dashboard."""
    assert await until(pilot, lambda: demo.started, tries=3000)
    table = app.dashboard.table
    ids = set(demo.openai_batches.values())
    assert await until(pilot, lambda: ids <= set(table.keys), tries=500)


def providers_shown(app: BatchtopApp) -> set[str]:
    table = app.dashboard.table
    return {table.get_cell(key, "provider").plain for key in table.keys}


def select(app: BatchtopApp, batch_id: str) -> None:
    table = app.dashboard.table
    table.move_cursor(row=table.get_row_index(batch_id))


async def test_both_providers_and_the_provider_filter(demo: Demo) -> None:
    app = BatchtopApp(demo.fleet, demo.service.settings, now=demo.now, workspace=demo, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, demo)
        table = app.dashboard.table
        assert "provider" in table.shown_columns
        assert providers_shown(app) == {"Anthropic", "OpenAI"}
        openai_ids = set(demo.openai_batches.values())
        assert len(set(table.keys) - openai_ids) >= 10  # the Anthropic side is all there
        support = demo.openai_batches["support replies"]
        assert table.get_cell(support, "status").plain == "in progress"
        assert table.get_cell(demo.openai_batches["ticket tags"], "status").plain == "validating"

        await pilot.press("P")  # Anthropic only
        assert await until(pilot, lambda: providers_shown(app) == {"Anthropic"})
        await pilot.press("P")  # OpenAI only
        assert await until(pilot, lambda: set(table.keys) == openai_ids)
        assert "OpenAI only" in str(app.dashboard.query_one("#title-bar").content)
        await pilot.press("P")  # all again
        assert await until(pilot, lambda: providers_shown(app) == {"Anthropic", "OpenAI"})

        # the same in the filter box, with a word to find as well
        await pilot.press("slash", *"provider:openai faq")
        assert await until(pilot, lambda: table.keys == [demo.openai_batches["faq answers"]])
        await pilot.press("escape", "escape")
        assert await until(pilot, lambda: providers_shown(app) == {"Anthropic", "OpenAI"})
        where = app.dashboard.status.state.where
        assert "Anthropic" in where
        assert "OpenAI" in where


async def test_results_and_cancel_of_openai_rows(demo: Demo) -> None:
    from batchtop.tui.screens.results import ResultsScreen
    from openai import AsyncOpenAI

    app = BatchtopApp(demo.fleet, demo.service.settings, now=demo.now, workspace=demo, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, demo)
        faq = demo.openai_batches["faq answers"]  # completed: 80 requests, 3 failed
        select(app, faq)
        await pilot.press("enter")
        assert await until(pilot, lambda: isinstance(app.screen, ResultsScreen), tries=200)
        screen: Any = app.screen
        assert screen.service is demo.openai_service
        assert await until(pilot, lambda: screen.table.total == 80, tries=1000)
        rows = [screen.table.row_at(i) for i in range(80)]
        assert sum(1 for r in rows if r is not None and r.error_type) == 3
        await pilot.press("escape")
        assert await until(pilot, lambda: app.screen is app.dashboard)

        support = demo.openai_batches["support replies"]  # in progress
        table = app.dashboard.table
        select(app, support)
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("y")
        assert demo.openai_base_url is not None
        async with AsyncOpenAI(api_key="demo", base_url=demo.openai_base_url) as client:

            async def status() -> str:
                return (await client.batches.retrieve(support)).status

            assert await until(
                pilot,
                lambda: table.get_cell(support, "status").plain != "in progress",
            )
            assert await status() in ("cancelling", "cancelled")
        # the Anthropic side was not asked to cancel anything of the same id
        assert demo.service.batch(support) is None


async def test_the_provider_filter_shows_at_80_columns_and_new_batches_name_it(
    demo: Demo,
) -> None:
    """At 80×24 the Provider column is hidden: the title says which provider `P` left and
    how many rows, and compose and import name the provider a new batch goes to."""
    app = BatchtopApp(demo.fleet, demo.service.settings, now=demo.now, workspace=demo, poll=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app, demo)
        table = app.dashboard.table
        assert "provider" not in table.shown_columns
        openai_ids = set(demo.openai_batches.values())
        await pilot.press("P", "P")  # OpenAI only
        assert await until(pilot, lambda: set(table.keys) == openai_ids)
        title = str(app.dashboard.query_one("#title-bar").content)
        assert "OpenAI only" in title
        assert f"{len(openai_ids)} shown" in title

        await pilot.press("n")
        assert await until(
            pilot,
            lambda: bool(app.screen.query("#compose-title")),
        )
        assert "for OpenAI" in str(app.screen.query_one("#compose-title").content)
        await pilot.press("escape")
        assert await until(pilot, lambda: app.screen is app.dashboard)
        await pilot.press("i")
        assert await until(pilot, lambda: bool(app.screen.query("#import-title")))
        assert "for OpenAI" in str(app.screen.query_one("#import-title").content)


def detail_lines(app: BatchtopApp) -> tuple[list[str], int]:
    """The detail panel's left column as drawn at its width, and the lines it has room for."""
    from rich.console import Console
    from textual.widgets import Static

    head = app.dashboard.query_one("#detail-head", Static)
    width, height = head.content_region.width, head.content_region.height
    console = Console(width=width, legacy_windows=False, color_system=None)
    lines = console.render_lines(head.content, pad=False)  # type: ignore[arg-type]
    return ["".join(s.text for s in line).rstrip() for line in lines], height


async def test_the_80_column_detail_of_an_openai_batch_fits(demo: Demo) -> None:
    """At 80×24 the detail's left column has 9 lines: an OpenAI batch's (its provider and
    endpoint, a long id) used to push out the requests' counts and the whole cost line."""
    app = BatchtopApp(demo.fleet, demo.service.settings, now=demo.now, workspace=demo, poll=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app, demo)
        for name, batch_id in demo.openai_batches.items():
            select(app, batch_id)
            await pilot.pause()
            lines, room = detail_lines(app)
            assert room == 9
            assert len(lines) <= room, (name, lines)
            assert any(line.startswith("requests") for line in lines), name
            assert any(line.startswith("cost") for line in lines), name
