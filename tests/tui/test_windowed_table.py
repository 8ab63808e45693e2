"""WindowedTable: the one window/cursor/paging/click logic under both tables."""

from __future__ import annotations

from typing import ClassVar

from batchtop.tui.widgets.batches_table import BatchesTable
from batchtop.tui.widgets.results_table import ResultsTable
from batchtop.tui.widgets.windowed_table import WindowedTable
from rich.segment import Segment
from textual.app import App, ComposeResult
from textual.strip import Strip

ROWS = 10_000


class Numbers(WindowedTable):
    """A table that only says its rows: one header line, row n shows "row n"."""

    HEADER_LINES: ClassVar[int] = 1

    def __init__(self) -> None:
        super().__init__()
        self.drawn: list[int] = []
        self.moves = 0
        self.activated: list[int] = []

    @property
    def row_count(self) -> int:
        return ROWS

    def render_header(self, y: int, width: int) -> Strip:
        return Strip([Segment("number".ljust(width))], width)

    def render_row(self, row: int, width: int) -> Strip:
        self.drawn.append(row)
        return Strip([Segment(f"row {row}".ljust(width))], width)

    def cursor_moved(self) -> None:
        self.moves += 1

    def row_activated(self, row: int) -> None:
        self.activated.append(row)

    def on_mount(self) -> None:
        self.update_virtual_size()


class NumbersApp(App[None]):
    CSS = "Numbers { height: 12; }"

    def compose(self) -> ComposeResult:
        yield Numbers()


def test_both_tables_are_windowed_tables() -> None:
    assert issubclass(BatchesTable, WindowedTable)
    assert issubclass(ResultsTable, WindowedTable)


async def test_only_the_window_is_drawn_and_the_cursor_stays_in_it() -> None:
    app = NumbersApp()
    async with app.run_test(size=(40, 14)) as pilot:
        table = app.query_one(Numbers)
        await pilot.pause()
        assert table.page_height() == 11  # 12 lines minus the header
        assert max(table.drawn) < 11  # 10,000 rows, only those on screen drawn
        assert table.window == (0, 10)

        table.action_last()
        await pilot.pause()
        assert table.cursor_row == ROWS - 1
        assert table.window == (ROWS - 11, ROWS - 1)
        table.action_page_up()
        assert table.cursor_row == ROWS - 12
        assert table.window[0] <= table.cursor_row <= table.window[1]
        table.action_first()
        table.action_cursor_up()  # stays on the first row
        assert (table.cursor_row, table.window[0]) == (0, 0)
        table.action_page_down()
        assert table.cursor_row == 11
        moves = table.moves
        table.move_cursor(row=11)  # not moved: not announced
        assert table.moves == moves

        table.action_first()
        await pilot.click(Numbers, offset=(2, 0))  # the header: nothing
        assert table.cursor_row == 0
        await pilot.click(Numbers, offset=(2, 4))  # line 4 is row 3
        assert table.cursor_row == 3
        assert table.activated == []
        await pilot.click(Numbers, offset=(2, 4))  # the highlighted row again: activated
        assert table.activated == [3]


def test_a_wide_results_table_shows_whole_stop_reasons() -> None:
    """At 250 columns OpenAI's `max_output_tokens` and the API's longest stop reason are not
    cut; below 160 the column keeps its narrow width so the output keeps room."""
    from batchtop.tui.widgets.results_table import header_text

    wide = header_text(248).plain
    narrow = header_text(140).plain
    stop_wide = wide.index("tokens in/out") - wide.index("stop reason")
    stop_narrow = narrow.index("tokens in/out") - narrow.index("stop reason")
    assert stop_wide > len("model_context_window_exceeded")
    assert len("max_output_tokens") > stop_narrow - 2 >= len("stop reason")
