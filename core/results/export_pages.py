"""Export pages: the rows an export writes, read in keyset pages by custom_id (no
long-lived cursor), as rows or already joined by SQLite (raw JSONL lines, CSV records).
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from ..models import ResultFilter, ResultRow
from .queries import Source, filters, run, source, to_row
from .raw_lines import PLACE_CHARS, PLACES, RAW_COLUMNS, RawLines
from .search import fts_complete
from .sql import INPUT_JOINED, RAW_AT, ROW

if TYPE_CHECKING:
    from ..database import Database

ITER_PAGE = 2_000
RAW_PAGE = 5_000  # JSONL pages (a page of places is ~240 KB, its lines a few MB)
AHEAD = 2  # JSONL pages queried ahead of the one being written (`_ahead`)

T = TypeVar("T")


def _keyset_page(
    src: Source,
    filt: ResultFilter,
    use_fts: bool,
    after: str | None,
    columns: str,
    size: int,
    *,
    inputs: bool,
) -> tuple[str, list[Any]]:
    """One keyset page of matching rows by custom_id: `columns`, then the key as `k` (last).

    `inputs`: `columns` read `INPUT_JOINED`."""
    where, args = filters(filt, use_fts=use_fts)
    keyset = ""
    if after is not None:
        keyset = f" AND {src.order} > ?"
        args.append(after)
    sql = (
        f"SELECT {columns}, {src.order} AS k {src.with_inputs() if inputs else src.sql}"
        f"{where}{keyset}"
        f" ORDER BY {src.order} LIMIT {size}"
    )
    return sql, src.args + args


def _places_page(
    src: Source, filt: ResultFilter, use_fts: bool, *, after: str | None, size: int
) -> tuple[str, list[Any]]:
    """One keyset page as (its rows' `PLACES` joined, the last key, rows, rows placed)."""
    page, args = _keyset_page(
        src, filt, use_fts, after, f"{PLACES} AS p, r.raw_at AS a", size, inputs=False
    )
    return f"SELECT group_concat(p, ''), max(k), count(*), count(a) FROM ({page})", args


def _pages(
    conn: sqlite3.Connection,
    batch_ids: Sequence[str],
    filt: ResultFilter,
    columns: str,
    size: int = ITER_PAGE,
    *,
    inputs: bool = True,
) -> Iterator[list[Any]]:
    """Matching rows by custom_id in keyset pages of `columns` (+ the custom_id, last);
    `columns` may read `INPUT_JOINED` if `inputs`."""
    src = source(conn, batch_ids)
    fts = fts_complete(conn, batch_ids)
    after: str | None = None
    while True:

        def build(use_fts: bool, after: str | None = after) -> tuple[str, list[Any]]:
            return _keyset_page(src, filt, use_fts, after, columns, size, inputs=inputs)

        rows = run(conn, build, fts)
        if rows:
            yield rows
        if len(rows) < size:
            return
        after = rows[-1][-1]


_FORMULA_CODES = "61, 43, 45, 64, 9, 13"  # = + - @ TAB CR: what `export.csv_safe` defuses


def _csv_text(column: str, *, guard: bool) -> str:
    """A text column as `csv.writer` writes it (minimal quoting: a cell holding , " CR or LF
    is quoted, "" doubled), NULL as ''; `guard`: through `export.csv_safe` first (a leading
    apostrophe before a formula). SQLite evaluates a repeated subexpression each time it
    appears, so the quoting test reads the bare column (the apostrophe is no reason to quote)
    and the guard's CASE runs once, in the branch taken."""
    cell = column
    if guard:
        cell = (
            f"CASE WHEN unicode({column}) IN ({_FORMULA_CODES}) THEN '''' || {column}"
            f" ELSE {column} END"
        )
    return (
        f"CASE WHEN instr({column}, ',') OR instr({column}, '\"') OR instr({column}, char(13))"
        f" OR instr({column}, char(10)) THEN '\"' || replace({cell}, '\"', '\"\"') || '\"'"
        f" ELSE coalesce({cell}, '') END"
    )


_CSV_CELLS: tuple[tuple[str, str | None], ...] = (
    (_csv_text("r.custom_id", guard=True), "r.custom_id"),
    (_csv_text("r.type", guard=False), "r.type"),
    (_csv_text(INPUT_JOINED, guard=True), INPUT_JOINED),
    (_csv_text("r.text", guard=True), "r.text"),
    (_csv_text("r.stop_reason", guard=False), "r.stop_reason"),
    ("r.input_tokens", None),
    ("r.output_tokens", None),
    (_csv_text("r.error_type", guard=False), "r.error_type"),
    (_csv_text("r.error_message", guard=True), "r.error_message"),
    (_csv_text("mi.original_id", guard=True), "mi.original_id"),
    (_csv_text("r.model", guard=False), "r.model"),
    ("r.cache_creation_input_tokens", None),
    ("r.cache_read_input_tokens", None),
    ("CASE WHEN r.cost_usd IS NULL THEN '' ELSE printf('%.8f', r.cost_usd) END", None),
    ("r.thinking", None),
    ("r.tool_calls", None),
    (_csv_text("r.tool_names", guard=True), "r.tool_names"),
    ("r.citations", None),
    (_csv_text("r.stop_details", guard=True), "r.stop_details"),
)
"""`export.CSV_COLUMNS`' cells in SQL, each with the text column it reads (None: a number)."""

_CELLS = [cell for cell, _ in _CSV_CELLS]
_JOINED = " || ',' || ".join(_CELLS)
_HAS_NUL = " OR ".join(f"instr({column}, char(0))" for _, column in _CSV_CELLS if column)
CSV_SQL_LINE = (
    f"CASE WHEN {_HAS_NUL} THEN {_JOINED}"
    f" ELSE printf('{','.join(['%s'] * len(_CELLS))}', {', '.join(_CELLS)}) END"
)
"""One CSV record (without its line end) per row, as `csv.writer` would write it.

`printf` builds the record in one pass, where a chain of `||` copies the growing record at
each step (a third less time for the whole export at 100k rows); but its `%s` ends a value
at a NUL character, so a row with a NUL in a text cell (rare; exported byte for byte all
the same) is joined with `||`."""


def _ahead(db: Database, produce: Callable[[sqlite3.Connection], Iterator[T]]) -> Iterator[T]:
    """`produce`'s items, made on a thread with a connection of its own, up to `AHEAD`
    ahead of the consumer. SQLite lets go of the GIL while it steps, so the next page is
    found while this one is written: a JSONL export of 100k results went from 1.8× to
    1.1–1.2× the time of writing its lines from memory (bench/HISTORY.md). The thread's
    errors are raised here; closing this generator stops the thread and waits for it."""
    items: queue.Queue[tuple[bool, Any]] = queue.Queue(AHEAD)
    stop = threading.Event()

    def run() -> None:
        try:
            conn = db.connect()
        except BaseException as exc:
            items.put((False, exc))
            return
        try:
            for item in db.tracked_steps(produce(conn)):  # `Database.close` waits for a step
                if stop.is_set():
                    return
                items.put((True, item))
            items.put((False, None))
        except BaseException as exc:
            items.put((False, exc))
        finally:
            db.release(conn)

    thread = threading.Thread(target=run, name="batchtop-export-pages", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = items.get()
            if not ok:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # a put waiting for room: make some until the thread ends
            with contextlib.suppress(queue.Empty):
                items.get(timeout=0.05)
        thread.join()


class ResultStream(Iterator[tuple[ResultRow, str]]):
    """(row, raw line) pairs by custom_id, streamed in keyset pages (no long-lived cursor).

    Exports that need less than a `ResultRow` per result read pages of just what they write
    (`raw_pages`, `csv_pages`): building the rows cost as much as writing the file. The
    connection is taken when reading starts, so a stream created on one thread and consumed
    on a worker thread uses the worker's connection.
    """

    def __init__(self, db: Database, batch_ids: Sequence[str], filt: ResultFilter) -> None:
        self._db = db
        self._connect = db.conn
        self._batch_ids = list(batch_ids)
        self._filt = filt
        self._rows: Iterator[tuple[ResultRow, str]] | None = None

    def __iter__(self) -> ResultStream:
        return self

    def __next__(self) -> tuple[ResultRow, str]:
        if self._rows is None:
            self._rows = self._pairs()
        return next(self._rows)

    def _pairs(self) -> Iterator[tuple[ResultRow, str]]:
        conn = self._connect()
        pages = _pages(conn, self._batch_ids, self._filt, f"{ROW.sql}, {RAW_COLUMNS}")
        with RawLines(conn) as lines:
            for page in pages:
                yield from zip(map(to_row, page), lines.texts(page, RAW_AT), strict=True)

    def raw_pages(self) -> Generator[tuple[list[bytes], int], None, None]:
        """(the raw lines of a page as UTF-8 and an empty one, `b"\\n".join` of which ends
        each in a newline; their number).

        The lines are read from the batches' results files at the rows' offsets, checked
        (`raw_lines.RawLines`); a row of an older store has its line itself. No decoding to
        str and encoding back to UTF-8 of lines that are written as they are. One batch's
        page is one string of the rows' places (`raw_lines.PLACES`), joined by SQLite: no
        tuple per row. The pages are queried on a thread ahead of the lines being read
        (`_ahead`), and an unfiltered export's files are read whole meanwhile (`preload`).
        """
        conn = self._connect()
        ids = list(dict.fromkeys(self._batch_ids))
        one = ids[0] if len(ids) == 1 else None
        with RawLines(conn) as lines:
            whole = lines.known(ids) and self._filt == ResultFilter()
            if whole:
                lines.preload(ids)
            for page in _ahead(self._db, lambda c: self._raw_places(c, ids, one)):
                if isinstance(page, str):
                    assert one is not None
                    yield lines.placed(one, page, whole), len(page) // PLACE_CHARS
                else:
                    yield lines.page(page, one, whole), len(page)

    def _raw_places(
        self, conn: sqlite3.Connection, ids: list[str], one: str | None
    ) -> Iterator[str | list[Any]]:
        """`raw_pages`' pages: one batch's page whose rows all have their place in its file
        as `PLACES` joined (one string), else the rows (the batch id, `RAW_COLUMNS`, the
        key) as `RawLines.page` reads them."""
        src = source(conn, ids)
        fts = fts_complete(conn, ids)
        filt = self._filt
        after: str | None = None
        size = RAW_PAGE
        while True:
            if one is not None:
                build = partial(_places_page, src, filt, after=after, size=size)
                joined, last, n, placed = run(conn, build, fts)[0]
                if n and n == placed:
                    yield joined
                    if n < size:
                        return
                    after = last
                    continue
            batch = "0" if one is not None else "r.batch_id"  # one batch: no id per row
            columns = f"{batch}, {RAW_COLUMNS}"
            rows = partial(
                _keyset_page, src, filt, after=after, columns=columns, size=size, inputs=False
            )
            page = run(conn, rows, fts)
            if page:
                yield page
            if len(page) < size:
                return
            after = page[-1][-1]

    def csv_pages(self) -> Iterator[tuple[bytes, int]]:
        """(a page of CSV records, each ending in CRLF, as UTF-8; their number).

        The records are exactly what `csv.writer` (minimal quoting, CRLF) writes for
        `export.CSV_COLUMNS` with `csv_safe` cells, built by SQLite (see `CSV_SQL_LINE`).
        """
        line = f"{CSV_SQL_LINE} || char(13, 10)"
        return self._joined_pages(line, "''", ITER_PAGE, as_bytes=True, inputs=True)

    def _joined_pages(
        self, line: str, sep: str, size: int, *, as_bytes: bool = False, inputs: bool = False
    ) -> Iterator[tuple[Any, int]]:
        """Keyset pages of `line`s (which read `INPUT_JOINED` if `inputs`), each joined by
        SQLite into one value."""
        conn = self._connect()
        src = source(conn, self._batch_ids)
        fts = fts_complete(conn, self._batch_ids)
        after: str | None = None
        while True:

            def build(use_fts: bool, after: str | None = after) -> tuple[str, list[Any]]:
                page, args = _keyset_page(
                    src, self._filt, use_fts, after, f"{line} AS line", size, inputs=inputs
                )
                joined = f"group_concat(line, {sep})"
                if as_bytes:
                    joined = f"CAST({joined} AS BLOB)"
                return f"SELECT {joined}, max(k), count(*) FROM ({page})", args

            joined, last, n = run(conn, build, fts)[0]
            if n:
                yield joined, int(n)
            if n < size:
                return
            after = last
