"""A windowed table of batches: 10,000 rows without 10,000 rows in a widget.

A `WindowedTable` (toolong style, like `results_table.py`: the window, the cursor, paging
and clicks live there): the virtual height is the number of rows plus the header, and only
the lines on screen are built. The table holds an ordered list of keys and asks a cell
function for the cells of a key when its line is drawn; a rendered line is reused while
that function returns the very same cell objects (the dashboard's `RowBuilder` hands back
cached cells until the batch, the clock text or the theme changes). Replacing the rows (a
view switch, a filter, a sort) is a list assignment plus a repaint, whatever the number of
batches; the cursor follows its key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import BindingType
from textual.cache import LRUCache
from textual.message import Message
from textual.strip import Strip

from ..format import GAP, gap
from ..keys import BATCHES_TABLE_KEYS, bindings
from .windowed_table import WindowedTable

CellsOf = Callable[[str], tuple[Text, ...]]
"""key -> the cells of its row, one per column (the same objects while nothing changed)."""

PADDING = 1  # blank cells each side of a column, as DataTable draws them
CACHED_LINES = 128
"""Drawn lines kept (a few screens): small, as every cached object is walked by the
garbage collector's full passes, which pause the app."""


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int  # the narrowest it is drawn
    justify: Literal["left", "right"] = "left"
    hide: int = 0
    """When the table is too narrow, columns are hidden by this rank, highest first (0: kept
    always): the least important go first."""
    grow: Literal["fill", "full", "share", ""] = "share"
    """What it takes of a wide table's spare width: `fill` (the label) takes spare width
    first up to `FILL_FIRST` and then half of the rest, `full` grows to show whole cells
    (`max_width`), `share` an even part of what is left, "" none."""
    max_width: int = 0
    cut: Literal["end", "middle"] = "end"
    """Where a cell too long for its width loses characters (ids keep their ends)."""


FILL_FIRST = 40


def layout(columns: Sequence[Column], width: int) -> tuple[tuple[int, int], ...]:
    """(column index, drawn width) of the columns shown in `width` cells, in order.

    Columns are hidden least important first until the rest fit; the spare width of a wide
    table goes to the label first, then to whole ids, then to every column evenly, so the
    table always spans the screen."""
    shown = list(range(len(columns)))

    def used(indices: Sequence[int]) -> int:
        return sum(columns[i].width + 2 * PADDING for i in indices)

    for i in sorted((i for i in shown if columns[i].hide), key=lambda i: -columns[i].hide):
        if used(shown) <= width:
            break
        shown.remove(i)
    widths = {i: columns[i].width for i in shown}
    spare = width - used(shown)
    fill = [i for i in shown if columns[i].grow == "fill"]
    if spare > 0 and fill:
        extra = min(spare, max(FILL_FIRST - widths[fill[0]], 0))
        widths[fill[0]] += extra
        spare -= extra
    for i in shown:
        if spare > 0 and columns[i].grow == "full" and columns[i].max_width > widths[i]:
            extra = min(spare, columns[i].max_width - widths[i])
            widths[i] += extra
            spare -= extra
    if spare > 0:
        to_fill = spare // 2 if fill else 0
        sharing = [i for i in shown if columns[i].grow == "share"]
        if sharing:
            each = (spare - to_fill) // len(sharing)
            for i in sharing:
                widths[i] += each
            to_fill = spare - each * len(sharing)
        else:
            to_fill = spare
        if fill:
            widths[fill[0]] += to_fill
    return tuple((i, widths[i]) for i in shown)


def _cut_middle(cell: Text, width: int) -> Text:
    """`01MD6SR9…t3h`: the start and the last three characters of an id that does not fit."""
    plain = cell.plain
    tail = 3 if width > 7 else 0
    return Text(plain[: width - 1 - tail] + "…" + (plain[-tail:] if tail else ""), style=cell.style)


