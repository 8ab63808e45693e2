"""Issue 14.18: words and numbers read the same everywhere (the TUI and the CLI)."""

from __future__ import annotations

import io
import re
import tokenize
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import CountSnapshot, RequestCounts
from batchtop.core.service import BatchService
from batchtop.tui.format import money, size
from batchtop.tui.screens.compose import ComposeScreen
from batchtop.tui.widgets.batch_detail import BatchDetail, DetailInfo
from dashboard_support import AppFactory, Workspace, until
from data_factory import request
from rich.console import Console
from screens.screens_data import ScreenHost, offline_service
from textual.app import App, ComposeResult
from textual.widgets import Sparkline, Static

TUI = Path(__file__).parents[2] / "tui"
SIZE = (160, 48)


def plain(widget: Any, width: int = 150) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def test_no_plural_hacks_anywhere_in_the_front_ends() -> None:
    """`1 request(s)`, `1 batch(es)`: counts go through words.quantity instead. Only the
    string literals of tui/ are read (`ResultType(s)` in code is a call)."""
    hack = re.compile(r"[a-z]\((?:s|es)\)")
    found = []
    for path in sorted(TUI.rglob("*.py")):
        with path.open("rb") as fh:
            for token in tokenize.tokenize(fh.readline):
                if token.type == tokenize.STRING and hack.search(token.string):
                    found.append(f"{path.relative_to(TUI)}:{token.start[0]}: {token.string}")
    assert found == []


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 B"), (512, "512 B"), (33_997, "33.2 KB"), (5 * 1024**2, "5.0 MB")],
)
def test_one_size_formatter(n: int, text: str) -> None:
    assert size(n) == text


def test_the_cli_report_uses_the_same_sizes(tmp_path: Path) -> None:
    from batchtop.core.importer import analyse
    from batchtop.core.models import ImportOptions
    from batchtop.tui.cli.report import print_report

    source = tmp_path / "prompts.txt"
    source.write_text("hello\nworld\n", encoding="utf-8")
    report = analyse(source, ImportOptions(), work_dir=tmp_path / "work")
    console = Console(width=120, record=True, file=io.StringIO())
    print_report(console, report)
    text = console.export_text()
    assert size(report.byte_size) in text
    assert "0.0 MB" not in text


def test_a_cost_column_has_two_decimals() -> None:
    assert [money(x) for x in (0.0003, 0.16, 1234.5, 0.0)] == [
        "<$0.01",
        "$0.16",
        "$1,234.50",
        "$0.00",
    ]
    assert money(0.0033, approx=True) == "~<$0.01"


async def test_dashboard_cost_cells_line_up(make_app: AppFactory, workspace: Workspace) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.dashboard.table
        costs = [table.get_cell(key, "cost").plain for key in table.keys]
        assert all(re.fullmatch(r"~?(\$[\d,]+\.\d\d|<\$0\.01)", c) for c in costs), costs


async def test_an_ended_batch_shows_no_time_bar(make_app: AppFactory, workspace: Workspace) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.dashboard.table
        table.move_cursor(row=table.get_row_index(workspace.done))
        await pilot.pause()
        bars = plain(app.screen.query_one("#detail-bars", Static))
        assert "by time" not in bars
        assert "ended" in bars
        table.move_cursor(row=table.get_row_index(workspace.running))
        await pilot.pause()
        assert "by time" in plain(app.screen.query_one("#detail-bars", Static))


class DetailHost(App[None]):
    def compose(self) -> ComposeResult:
        yield BatchDetail(id="detail")


async def test_no_sparkline_bars_without_completions(
    service: BatchService, workspace: Workspace, emulator: EmulatorHandle
) -> None:
    running = service.batch(workspace.running)
    assert running is not None
    now = emulator.clock.now()
    idle = RequestCounts(processing=running.remote.request_counts.total)
    snapshots = [CountSnapshot(running.id, now - timedelta(seconds=s), idle) for s in (30, 20, 10)]
    app = DetailHost()
    async with app.run_test(size=SIZE) as pilot:
        detail = app.query_one(BatchDetail)
        detail.show(DetailInfo(running, now, 0.0, 0.1, snapshots=snapshots))
        await pilot.pause()
        assert not app.query_one(Sparkline).display
        assert "none yet" in str(app.query_one("#detail-spark-title", Static).content)


async def test_unlabelled_batches_show_their_job_and_retries_are_marked(
    make_app: AppFactory, workspace: Workspace, service: BatchService, emulator: EmulatorHandle
) -> None:
    composed = await service.submit_requests([request("c-1")], name="weekly digest")
    retry = await service.retry_failed(workspace.errors)
    retried = retry.submitted.batch_ids
    assert retried
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.dashboard.table
        assert table.get_cell(composed.batch_ids[0], "label").plain == "weekly digest"
        assert table.get_cell(retried[0], "label").plain == "↻ classify tickets"


async def test_compose_shows_no_error_before_anything_is_typed(tmp_path: Path) -> None:
    app = ScreenHost(lambda: ComposeScreen(offline_service(tmp_path)))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.pause()
        issues = screen.query_one("#compose-issues", Static)
        assert await until(pilot, lambda: "as you type" in str(issues.content))
        assert "error" not in str(issues.content)
        await pilot.press(*"Hello")
        assert await until(pilot, lambda: "no problems found" in str(issues.content))


async def test_detail_says_when_an_adopted_batchs_results_may_be_anothers() -> None:
    from batchtop.core.models import BatchView
    from data_factory import T0, remote

    done = BatchView(remote=remote("msgbatch_x"), seen_at=T0)
    said = "The results of msgbatch_x may not be this part's: check a few rows."
    app = DetailHost()
    async with app.run_test(size=SIZE) as pilot:
        detail = app.query_one(BatchDetail)
        detail.show(DetailInfo(done, T0, 1.0, 1.0))
        await pilot.pause()
        assert "may not be this part's" not in plain(app.query_one("#detail-head", Static))
        detail.show(DetailInfo(done, T0, 1.0, 1.0, results_warning=said))
        await pilot.pause()
        head = " ".join(plain(app.query_one("#detail-head", Static)).split())
        assert "results? The results of msgbatch_x may not be this part's" in head, head
