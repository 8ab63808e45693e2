"""Snapshots of the results viewer, export dialog, import screen and compose screen.

Deterministic data: fixed ids and texts, a store written by the fixtures, relative paths,
no blinking cursors. Sync tests: `snap_compare` runs its own event loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from batchtop.tui.screens.compose import ComposeScreen
from batchtop.tui.screens.export import ExportScreen
from batchtop.tui.screens.importer import ImportScreen
from batchtop.tui.screens.results import ResultsScreen
from batchtop.tui.widgets.result_detail import ResultDetail
from screens_data import ScreenHost, add_ended_batch, offline_service, standard_lines, wait_for
from test_import_screen import write_bad
from textual.widgets import Input, TextArea

SIZE = (160, 48)
BATCH = "msgbatch_01SnapshotResultsViewer01"


def freeze_cursors(app: Any) -> None:
    """No blinking, and cursors shown, as Textual shows them when blinking is off. Turning
    blinking off leaves an Input in whatever phase the blink was in (shown or not), and a
    TextArea may reuse a line it cached in the blink's hidden phase (its cache key is the
    same once blinking is off): both made the compose snapshot flaky under load."""
    for widget in app.screen.query("Input, TextArea"):
        if isinstance(widget, Input | TextArea):
            widget.cursor_blink = False
        if isinstance(widget, Input):
            widget._cursor_visible = True
        if isinstance(widget, TextArea):
            widget._line_cache.clear()
            widget.refresh()


@pytest.fixture
def results_app(tmp_path: Path) -> ScreenHost:
    service = offline_service(tmp_path)
    add_ended_batch(service.store, BATCH, standard_lines(60), tmp_path)
    return ScreenHost(
        lambda: ResultsScreen(service, batch_ids=[BATCH], title=f"Batch {BATCH} · summaries")
    )


async def results_ready(pilot: Any) -> ResultsScreen:
    screen = pilot.app.screen
    assert isinstance(screen, ResultsScreen)
    await wait_for(pilot, lambda: screen.loaded)
    detail = screen.query_one(ResultDetail)
    await wait_for(pilot, lambda: detail.row is not None)
    await pilot.pause()
    return screen


def test_results_viewer(snap_compare: Any, results_app: ScreenHost) -> None:
    async def run_before(pilot: Any) -> None:
        await results_ready(pilot)
        await pilot.press("space", "space", "k")  # two rows selected, cursor on the second
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.query_one(ResultDetail).row.custom_id == "req-00002")
        await pilot.pause()

    assert snap_compare(results_app, run_before=run_before, terminal_size=SIZE)


def test_results_errored_raw_json(snap_compare: Any, results_app: ScreenHost) -> None:
    async def run_before(pilot: Any) -> None:
        screen = await results_ready(pilot)
        await pilot.press("3")
        await wait_for(pilot, lambda: screen.table.total == 12)
        await pilot.press("j", "t")
        detail = screen.query_one(ResultDetail)
        await wait_for(
            pilot, lambda: detail.row is not None and detail.row.custom_id == "req-00007"
        )
        await pilot.pause()

    assert snap_compare(results_app, run_before=run_before, terminal_size=SIZE)


def test_export_dialog(snap_compare: Any, results_app: ScreenHost) -> None:
    async def run_before(pilot: Any) -> None:
        await results_ready(pilot)
        await pilot.press("3", "e")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ExportScreen))
        await pilot.pause()
        await pilot.click("#export-format-csv")
        pilot.app.screen.query_one("#export-path", Input).value = "exports/errored-results.csv"
        freeze_cursors(pilot.app)
        await pilot.pause()

    assert snap_compare(results_app, run_before=run_before, terminal_size=SIZE)


def test_export_dialog_at_80x24(snap_compare: Any, results_app: ScreenHost) -> None:
    """The smallest supported terminal: the path field and the buttons stay on screen (the
    form scrolls above them); the field keeps the focus it was given."""

    async def run_before(pilot: Any) -> None:
        await results_ready(pilot)
        await pilot.press("3", "e")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ExportScreen))
        await pilot.pause()
        screen = pilot.app.screen
        path = screen.query_one("#export-path", Input)
        path.value = "exports/errored-results.csv"
        path.focus()
        freeze_cursors(pilot.app)
        await pilot.pause()
        width, height = pilot.app.size
        for selector in ("#export-path", "#export-run", "#export-cancel"):
            region = screen.query_one(selector).region
            assert region.area > 0, selector
            assert region.right <= width, (selector, region)
            assert region.bottom <= height, (selector, region)

    assert snap_compare(results_app, run_before=run_before, terminal_size=(80, 24))


def test_import_screen_with_report(
    snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_bad(tmp_path / "articles.jsonl")
    app = ScreenHost(lambda: ImportScreen(offline_service(tmp_path)))

    async def run_before(pilot: Any) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, ImportScreen)
        screen.query_one("#import-path", Input).value = "articles.jsonl"
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.report is not None and not screen.busy)
        freeze_cursors(pilot.app)
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_compose_screen(snap_compare: Any, tmp_path: Path) -> None:
    app = ScreenHost(lambda: ComposeScreen(offline_service(tmp_path)))

    async def run_before(pilot: Any) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, ComposeScreen)
        await pilot.pause()
        await pilot.press(*"Summarise: [b]markup stays literal[/b]")
        await pilot.press("ctrl+n")
        await pilot.pause()
        await pilot.press(*"Translate 'bonjour' to English")
        screen.query_one("#compose-max-tokens", Input).value = "256"
        screen.query_one("#compose-system", TextArea).text = "You are concise."
        await wait_for(
            pilot,
            lambda: len(screen.requests) == 2 and screen.requests[0]["params"]["max_tokens"] == 256,
        )
        await wait_for(pilot, lambda: screen.requests[0]["params"].get("system") is not None)
        freeze_cursors(pilot.app)
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (250, 70)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_results_viewer_at_size(
    snap_compare: Any, results_app: ScreenHost, size: tuple[int, int]
) -> None:
    """Narrow terminals hide the stop reason (then the tokens) so the output keeps room."""

    async def run_before(pilot: Any) -> None:
        await results_ready(pilot)

    assert snap_compare(results_app, run_before=run_before, terminal_size=size)