def _fit(cell: Text, width: int, justify: str, line: Text, meta: Style) -> None:
    """Append `cell` to `line` in exactly `width` cells (cut with an ellipsis, or padded).

    `meta` marks the cell's text (not its padding) as a run of its own, as DataTable's cells
    are: an SVG screenshot then places it at its own column (runs start at their x, and
    some renderers drop the leading spaces of a run)."""
    if len(cell) > width * 2:  # never measure a huge label to show a few cells of it
        cell = cell[: width * 2]
    size = cell.cell_len
    if size > width:
        cell = cell.copy()  # cells are shared (cached): never cut the original
        cell.truncate(width, overflow="ellipsis")
        size = cell.cell_len
    pad = " " * (width - size)
    if justify == "right":
        line.append(pad)
    start = len(line)
    line.append_text(cell)
    line.stylize(meta, start)
    if justify != "right":
        line.append(pad)


class BatchesTable(WindowedTable):
    """Rows keyed by batch id (or "job:<id>" in the jobs view), a header, a row cursor.

    No `enter` binding: the screen's "open" binding owns enter, so the keymap can move it
    and the help screen lists it once. j/k/g/G are screen bindings (keymap ids in keys.py).
    """

    BINDINGS: ClassVar[list[BindingType]] = bindings(BATCHES_TABLE_KEYS)
    HEADER_LINES = 1

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "batches-table--header",
        "batches-table--even-row",
        "batches-table--cursor",
    }

    # DataTable's look: the same theme variables, so the dashboard did not change colours.
    DEFAULT_CSS = """
    BatchesTable {
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .batches-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .batches-table--header { background-tint: $foreground 5%; }
        }
        &:dark > .batches-table--even-row { background: $surface-darken-1 40%; }
        & > .batches-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .batches-table--even-row { background: $surface-lighten-1 50%; }
        & > .batches-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    class Highlighted(Message):
        """The cursor moved to another row."""

        def __init__(self, table: BatchesTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> BatchesTable:
            return self.table

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, BatchesTable.Highlighted)

    class Selected(Message):
        """The row under the cursor was clicked again."""

        def __init__(self, table: BatchesTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> BatchesTable:
            return self.table

    def __init__(self, columns: Sequence[Column], cells: CellsOf, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._columns = tuple(columns)
        self._labels = {c.key: c.label for c in self._columns}
        self._cells_of = cells
        self._keys: list[str] = []
        self._chosen = False  # the cursor was moved (by a key, a click or the app)
        self.placeholder: list[Text] = []
        self._lines: LRUCache[tuple[str, bool, bool, int], tuple[tuple[Text, ...], Strip]] = (
            LRUCache(CACHED_LINES)
        )
        self._header: Strip | None = None
        self._drawn: LRUCache[tuple[int, int], tuple[Text, list[tuple[str, Style | None]]]] = (
            LRUCache(CACHED_LINES * len(self._columns))
        )
        self._styles: dict[tuple[Style, Style, Style], Style] = {}
        self._line_styles: dict[tuple[bool, bool], tuple[Style, Style]] = {}  # (cursor, even)
        # every column at its narrowest until the first resize gives the real width
        self._layout = tuple((i, c.width) for i, c in enumerate(self._columns))
        self._width = _span(self._layout)
        self._metas = [Style.from_meta({"column": i}) for i in range(len(self._columns))]

    # --- rows ------------------------------------------------------------------------------

    def set_rows(self, keys: Sequence[str]) -> None:
        """Show `keys` in this order. Once the cursor was moved it stays on its key while
        that is shown; before, it stays on the first row, so batches that arrive above (a
        second provider's, the newest) do not push the first choice down the table."""
        selected = self.selected_key if self._chosen else None
        self._keys = list(keys)
        if selected is not None and (row := self._row_of(selected)) is not None:
            self.cursor_row = row
        else:
            self.cursor_row = max(min(self.cursor_row, len(self._keys) - 1), 0)
        self.update_virtual_size()
        self.keep_cursor_visible()
        self.refresh()

    def _row_of(self, key: str) -> int | None:
        try:
            return self._keys.index(key)  # a C loop, ~0.1 ms at 10,000 rows: no index to keep
        except ValueError:
            return None

    @property
    def keys(self) -> list[str]:
        return list(self._keys)

    @property
    def row_count(self) -> int:
        return len(self._keys)

    def content_width(self) -> int:
        return self._width

    @property
    def selected_key(self) -> str | None:
        return self._keys[self.cursor_row] if 0 <= self.cursor_row < len(self._keys) else None

    def get_row_index(self, key: str) -> int:
        row = self._row_of(key)
        if row is None:
            raise KeyError(key)
        return row

    def get_cell(self, key: str, column_key: str) -> Text:
        """The cell a row shows in a column (built on demand, as for drawing)."""
        for i, col in enumerate(self._columns):
            if col.key == column_key:
                return self._cells_of(key)[i]
        raise KeyError(column_key)

    @property
    def shown_columns(self) -> list[str]:
        """The keys of the columns drawn at the current width, left to right."""
        return [self._columns[i].key for i, _ in self._layout]

    def header_label(self, column_key: str) -> str:
        return self._labels[column_key]

    def set_header(self, column_key: str, label: str) -> None:
        if self._labels.get(column_key, label) != label:
            self._labels[column_key] = label
            self._header = None
            self.refresh_line(round(self.scroll_offset.y))  # the header: screen line 0

    def refresh_changed(self) -> None:
        """Repaint the rows on screen whose cells changed (the clock moved their times)."""
        top = round(self.scroll_offset.y)
        for row in range(top, min(top + self.page_height(), len(self._keys))):
            cached = self._lines.get(self._line_key(row))
            if cached is None or not _same(cached[0], self._cells_of(self._keys[row])):
                self.refresh_row(row)

    def refresh_rows(self) -> None:
        """Redraw every row (the cell function now answers differently, e.g. a new theme)."""
        self.forget_drawn()
        self.refresh()

    def forget_drawn(self) -> None:
        self._lines.clear()

    # --- rendering -------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines.clear()
        self._styles.clear()
        self._line_styles.clear()
        self._header = None

    def fit_width(self) -> None:
        self._header = None  # drawn lines are cached per width: they stay valid
        # The scrollbar's column is always kept: rows coming and going never re-lay it out.
        self._relayout(self.size.width - self.styles.scrollbar_size_vertical)

    def _relayout(self, width: int) -> None:
        """Choose the columns and their widths for `width` cells (see `layout`)."""
        new = layout(self._columns, width)
        if new == self._layout:
            return
        self._layout = new
        self._width = _span(new)
        self._lines.clear()
        self._drawn.clear()
        self._header = None
        self.update_virtual_size()
        self.refresh()

    def _line_key(self, row: int) -> tuple[str, bool, bool, int]:
        width = self.scrollable_content_region.width
        return (self._keys[row], row == self.cursor_row, row % 2 == 0, width)

    def render_header(self, y: int, width: int) -> Strip:
        scroll_x = self.scroll_offset.x
        if self._header is None:
            self._header = self._header_strip(max(width, self._width))
        return self._header.crop(scroll_x, scroll_x + width)

    def render_past_end(self, row: int, width: int) -> Strip:
        if not self._keys and row < len(self.placeholder):
            return self._placeholder_strip(row, width)
        return Strip.blank(width, self.rich_style)

    def render_row(self, row: int, width: int) -> Strip:
        scroll_x = self.scroll_offset.x
        line_key = self._line_key(row)
        cells = self._cells_of(line_key[0])
        cached = self._lines.get(line_key)
        if cached is None or not _same(cached[0], cells):
            strip = self._row_strip(cells, line_key[1], line_key[2], max(width, self._width))
            cached = (cells, strip)
            self._lines[line_key] = cached
        return cached[1].crop(scroll_x, scroll_x + width)

    def _placeholder_strip(self, line: int, width: int) -> Strip:
        text = gap(Text(no_wrap=True, end=""), " " * (2 * PADDING))
        text.append_text(self.placeholder[line])
        text.truncate(width, overflow="ellipsis", pad=True)
        segments = list(text.render(self.app.console))
        return Strip(segments, width).apply_style(self.rich_style)

    def set_placeholder(self, lines: Sequence[Text]) -> None:
        """What the table says while it has no rows (how to start, or that a filter hides
        every row); [] says nothing."""
        if list(lines) != self.placeholder:
            self.placeholder = list(lines)
            self.refresh()

    def _strip(self, cells: Sequence[Text], width: int, style: Style, post: Style) -> Strip:
        """One line: each cell's text in its own style over the line's, and the spaces
        between cells in the line's style (one segment per run of spaces)."""
        space = style + post + GAP  # a run apart from the text, also behind a dialog
        segments: list[Segment] = []
        spaces = ""
        for column, width in self._layout:
            for text, text_style in self._runs(column, width, cells[column]):
                if text_style is None:
                    spaces += text
                    continue
                if spaces:
                    segments.append(Segment(spaces, space))
                    spaces = ""
                segments.append(Segment(text, self._combine(style, text_style, post)))
        if spaces:
            segments.append(Segment(spaces, space))
        return Strip(segments, self._width).extend_cell_length(width, style)

    def _runs(self, column: int, width: int, cell: Text) -> list[tuple[str, Style | None]]:
        """A cell drawn at its column's width: (text, style) runs, None for padding.

        Cached per cell object: a row's cells stay the same objects while the batch does
        not change, so moving the cursor or scrolling back redraws from here."""
        cached = self._drawn.get((id(cell), column))
        if cached is not None and cached[0] is cell:
            return cached[1]
        original = cell
        col, meta = self._columns[column], self._metas[column]
        gap = " " * PADDING
        runs: list[tuple[str, Style | None]]
        # (a huge label is never measured whole: `_fit` cuts it first)
        size = cell.cell_len if len(cell) <= 2 * width else width + 1
        if col.cut == "middle" and size > width and not cell.spans:
            cell = _cut_middle(cell, width)
            size = cell.cell_len
        if cell.spans or size > width:  # several styles, or cut: Rich draws it
            line = Text(gap, no_wrap=True, end="")
            _fit(cell, width, col.justify, line, meta)
            line.append(gap)
            runs = [(seg.text, seg.style or None) for seg in line.render(self.app.console)]
        else:  # most cells: one run of one style (the fast path)
            text_style = self.app.console.get_style(cell.style) + meta if cell.style else meta
            pad = " " * (width - size)
            left, right = (gap + pad, gap) if col.justify == "right" else (gap, pad + gap)
            runs = [(left, None), (cell.plain, text_style), (right, None)]
        # the cell is kept: its id stays its own
        self._drawn[(id(original), column)] = (original, runs)
        return runs

    def _combine(self, style: Style, text_style: Style, post: Style) -> Style:
        key = (style, text_style, post)
        combined = self._styles.get(key)
        if combined is None:
            combined = self._styles[key] = style + text_style + post
        return combined

    def _header_strip(self, width: int) -> Strip:
        style = self.get_component_rich_style("batches-table--header")
        labels = [Text(self._labels[c.key]) for c in self._columns]
        return self._strip(labels, width, style, Style())

    def _row_strip(self, cells: Sequence[Text], cursor: bool, even: bool, width: int) -> Strip:
        styles = self._line_styles.get((cursor, even))
        if styles is None:
            style = self.get_component_rich_style("batches-table--even-row") if even else None
            style = style or self.rich_style
            post = Style()
            if cursor:
                cursor_style = self.get_component_rich_style("batches-table--cursor")
                style += cursor_style
                post = Style.from_color(cursor_style.color)  # the cursor's colour wins
            styles = self._line_styles[(cursor, even)] = (style, post)
        return self._strip(cells, width, *styles)

    # --- cursor ----------------------------------------------------------------------------

    def keep_selection(self) -> None:
        """From now on the cursor follows the batch it is on (see `set_rows`)."""
        self._chosen = True

    def move_cursor(self, *, row: int) -> None:
        self._chosen = True  # even onto the row it is on: that batch was chosen
        super().move_cursor(row=row)

    def cursor_moved(self) -> None:
        self.post_message(self.Highlighted(self, self.selected_key))

    def row_activated(self, row: int) -> None:
        """A click on the highlighted row selects it (opens it)."""
        self.post_message(self.Selected(self, self._keys[row]))


def _span(shown: Sequence[tuple[int, int]]) -> int:
    return sum(width + 2 * PADDING for _, width in shown)


def _same(a: tuple[Text, ...], b: tuple[Text, ...]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))
