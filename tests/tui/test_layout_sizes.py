"""The dashboard at common terminal sizes: what must stay visible, and no empty columns.

Issue 14.9: at 80×24 the detail panel lost its left column, the title cut off view 5, the
footer hid `q Quit` and `? Help` and the table showed five columns; at 250×70 about 90
columns stayed empty. The snapshots of these sizes are in test_snapshots_dashboard.py.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from batchtop.tui.widgets.batch_detail import BatchDetail
from dashboard_support import AppFactory, Workspace
from rich.console import Console
from textual.widgets import Static


def footer_line(app: Any) -> str:
    strips = app.screen._compositor.render_strips()
    return "".join(seg.text for seg in strips[-1])


def title_text(app: Any) -> str:
    return plain(app.screen.query_one("#title-bar", Static), 300)


def plain(widget: Any, width: int = 150) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (160, 48), (250, 70)])
async def test_help_quit_views_and_the_detail_are_always_there(
    make_app: AppFactory, workspace: Workspace, size: tuple[int, int]
) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        footer = footer_line(app)
        assert " q Quit " in footer
        assert " ? Help " in footer
        title = title_text(app)
        for n in "12345":
            assert f" {n} " in title
        assert "Jobs" in title
        left = app.screen.query_one("#detail-left")
        assert left.size.width >= 30  # the identity column keeps room
        table = app.dashboard.table
        shown = table.shown_columns
        for key in ("label", "status", "progress", "errored", "expires"):
            assert key in shown, (size, shown)
        # the columns fit the screen: nothing to scroll sideways, nothing left empty
        content = table.size.width - table.styles.scrollbar_size_vertical
        assert table.virtual_size.width == content


async def test_least_important_columns_hide_first(
    make_app: AppFactory, workspace: Workspace
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        narrow = app.dashboard.table.shown_columns
        assert "canceled" not in narrow
        assert "processing" not in narrow
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        wider = app.dashboard.table.shown_columns
        assert set(narrow) < set(wider)
        assert "canceled" not in wider  # still the first to go
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        assert len(app.dashboard.table.shown_columns) == 13


async def test_a_wide_terminal_widens_labels_and_ids(
    make_app: AppFactory, workspace: Workspace
) -> None:
    app = make_app()
    async with app.run_test(size=(250, 70)) as pilot:
        await pilot.pause()
        table = app.dashboard.table
        widths = dict(zip(table.shown_columns, (w for _, w in table._layout), strict=True))
        assert widths["label"] >= 40
        assert widths["id"] >= 24  # whole ids
        line = "".join(s.text for s in table.render_line(2))  # the running batch's row
        assert workspace.running.removeprefix("msgbatch_") in line


async def test_the_narrow_detail_keeps_the_cost_in_its_left_column(
    make_app: AppFactory, workspace: Workspace
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.dashboard.table
        table.move_cursor(row=table.get_row_index(workspace.running))
        await pilot.pause()
        detail = app.screen.query_one(BatchDetail)
        assert detail.narrow
        assert not app.screen.query_one("#detail-right").display
        head = plain(app.screen.query_one("#detail-head", Static), 40)
        assert "cost     ~$0.16 estimated" in head
        assert "job      eval" in head


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_help_dialog_fits_the_terminal(
    make_app: AppFactory, workspace: Workspace, size: tuple[int, int]
) -> None:
    """The help is 110 columns wide where it can be; at 80 its right border was off screen
    and every description was cut."""
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        dialog = app.screen.query_one(".help-dialog")
        region = dialog.region
        assert region.x >= 0
        assert region.right <= size[0], (region, size)
