"""A windowed results table: 100,000 rows without 100,000 rows in a widget.

It is a `WindowedTable` (toolong style: the window, the cursor, paging and clicks live there):
the virtual height is the number of matching results, each line on screen asks a page cache
for its row, and pages come
from a fetch function (the service's `results_page`, an indexed store query). Only the
visible window is ever rendered, so moving, paging and jumping to the end cost the same at
1,000 or 100,000 rows.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import ClassVar

from batchtop.core.models import ResultPage, ResultRow, ResultType
from batchtop.tui.format import gap
from batchtop.tui.keys import RESULTS_TABLE_KEYS, bindings
from batchtop.tui.safe_text import clean
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import BindingType
from textual.cache import LRUCache
from textual.message import Message
from textual.strip import Strip

from .windowed_table import WindowedTable

PageFetcher = Callable[[int, int], ResultPage]
"""(offset, limit) -> the rows of the current filter in that window, and the total."""

PAGE_SIZE = 200
MAX_PAGES = 24
PREFETCH_MARGIN = 60
"""Rows from a page edge at which the neighbouring page is fetched in the background."""

STATUS_STYLES: dict[ResultType, str] = {
    ResultType.SUCCEEDED: "green",
    ResultType.ERRORED: "bold red",
    ResultType.EXPIRED: "yellow",
    ResultType.CANCELED: "dim",
}


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    width: int  # 0: take the remaining width
    justify: str = "left"


COLUMNS = (
    Column("", 2),
    Column("custom_id", 0),
    Column("status", 10),
    Column("stop reason", 14),
    Column("tokens in/out", 15, "right"),
    Column("output (first line) / error", 0),
)
HIDE_FIRST = (3, 4)
"""Columns a narrow table hides, in this order, so the output keeps room: stop reason below
NARROW_BELOW cells, then the tokens below TINY_BELOW."""
NARROW_BELOW = 110
TINY_BELOW = 70
WIDE_FROM = 160
STOP_WIDE = len("model_context_window_exceeded")
"""From WIDE_FROM cells the stop reason column shows the longest stop reason whole
(`max_output_tokens`, `model_context_window_exceeded` were cut at 14)."""


def _columns(width: int) -> list[tuple[int, Column]]:
    """(index in COLUMNS, column at its width) of the columns shown at `width`."""
    hidden = HIDE_FIRST[: (width < NARROW_BELOW) + (width < TINY_BELOW)]
    fixed = [(i, c) for i, c in enumerate(COLUMNS) if i not in hidden]
    if width >= WIDE_FROM:
        fixed = [(i, replace(c, width=STOP_WIDE) if i == 3 else c) for i, c in fixed]
    used = sum(c.width for _, c in fixed) + len(fixed) - 1
    rest = max(width - used, 20)
    id_width = max(12, min(30, rest // 3))
    out_width = max(rest - id_width, 8)
    widths = {1: id_width, 5: out_width}
    return [(i, Column(c.title, c.width or widths[i], c.justify)) for i, c in fixed]


def _fit(text: str | Text, width: int, justify: str = "left", style: str = "") -> Text:
    """The cell in exactly `width` cells; its padding is a run of its own (`format.gap`)."""
    cell = text if isinstance(text, Text) else Text(text, style=style)
    cell.no_wrap = True
    cell.truncate(width, overflow="ellipsis", pad=False)
    pad = width - cell.cell_len
    if pad > 0:
        if justify == "right":
            cell = gap(Text(), " " * pad) + cell
        else:
            gap(cell, " " * pad)
    return cell


def header_text(width: int) -> Text:
    """The column titles, aligned with the rows `ResultsTable` renders at this width."""
    line = Text()
    for n, (_, col) in enumerate(_columns(width)):
        if n:
            gap(line, " ")
        line.append_text(_fit(col.title, col.width, col.justify))
    return line


def _tokens(row: ResultRow) -> str:
    if row.type is not ResultType.SUCCEEDED and not row.input_tokens:
        return "–"
    return f"{row.input_tokens:,}/{row.output_tokens:,}"


MATCH_STYLE = "bold reverse"


def row_text(row: ResultRow, width: int, *, selected: bool, highlight: str = "") -> Text:
    """One result as a table line: every outside string cleaned and kept literal; the
    search `highlight` marked in the id and the output."""
    line = Text(no_wrap=True, end="")
    # The column shows a few dozen cells: never measure a whole 1 MB line to cut it (cell
    # widths are computed per grapheme; a 500,000-character line took ~0.4 s per render).
    first = row.first_line[: max(width, 80) * 2]
    if row.type is not ResultType.SUCCEEDED and row.error_type:
        first = f"{row.error_type}: {first}" if first else row.error_type
    cells: list[Text] = [
        Text("●" if selected else " ", style="bold" if selected else ""),
        Text(clean(row.custom_id, keep_newlines=False)),
        Text(row.type.value, style=STATUS_STYLES.get(row.type, "")),
        Text(clean(_stop(row), keep_newlines=False), style="dim"),
        Text(_tokens(row)),
        Text(
            clean(first, keep_newlines=False),
            style="" if row.type is ResultType.SUCCEEDED else "red",
        ),
    ]
    if highlight:
        for i in (1, 5):
            cells[i].highlight_words([highlight], MATCH_STYLE, case_sensitive=False)
    for n, (i, col) in enumerate(_columns(width)):
        if n:
            gap(line, " ")
        line.append_text(_fit(cells[i], col.width, col.justify))
    return line


class ResultsTable(WindowedTable):
    """Rows of `ResultRow` fetched page by page; a cursor and a multi-row selection."""

    BINDING_GROUP_TITLE = "Results table"
    BINDINGS: ClassVar[list[BindingType]] = bindings(RESULTS_TABLE_KEYS)

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "results-table--cursor",
        "results-table--selected",
    }

    DEFAULT_CSS = """
    ResultsTable {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: scroll;
        background: $surface;
        & > .results-table--cursor { background: $block-cursor-blurred-background; }
        &:focus > .results-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: bold;
        }
        & > .results-table--selected { background: $accent 25%; }
    }
    """

    class Highlighted(Message):
        """The cursor moved to another row (or the rows changed under it)."""

        def __init__(self, table: ResultsTable, index: int, row: ResultRow | None) -> None:
            super().__init__()
            self.table = table
            self.index = index
            self.row = row

        @property
        def control(self) -> ResultsTable:
            return self.table

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ResultsTable.Highlighted)

    class FetchFailed(Message):
        """A page could not be read; its rows show as "…" until the next reload."""

        def __init__(self, table: ResultsTable, error: str) -> None:
            super().__init__()
            self.table = table
            self.error = error

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ResultsTable.FetchFailed)

    class SelectionChanged(Message):
        def __init__(self, table: ResultsTable, selected: frozenset[str]) -> None:
            super().__init__()
            self.table = table
            self.selected = selected

        @property
        def control(self) -> ResultsTable:
            return self.table

    class WindowChanged(Message):
        """The rows on screen changed without the cursor moving (a resize, the wheel)."""

        def __init__(self, table: ResultsTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> ResultsTable:
            return self.table

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ResultsTable.WindowChanged)

    def __init__(
        self,
        fetch: PageFetcher | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._fetch = fetch
        self._pages: OrderedDict[int, list[ResultRow]] = OrderedDict()
        self._strips: LRUCache[tuple[int, int, bool, bool], Strip] = LRUCache(512)
        self.total = 0
        self._selected: set[str] = set()
        self.fetches = 0  # page queries made on the event loop (tests and benchmarks)
        self._generation = 0  # bumped per result set; late prefetches of old ones are dropped
        self._prefetching: set[tuple[int, int]] = set()
        self.highlight = ""  # the search, marked in the rows (set before `set_source`)

    # --- data ------------------------------------------------------------------------

    def set_source(self, fetch: PageFetcher, first: ResultPage | None = None) -> None:
        """Show another result set (new filter): drop caches, keep nothing stale.

        `first` is the already-fetched page at offset 0 (the search worker fetches it off
        the event loop, so only later pages are queried here).
        """
        self._fetch = fetch
        self._generation += 1
        self._pages.clear()
        self._strips.clear()
        if first is None:
            first = fetch(0, PAGE_SIZE)
            self.fetches += 1
        self._pages[0] = list(first.rows)
        self.total = first.total
        self.update_virtual_size()
        self.scroll_to(y=0, animate=False, immediate=True)
        self.cursor_row = 0
        self.cursor_moved()
        self.refresh()

    def set_total(self, total: int) -> None:
        """The counted total of the current source (its first page came with a lower bound)."""
        if total != self.total:
            self.total = total
            self.update_virtual_size()
            self.refresh()

    def row_at(self, index: int) -> ResultRow | None:
        if index < 0 or index >= self.total or self._fetch is None:
            return None
        number, within = divmod(index, PAGE_SIZE)
        page = self._pages.get(number)
        if page is None:
            self.fetches += 1
            try:
                page = list(self._fetch(number * PAGE_SIZE, PAGE_SIZE).rows)
            except Exception as exc:  # rendering must survive a failing store
                page = []
                self.post_message(self.FetchFailed(self, str(exc)))
            self._store_page(number, page, self._generation)
        else:
            self._pages.move_to_end(number)
        if within >= PAGE_SIZE - PREFETCH_MARGIN:
            self._prefetch(number + 1)
        elif within < PREFETCH_MARGIN:
            self._prefetch(number - 1)
        return page[within] if within < len(page) else None

    def _store_page(self, number: int, rows: list[ResultRow], generation: int) -> None:
        self._prefetching.discard((generation, number))
        if generation != self._generation:
            return  # fetched for a filter that is no longer shown
        self._pages[number] = rows
        while len(self._pages) > MAX_PAGES:
            self._pages.popitem(last=False)

    def _prefetch(self, number: int) -> None:
        """Fetch a neighbouring page in a thread, so scrolling on never waits for SQLite."""
        fetch = self._fetch
        key = (self._generation, number)
        if (
            fetch is None
            or number < 0
            or number * PAGE_SIZE >= self.total
            or number in self._pages
            or key in self._prefetching
            or not self.is_attached
        ):
            return
        self._prefetching.add(key)
        generation = self._generation

        def work() -> None:
            try:
                rows = list(fetch(number * PAGE_SIZE, PAGE_SIZE).rows)
            except Exception:
                self.app.call_from_thread(self._prefetching.discard, key)
                raise
            self.app.call_from_thread(self._store_page, number, rows, generation)

        self.run_worker(work, thread=True, group="results-prefetch", exit_on_error=False)

    @property
    def row_count(self) -> int:
        return self.total

    @property
    def current_row(self) -> ResultRow | None:
        return self.row_at(self.cursor_row)

    @property
    def selected(self) -> frozenset[str]:
        return frozenset(self._selected)

    def clear_selection(self) -> None:
        self._selected.clear()
        self._strips.clear()
        self.refresh()
        self.post_message(self.SelectionChanged(self, self.selected))

    # --- rendering -------------------------------------------------------------------

    def fit_width(self) -> None:
        self._strips.clear()
        self.update_virtual_size()
        self.post_message(self.WindowChanged(self))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value):
            self.post_message(self.WindowChanged(self))

    def render_row(self, index: int, width: int) -> Strip:
        base = self.rich_style
        row = self.row_at(index)
        is_cursor = index == self.cursor_row
        is_selected = row is not None and row.custom_id in self._selected
        key = (index, width, is_cursor, is_selected)
        cached = self._strips.get(key)
        if cached is not None:
            return cached
        if row is None:
            strip = Strip([Segment("…".ljust(width), base)], width)
        else:
            text = row_text(row, width, selected=is_selected, highlight=self.highlight)
            segments = list(text.render(self.app.console))
            strip = Strip(segments).extend_cell_length(width).crop(0, width)
            strip = strip.apply_style(base)
            if is_selected:
                strip = Strip(Segment.apply_style(strip, post_style=self._selected_style()))
            if is_cursor:
                strip = Strip(Segment.apply_style(strip, post_style=self._cursor_style()))
        self._strips[key] = strip
        return strip

    def _cursor_style(self) -> Style:
        styles = self.get_component_styles("results-table--cursor")
        _, base = self.background_colors
        return Style(
            bgcolor=(base + styles.background).rich_color,
            color=(base + styles.color).rich_color if styles.has_rule("color") else None,
            bold=styles.text_style.bold if styles.has_rule("text_style") else None,
        )

    def _selected_style(self) -> Style:
        # CSS colours may be translucent ("$accent 30%"): blend them over our background,
        # Rich styles have no alpha.
        styles = self.get_component_styles("results-table--selected")
        _, base = self.background_colors
        return Style(bgcolor=(base + styles.background).rich_color)

    def forget_drawn(self) -> None:
        self._strips.clear()

    # --- cursor ----------------------------------------------------------------------

    def cursor_moved(self) -> None:
        self.post_message(self.Highlighted(self, self.cursor_row, self.current_row))

    def action_toggle_select(self) -> None:
        row = self.current_row
        if row is None:
            return
        if row.custom_id in self._selected:
            self._selected.discard(row.custom_id)
        else:
            self._selected.add(row.custom_id)
        self._strips.clear()
        self.refresh_row(self.cursor_row)
        self.post_message(self.SelectionChanged(self, self.selected))
        self.move_cursor(row=self.cursor_row + 1)


def _stop(row: ResultRow) -> str:
    """The stop reason as the provider gave it; a success without one (an embedding): —."""
    if row.stop_reason:
        return row.stop_reason
    return "—" if row.type is ResultType.SUCCEEDED else ""
