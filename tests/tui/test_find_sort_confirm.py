"""Issue 14.16: find a batch by label or id from anywhere, sort by a chosen column, and
confirm dialogs that show the keys that answer them."""

from __future__ import annotations

from typing import Any

from batchtop.core.service import BatchService
from batchtop.tui.screens.confirm import ConfirmScreen
from batchtop.tui.screens.dashboard import DashboardScreen
from batchtop.tui.screens.results import ResultsScreen
from dashboard_support import AppFactory, Workspace, until
from textual.command import CommandPalette
from textual.widgets import Button, OptionList

SIZE = (160, 48)


def options_text(app: Any) -> list[str]:
    options = app.screen.query_one(OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def palette(pilot: Any, app: Any, query: str) -> None:
    await pilot.press("ctrl+p")
    assert isinstance(app.screen, CommandPalette)
    await pilot.press(*query)


async def test_the_palette_finds_a_batch_by_label_from_the_results_viewer(
    make_app: AppFactory, workspace: Workspace
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        dashboard = app.dashboard
        await pilot.press("2")  # the active view: the ended "nightly summaries" is not in it
        await pilot.pause()
        assert workspace.done not in dashboard.table.keys
        dashboard.table.move_cursor(row=dashboard.table.get_row_index(workspace.running))
        await pilot.press("enter")
        assert await until(pilot, lambda: isinstance(app.screen, ResultsScreen))
        await palette(pilot, app, "nightly")
        # the palette searches in a worker with a debounce: wait for the hit, bounded
        assert await until(pilot, lambda: any("nightly summaries" in o for o in options_text(app)))
        await pilot.press("enter")
        assert await until(pilot, lambda: app.screen is dashboard)
        assert dashboard.table.selected_key == workspace.done
        assert dashboard.view == "all"


async def test_the_palette_finds_a_batch_by_id(make_app: AppFactory, workspace: Workspace) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        tail = workspace.errors[-10:]
        await palette(pilot, app, tail)
        assert await until(pilot, lambda: any(workspace.errors in o for o in options_text(app)))
        await pilot.press("enter")
        assert await until(pilot, lambda: app.dashboard.table.selected_key == workspace.errors)


async def test_the_palette_lists_quit_once(make_app: AppFactory, workspace: Workspace) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await palette(pilot, app, "quit")
        assert await until(pilot, lambda: any("Quit" in o for o in options_text(app)))
        await pilot.pause()
        assert not any("app: quit" in o for o in options_text(app))


async def test_sort_by_a_chosen_column(make_app: AppFactory, workspace: Workspace) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await palette(pilot, app, "sort: by total")
        assert await until(pilot, lambda: any("sort: by total" in o for o in options_text(app)))
        await pilot.press("enter")
        dashboard = app.dashboard
        assert await until(pilot, lambda: dashboard.sort_by == "total")
        assert dashboard.table.keys[0] == workspace.running  # 1,000 requests, the most
        assert dashboard.table.header_label("total") == "Total ▼"


async def test_confirm_shows_and_takes_y_and_n(
    make_app: AppFactory, workspace: Workspace, service: BatchService
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.dashboard.table
        table.move_cursor(row=table.get_row_index(workspace.running))
        await pilot.press("c")
        assert await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        labels = [str(b.label) for b in app.screen.query(Button)]
        assert labels == ["Cancel it (y)", "No (n)"]
        await pilot.press("n")
        assert await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("c")
        assert await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await app.workers.wait_for_complete()
        assert await until(
            pilot,
            lambda: (
                (b := service.batch(workspace.running)) is not None
                and b.remote.cancel_initiated_at is not None
            ),
        )


async def test_the_word_batch_does_not_find_every_batch(
    make_app: AppFactory, workspace: Workspace
) -> None:
    """Ids start with `msgbatch_`: only what follows it is searched."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await palette(pilot, app, "batch")
        assert await until(pilot, lambda: any("batch: cancel" in o for o in options_text(app)))
        await pilot.pause()
        assert not any("msgbatch_" in o for o in options_text(app))
