"""The windowed table both tables of batchtop are made of (toolong style).

A Line-API `ScrollView` whose virtual height is its number of rows (plus its header lines):
`render_line` draws only the lines on screen, so 100,000 rows cost what 100 do, and no row
ever becomes a widget. This base holds what every such table does the same way — the window
on screen, the row cursor kept visible, paging, first/last, the click that moves the cursor
(and activates the row under it) and the redraw when the focus comes or goes. A table says
only how many rows it has and how one row (and its header) is drawn: `BatchesTable` (keyed
batches, fitted columns) and `ResultsTable` (results fetched a page at a time).
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip


class WindowedTable(ScrollView, can_focus=True):
    """Rows drawn on demand under `HEADER_LINES` fixed lines, with a row cursor."""

    HEADER_LINES: ClassVar[int] = 0
    """Lines at the top of the table that are not rows (drawn by `render_header`)."""

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.cursor_row = 0
        self._fitted_for: Size | None = None  # the size the columns were last fitted to

    # --- what a table says ----------------------------------------------------------------

    @property
    def row_count(self) -> int:
        raise NotImplementedError

    def render_row(self, row: int, width: int) -> Strip:
        """Row `row` (0-based) drawn `width` cells wide."""
        raise NotImplementedError

    def render_header(self, y: int, width: int) -> Strip:
        """Header line `y` (below `HEADER_LINES`)."""
        return Strip.blank(width, self.rich_style)

    def render_past_end(self, row: int, width: int) -> Strip:
        """A line below the last row (`row` counts on past it from `row_count`)."""
        return Strip.blank(width, self.rich_style)

    def content_width(self) -> int:
        """The width of a whole row (wider than the widget when it scrolls sideways)."""
        return self.size.width

    def forget_drawn(self) -> None:
        """Drop the lines a table keeps drawn: their look changed (focus, theme, selection)."""

    def fit_width(self) -> None:
        """The widget was resized: lay the columns out again."""

    def cursor_moved(self) -> None:
        """The cursor is on another row (announce it)."""

    def row_activated(self, row: int) -> None:
        """The row under the cursor was clicked again."""

    # --- the window -----------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y < self.HEADER_LINES:
            return self.render_header(y, width)
        row = round(self.scroll_offset.y) + y - self.HEADER_LINES
        if row >= self.row_count:
            return self.render_past_end(row - self.row_count, width)
        return self.render_row(row, width)

    def update_virtual_size(self) -> None:
        self.virtual_size = Size(self.content_width(), self.row_count + self.HEADER_LINES)

    def page_height(self) -> int:
        """Rows on one screen."""
        return max(self.scrollable_content_region.height - self.HEADER_LINES, 1)

    @property
    def window(self) -> tuple[int, int]:
        """(first, last) rows on screen, 0-based, inclusive."""
        top = round(self.scroll_offset.y)
        return top, min(top + self.page_height(), self.row_count) - 1

    def refresh_row(self, row: int) -> None:
        # `refresh_line` takes virtual lines: row r is line r + HEADER_LINES
        self.refresh_line(row + self.HEADER_LINES)

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        """Lay the columns out as soon as the layout gives the widget its size, before the
        frame that shows it: the resize event comes after that frame, which would show the
        columns laid out for the old width (the first frame: every column at its narrowest)."""
        resized = super()._size_updated(size, virtual_size, container_size, layout)
        if resized:
            self._fit_to_size()
        return resized

    def _fit_to_size(self) -> None:
        """`fit_width` once per size (the layout's size update, then its resize event)."""
        if self._fitted_for != self.size:
            self._fitted_for = self.size
            self.fit_width()

    def on_resize(self) -> None:
        self._fit_to_size()
        self.keep_cursor_visible()

    def on_focus(self) -> None:
        self.forget_drawn()
        self.refresh()

    def on_blur(self) -> None:
        self.forget_drawn()
        self.refresh()

    # --- the cursor -----------------------------------------------------------------------

    def keep_cursor_visible(self) -> None:
        top, page = round(self.scroll_offset.y), self.page_height()
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + page:
            self.scroll_to(y=self.cursor_row - page + 1, animate=False, immediate=True)

    def move_cursor(self, *, row: int) -> None:
        """Put the cursor on `row` (kept within the rows) and scroll it into view."""
        row = max(min(row, self.row_count - 1), 0)
        moved = row != self.cursor_row
        if moved:
            self.refresh_row(self.cursor_row)
            self.cursor_row = row
            self.refresh_row(row)
        self.keep_cursor_visible()
        if moved:
            self.cursor_moved()

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self.cursor_row + 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self.cursor_row - 1)

    def action_page_down(self) -> None:
        page = self.page_height()
        self.scroll_to(y=round(self.scroll_offset.y) + page, animate=False, immediate=True)
        self.move_cursor(row=self.cursor_row + page)

    def action_page_up(self) -> None:
        page = self.page_height()
        self.scroll_to(y=round(self.scroll_offset.y) - page, animate=False, immediate=True)
        self.move_cursor(row=self.cursor_row - page)

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=self.row_count - 1)

    def on_click(self, event: events.Click) -> None:
        """A click highlights a row; a click on the highlighted row activates it."""
        if event.y < self.HEADER_LINES:
            return
        row = round(self.scroll_offset.y) + event.y - self.HEADER_LINES
        if row >= self.row_count:
            return
        event.stop()
        if row == self.cursor_row:
            self.row_activated(row)
        else:
            self.move_cursor(row=row)
