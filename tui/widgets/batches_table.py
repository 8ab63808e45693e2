"""A DataTable kept in sync with a list of keyed rows by diffs.

`sync(rows)` removes rows that went away, `update_cell`s the cells that changed, adds new
rows and reorders — so the cursor stays on the same batch. DataTable's `remove_row` renumbers
every row (O(rows) per removal), so when many rows go at once (a view switch or a filter over
10,000 batches) the table is refilled instead, and the cursor put back on its batch. Every
column has a fixed width and rows are one line high, so cells are never measured (DataTable
would measure every cell of every new row: seconds at 10,000 rows).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets.data_table import CellKey, RowDoesNotExist, RowKey


class KeyText(Text):
    """The id cell: a Text that also knows its row key, so sorting can find the row."""

    row_key: str = ""


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int | None = None


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    cells: tuple[Text, ...]


REFILL_AT = 64
"""Removing more rows than this at once refills the table (see the module docstring)."""


class BatchesTable(DataTable[Text], inherit_bindings=False):
    """Rows keyed by batch id (or "job:<id>" in the jobs view).

    DataTable's own `enter` binding is left out: the screen's "open" binding owns enter, so
    the keymap can move it and the help screen lists it once.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        b for b in DataTable.BINDINGS if not (isinstance(b, Binding) and b.key == "enter")
    ]

    def __init__(self, columns: Sequence[Column], *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, id=id)
        self._column_defs = tuple(columns)
        self._cells: dict[str, tuple[Text, ...]] = {}
        self._order: list[str] = []

    def on_mount(self) -> None:
        for col in self._column_defs:
            self.add_column(col.label, key=col.key, width=col.width)

    @property
    def selected_key(self) -> str | None:
        if not self._order or self.cursor_row < 0 or self.cursor_row >= self.row_count:
            return None
        try:
            row_key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:
            return None
        return row_key.value

    @property
    def keys(self) -> list[str]:
        return list(self._order)

    def set_header(self, column_key: str, label: str) -> None:
        column = self.columns.get(column_key)  # type: ignore[call-overload]
        if column is not None and column.label.plain != label:
            column.label = Text(label)
            self._require_update_dimensions = True
            self.refresh()

    def _fixed_widths(self) -> bool:
        return all(col.width is not None for col in self._column_defs)

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        # Fixed widths and one-line rows: measuring new cells cannot change the layout.
        super()._update_dimensions(() if self._fixed_widths() else new_rows)

    def _update_column_widths(self, updated_cells: set[CellKey]) -> None:
        if not self._fixed_widths():
            super()._update_column_widths(updated_cells)

    def _refill(self, rows: Sequence[Row], selected: str | None) -> None:
        with self.app.batch_update():
            self.clear()
            self._cells = {}
            for row in rows:
                self._mark(row)
                self.add_row(*row.cells, key=row.key)
                self._cells[row.key] = row.cells
            self._order = [row.key for row in rows]
            if selected is not None and selected in self._cells:
                self.move_cursor(row=self.get_row_index(selected), animate=False)

    def sync(self, rows: Sequence[Row]) -> None:
        """Make the table show exactly `rows`, in that order, with as few changes as possible."""
        selected = self.selected_key
        wanted = {row.key: row for row in rows}
        column_keys = [c.key for c in self._column_defs]
        if sum(1 for k in self._order if k not in wanted) > REFILL_AT:
            self._refill(rows, selected)
            return
        with self.app.batch_update():
            for key in [k for k in self._order if k not in wanted]:
                with contextlib.suppress(RowDoesNotExist):
                    self.remove_row(key)
                self._cells.pop(key, None)
            # Where rows will be after the removals and appends, to know if a sort is needed.
            actual = [k for k in self._order if k in wanted]
            for row in rows:
                old = self._cells.get(row.key)
                if old is None:
                    self._mark(row)
                    self.add_row(*row.cells, key=row.key)
                    actual.append(row.key)
                else:
                    for col, before, after in zip(column_keys, old, row.cells, strict=True):
                        if before is not after and not _same(before, after):
                            self._mark_cell(row.key, after)
                            self.update_cell(row.key, col, after)
                self._cells[row.key] = row.cells
            new_order = [row.key for row in rows]
            if new_order != actual:
                rank = {key: i for i, key in enumerate(new_order)}
                id_col = column_keys[self._id_index()]
                self.sort(id_col, key=lambda cell: rank.get(getattr(cell, "row_key", ""), 0))
            self._order = new_order
            if selected in wanted:
                self.move_cursor(row=self.get_row_index(selected), animate=False)
            elif self.row_count:
                self.move_cursor(row=min(self.cursor_row, self.row_count - 1), animate=False)

    def visible_keys(self) -> list[str]:
        """Keys of the rows currently on screen."""
        first = int(self.scroll_y)
        last = min(first + self.scrollable_content_region.height, len(self._order))
        return self._order[first:last]

    def patch(self, key: str, cells: dict[str, Text]) -> None:
        """Update some cells of one row, skipping those that did not change."""
        old = self._cells.get(key)
        if old is None:
            return
        new = list(old)
        for i, col in enumerate(self._column_defs):
            after = cells.get(col.key)
            if after is not None and after is not old[i] and not _same(old[i], after):
                new[i] = after
                self.update_cell(key, col.key, after)
        self._cells[key] = tuple(new)

    def _id_index(self) -> int:
        for i, col in enumerate(self._column_defs):
            if col.key == "id":
                return i
        return 0

    def _mark(self, row: Row) -> None:
        cell = row.cells[self._id_index()]
        if isinstance(cell, KeyText):
            cell.row_key = row.key

    def _mark_cell(self, key: str, cell: Text) -> None:
        if isinstance(cell, KeyText):
            cell.row_key = key


def _same(a: Text, b: Text) -> bool:
    return a.plain == b.plain and a.style == b.style and a.spans == b.spans
