"""The results index: result rows searchable and pageable at 100k+ rows.

Rows are written by `results_ingest`; the search index is built here, after the ingest.
Every function takes a connection from `Store`; the facade documents the public contract.
A job's results span several batches (the original parts and their retries): queries over
several batch ids first keep, per custom_id, the newest succeeded row if there is one, else
the newest row ("newest" = from the batch created last), and only then filter and page.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from .manifest_rows import restore_params
from .models import FailedRequest, ResultFilter, ResultPage, ResultRow, ResultSummary, ResultType
from .pricing import BATCH_DISCOUNT
from .sqlite_util import placeholders, write_txn

ITER_PAGE = 2_000
RAW_PAGE = 500  # JSONL pages: SQLite grows a joined page by copying, ~350 KB pages are faster
MIN_FTS_CHARS = 3  # the trigram tokenizer cannot match shorter strings

_MANIFEST_ENTRY = "mi.job_id = ri.job_id AND mi.part = ri.part AND mi.custom_id = r.custom_id"
"""How a row of `results r` finds its entry `mi` in the manifest its batch links `ri` to."""

INPUT_TEXT = (
    "coalesce(r.input_text, (SELECT mi.input_text FROM result_inputs ri JOIN manifests mi"
    f" ON {_MANIFEST_ENTRY} WHERE ri.batch_id = r.batch_id))"
)
"""A row's input text (of `results r`): read from its batch's manifest (see `result_inputs`);
rows ingested by a store older than schema 3 hold a copy of it themselves. FTS indexing and
de-indexing use this same expression."""

_INPUT_JOIN = (
    " LEFT JOIN result_inputs ri ON ri.batch_id = r.batch_id"
    f" LEFT JOIN manifests mi ON {_MANIFEST_ENTRY}"
)
_INPUT_JOINED = "coalesce(r.input_text, mi.input_text)"
"""`INPUT_TEXT` where the query has `_INPUT_JOIN` (see `_Source.with_inputs`): rows read in
custom_id order probe the manifest in order, and a CSV line uses the value eight times."""

_ROW_COLS = (
    "r.batch_id, r.custom_id, r.type, r.stop_reason, r.input_tokens, r.output_tokens,"
    " r.cache_creation_input_tokens, r.cache_read_input_tokens, r.model, r.text,"
    f" r.error_type, r.error_message, {_INPUT_JOINED}, mi.original_id, r.cost_usd,"
    " r.thinking, r.tool_calls, r.tool_names, r.citations, r.stop_details"
)
RAW_AT = 20
"""The index of `r.raw` in a row read as `_ROW_COLS, r.raw`."""


# --- manifests ----------------------------------------------------------------------------


def manifest_key(conn: sqlite3.Connection, batch_id: str) -> tuple[str, int] | None:
    """The (job, part) whose manifest describes a batch's requests.

    A retry batch without a manifest of its own uses its parent's (following the chain).
    """
    seen: set[str] = set()
    current: str | None = batch_id
    while current is not None and current not in seen:
        seen.add(current)
        row = conn.execute(
            "SELECT job_id, job_part, parent_batch_id FROM batch_local WHERE batch_id = ?",
            (current,),
        ).fetchone()
        if row is None:
            return None
        job_id, part, parent = row
        if job_id is not None and part is not None:
            exists = conn.execute(
                "SELECT 1 FROM manifests WHERE job_id = ? AND part = ? LIMIT 1", (job_id, part)
            ).fetchone()
            if exists:
                return (job_id, int(part))
        current = parent
    return None


def link_inputs(conn: sqlite3.Connection, batch_id: str) -> None:
    """Record which manifest gives the input texts of a batch's results (before an ingest)."""
    key = manifest_key(conn, batch_id)
    if key is None:
        conn.execute("DELETE FROM result_inputs WHERE batch_id = ?", (batch_id,))
    else:
        conn.execute(
            "INSERT OR REPLACE INTO result_inputs (batch_id, job_id, part) VALUES (?, ?, ?)",
            (batch_id, *key),
        )


SEARCH_TEXT = "coalesce(nullif(r.text, ''), r.error_message, '')"
"""What search sees as a row's output (of `results r`): its text, or for a failed request
its error message (so searching "overloaded" finds those rows). Indexing and de-indexing must
use the same expression: the FTS table is external-content and is told exactly what to
remove."""


# --- search index (built after the ingest, off its critical path) ---------------------------

FTS_STEP = 2_000  # rows indexed per transaction: short write-lock holds, little lost if stopped


def fts_pending(conn: sqlite3.Connection) -> list[str]:
    """Batches whose rows are all in but whose search index is not complete yet."""
    rows = conn.execute(
        "SELECT batch_id FROM results_fts_pending WHERE last_id >= 0 ORDER BY batch_id"
    ).fetchall()
    return [r[0] for r in rows]


def fts_complete(conn: sqlite3.Connection, batch_ids: Sequence[str]) -> bool:
    """True when every one of these batches can be searched through the FTS index."""
    ids = list(dict.fromkeys(batch_ids))
    if not ids:
        return True
    row = conn.execute(
        f"SELECT 1 FROM results_fts_pending WHERE batch_id IN ({placeholders(len(ids))}) LIMIT 1",
        ids,
    ).fetchone()
    return row is None


def build_fts_step(conn: sqlite3.Connection, batch_id: str, step: int = FTS_STEP) -> bool:
    """Index the next `step` row ids of a batch in one transaction; True when it is done.

    The state is re-read under the write lock, so several builders (threads or processes)
    can work on one store safely: each step continues where the last committed one ended.
    """
    with write_txn(conn):
        row = conn.execute(
            "SELECT next_id, last_id FROM results_fts_pending WHERE batch_id = ?", (batch_id,)
        ).fetchone()
        if row is None:
            return True
        next_id, last_id = row
        if last_id < 0:
            return True  # its ingest is still writing (or died): nothing to build yet
        hi = min(next_id + step, last_id + 1)
        conn.execute(
            "INSERT INTO results_fts (rowid, text, input_text)"
            f" SELECT r.id, {SEARCH_TEXT}, {INPUT_TEXT} FROM results r"
            " WHERE r.id >= ? AND r.id < ? AND r.batch_id = ? ORDER BY r.id",
            (next_id, hi, batch_id),
        )
        if hi > last_id:
            conn.execute("DELETE FROM results_fts_pending WHERE batch_id = ?", (batch_id,))
            return True
        conn.execute(
            "UPDATE results_fts_pending SET next_id = ? WHERE batch_id = ?", (hi, batch_id)
        )
        return False


def build_fts(conn: sqlite3.Connection, should_stop: Callable[[], bool] | None = None) -> None:
    """Finish every pending search index (until `should_stop()` says to leave it for later)."""
    for batch_id in fts_pending(conn):
        while not build_fts_step(conn, batch_id):
            if should_stop is not None and should_stop():
                return


# --- queries ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Source:
    """FROM/WHERE clause yielding one row per custom_id, and the column to order by."""

    tables: str  # FROM …
    where: str  # WHERE … (never empty: filters are appended as " AND …")
    args: list[Any]
    order: str
    driven: bool = False  # the search hits are already the rows the source yields

    @property
    def sql(self) -> str:
        return f"{self.tables} {self.where}"

    def with_inputs(self) -> str:
        """`sql` joined with each row's manifest entry, for `_INPUT_JOINED`."""
        return f"{self.tables}{_INPUT_JOIN} {self.where}"


_MERGE_REGISTRY = "temp.batchtop_merges"
_MERGE_KEEP = 8  # merged sets kept per connection


def _source(
    conn: sqlite3.Connection, batch_ids: Sequence[str], hits: _Hits | None = None
) -> _Source:
    ids = list(dict.fromkeys(batch_ids))
    if len(ids) == 1:
        if hits is not None and hits.rare:
            # Driven from the few FTS hits: look each up by id, then sort (not a walk of
            # the whole batch in custom_id order probing the hit set).
            return _Source(
                "FROM json_each(?) j CROSS JOIN results r ON r.id = j.value",
                "WHERE r.batch_id = ?",
                [hits.ids_json, ids[0]],
                "r.custom_id",
                driven=True,
            )
        return _Source("FROM results r", "WHERE r.batch_id = ?", ids, "r.custom_id")
    if not ids:
        return _Source("FROM results r", "WHERE 0", [], "r.custom_id")
    table = _merged_table(conn, ids)
    return _Source(
        f"FROM temp.{table} m JOIN results r ON r.id = m.id", "WHERE 1", [], "m.custom_id"
    )


def row_source(conn: sqlite3.Connection, batch_ids: Sequence[str]) -> tuple[str, list[Any]]:
    """`FROM … WHERE …` (and its parameters) over `results r`, one row per custom_id: a job's
    batches merged the way every other query here sees them. Filters append " AND …"."""
    src = _source(conn, batch_ids)
    return src.sql, src.args


def _merged_table(conn: sqlite3.Connection, ids: list[str]) -> str:
    """A connection-private temp table (custom_id → winning row id) for a set of batches.

    Choosing the winner per custom_id costs a pass over every row of the batches (~0.3 s at
    100k rows); doing it once per data change instead of once per page keeps paging a job's
    merged results as fast as paging one batch. Rebuilt when the stamp shows new data.
    """
    key = "\x1f".join(sorted(ids))
    table = "merge_" + hashlib.sha1(key.encode()).hexdigest()[:16]
    # Batches ranked by creation time (unknown batches oldest); ties by position in `ids`.
    created = dict(
        conn.execute(
            f"SELECT id, created_at FROM batches WHERE id IN ({placeholders(len(ids))})", ids
        ).fetchall()
    )
    stamp = orjson.dumps([_stamp(conn, sorted(ids)), sorted(created.items())]).decode()
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {_MERGE_REGISTRY}"
        " (name TEXT PRIMARY KEY, stamp TEXT NOT NULL, used INTEGER NOT NULL)"
    )
    row = conn.execute(f"SELECT stamp FROM {_MERGE_REGISTRY} WHERE name = ?", (table,)).fetchone()
    tick = conn.execute(f"SELECT coalesce(max(used), 0) + 1 FROM {_MERGE_REGISTRY}").fetchone()[0]
    if row is not None and row[0] == stamp:
        conn.execute(f"UPDATE {_MERGE_REGISTRY} SET used = ? WHERE name = ?", (tick, table))
        return table
    ranked = sorted(range(len(ids)), key=lambda i: (created.get(ids[i]) or "", i))
    rank_case = "CASE r.batch_id " + " ".join("WHEN ? THEN ?" for _ in ranked) + " END"
    rank_args: list[Any] = []
    for rank, i in enumerate(ranked):
        rank_args += [ids[i], rank]
    conn.execute(f"DROP TABLE IF EXISTS temp.{table}")
    conn.execute(
        f"CREATE TABLE temp.{table} (custom_id TEXT PRIMARY KEY, id INTEGER NOT NULL) WITHOUT ROWID"
    )
    conn.execute(
        f"INSERT INTO temp.{table} SELECT custom_id, id FROM (SELECT r.custom_id, r.id,"
        " row_number() OVER (PARTITION BY r.custom_id ORDER BY r.type = 'succeeded' DESC,"
        f" {rank_case} DESC, r.id DESC) AS rn FROM results r"
        f" WHERE r.batch_id IN ({placeholders(len(ids))})) WHERE rn = 1",
        rank_args + ids,
    )
    conn.execute(
        f"INSERT OR REPLACE INTO {_MERGE_REGISTRY} (name, stamp, used) VALUES (?, ?, ?)",
        (table, stamp, tick),
    )
    stale = conn.execute(
        f"SELECT name FROM {_MERGE_REGISTRY} ORDER BY used DESC LIMIT -1 OFFSET ?",
        (_MERGE_KEEP,),
    ).fetchall()
    for (name,) in stale:
        conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
        conn.execute(f"DELETE FROM {_MERGE_REGISTRY} WHERE name = ?", (name,))
    return table


def fts_phrase(search: str) -> str:
    """The user's text as one FTS5 string literal: operators and punctuation lose meaning."""
    return '"' + search.replace('"', '""') + '"'


def _like_pattern(search: str) -> str:
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


RARE_HITS = 2_000  # up to this many FTS hits, a search is driven from them (else by custom_id)
DENSE_WALK = 5_000  # deeper pages of a common term probe FTS rather than LIKE every row above


@dataclass(frozen=True, slots=True)
class _Hits:
    """The row ids a search matched, evaluated once by FTS for the page and the total."""

    ids_json: str
    rare: bool


def _fts_hits(conn: sqlite3.Connection, filt: ResultFilter, fts: bool) -> _Hits | None:
    """Probe the FTS phrase; None when the search cannot use the index (LIKE instead).

    The plan follows the hit count, read from at most `RARE_HITS + 1` hits (FTS5 stops
    there, ~2 ms). Few hits: the page and count look those rows up by id and sort them.
    Many: see `query` and `count` (a LIKE walk for the page, FTS5's own count).
    """
    search = filt.search.replace("\x00", "").strip()
    if not fts or len(search) < MIN_FTS_CHARS:
        return None
    try:
        rows = conn.execute(
            "SELECT rowid FROM results_fts WHERE results_fts MATCH ? LIMIT ?",
            (fts_phrase(search), RARE_HITS + 1),
        ).fetchall()
    except sqlite3.OperationalError:
        return None
    if len(rows) > RARE_HITS:
        return _Hits("", rare=False)
    return _Hits("[" + ",".join(str(r[0]) for r in rows) + "]", rare=True)


def _filters(
    filt: ResultFilter, *, use_fts: bool = True, hits: _Hits | None = None, driven: bool = False
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if filt.types:
        values = sorted(str(t) for t in filt.types)
        clauses.append(f"r.type IN ({placeholders(len(values))})")
        args += values
        if ResultType.SUCCEEDED not in filt.types:  # lets SQLite use results_batch_failed
            clauses.append("r.type <> 'succeeded'")
    if filt.error_types:
        values = sorted(filt.error_types)
        clauses.append(f"r.error_type IN ({placeholders(len(values))})")
        args += values
    if filt.stop_reasons:
        values = sorted(filt.stop_reasons)
        clauses.append(f"r.stop_reason IN ({placeholders(len(values))})")
        args += values
    if filt.custom_ids:
        clauses.append("r.custom_id IN (SELECT value FROM json_each(?))")
        args.append(orjson.dumps(sorted(filt.custom_ids)).decode())
    search = filt.search.replace("\x00", "").strip()  # NUL would cut the FTS query short
    if search:
        if use_fts and hits is not None and hits.rare:
            if not driven:  # (a driven source yields only the hits already)
                clauses.append("r.id IN (SELECT value FROM json_each(?))")
                args.append(hits.ids_json)
        elif use_fts and len(search) >= MIN_FTS_CHARS:
            clauses.append("r.id IN (SELECT rowid FROM results_fts WHERE results_fts MATCH ?)")
            args.append(fts_phrase(search))
        else:
            clauses.append(
                f"({SEARCH_TEXT}"
                f" LIKE ? ESCAPE '\\' OR coalesce({INPUT_TEXT}, '') LIKE ? ESCAPE '\\')"
            )
            pattern = _like_pattern(search)
            args += [pattern, pattern]
    return "".join(f" AND {c}" for c in clauses), args


def _row(r: Sequence[Any]) -> ResultRow:
    return ResultRow(
        batch_id=r[0],
        custom_id=r[1],
        type=ResultType(r[2]),
        stop_reason=r[3],
        input_tokens=r[4],
        output_tokens=r[5],
        cache_creation_input_tokens=r[6],
        cache_read_input_tokens=r[7],
        model=r[8],
        text=r[9],
        error_type=r[10],
        error_message=r[11],
        input_text=r[12],
        original_id=r[13],
        cost_usd=r[14],
        thinking=bool(r[15]),
        tool_calls=r[16],
        tool_names=r[17],
        citations=r[18],
        stop_details=r[19],
    )


def _run(
    conn: sqlite3.Connection, build: Callable[[bool], tuple[str, list[Any]]], fts: bool = True
) -> list[Any]:
    """Run a filtered query; if FTS refuses the search, retry it with a plain LIKE scan.

    `fts` False (a batch whose search index is still being built) goes straight to LIKE,
    which finds exactly what the index would.
    """
    if not fts:
        sql, args = build(False)
        return conn.execute(sql, args).fetchall()
    sql, args = build(True)
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError:
        sql, args = build(False)
        return conn.execute(sql, args).fetchall()


def count(
    conn: sqlite3.Connection,
    batch_ids: Sequence[str],
    filt: ResultFilter,
    hits: _Hits | None = None,
) -> int:
    search = filt.search.replace("\x00", "").strip()
    if ResultType.SUCCEEDED in filt.types and not (
        search or filt.error_types or filt.custom_ids or filt.stop_reasons
    ):
        # Succeeded rows have no index of their own (see `results_batch_failed`): all rows
        # less those of the other outcomes, both counted from indexes.
        others = frozenset(ResultType) - filt.types
        total = count(conn, batch_ids, ResultFilter())
        return total - count(conn, batch_ids, ResultFilter(types=others)) if others else total
    fts = fts_complete(conn, batch_ids)
    if hits is None:
        hits = _fts_hits(conn, filt, fts)
    if hits is not None and not hits.rare:
        exact = _fts_count(conn, batch_ids, filt)
        if exact is not None:
            return exact

    def build(use_fts: bool) -> tuple[str, list[Any]]:
        src = _source(conn, batch_ids, hits if use_fts else None)
        where, args = _filters(filt, use_fts=use_fts, hits=hits, driven=src.driven)
        return f"SELECT count(*) {src.sql}{where}", src.args + args

    return int(_run(conn, build, fts)[0][0])


def _fts_count(
    conn: sqlite3.Connection, batch_ids: Sequence[str], filt: ResultFilter
) -> int | None:
    """FTS5's own count of a search (~20 ms for 88,000 hits, against ~50 ms to probe each
    row of the batch), when that is exact: a search alone, over a single batch, in a store
    holding no other batch's rows. None otherwise.
    """
    ids = list(dict.fromkeys(batch_ids))
    if len(ids) != 1 or filt.types or filt.error_types or filt.custom_ids or filt.stop_reasons:
        return None
    other = conn.execute(
        "SELECT 1 FROM results WHERE batch_id < ?1 OR batch_id > ?1 LIMIT 1", (ids[0],)
    ).fetchone()
    if other is not None:
        return None
    search = filt.search.replace("\x00", "").strip()
    row = conn.execute(
        "SELECT count(*) FROM results_fts WHERE results_fts MATCH ?", (fts_phrase(search),)
    ).fetchone()
    return int(row[0])


TotalsCache = dict[tuple[tuple[str, ...], ResultFilter], tuple[tuple[Any, ...], int]]
"""(batch ids, filter) → (data stamp, total): paging a broad search counts it once."""
_TOTALS_MAX = 256


def _stamp(conn: sqlite3.Connection, batch_ids: Sequence[str]) -> tuple[Any, ...]:
    """Changes whenever rows of these batches may have changed (any ingest moves max(id))."""
    max_id = conn.execute("SELECT max(id) FROM results").fetchone()[0]
    rows = conn.execute(
        "SELECT batch_id, results_indexed FROM batch_local"
        f" WHERE batch_id IN ({placeholders(len(batch_ids))}) ORDER BY batch_id",
        list(batch_ids),
    ).fetchall()
    return (max_id, *(tuple(r) for r in rows))


def cached_count(
    conn: sqlite3.Connection,
    batch_ids: Sequence[str],
    filt: ResultFilter,
    totals: TotalsCache | None,
    hits: _Hits | None = None,
) -> int:
    """The total matching `filt`, from `totals` while these batches' rows are unchanged."""
    if totals is None:
        return count(conn, batch_ids, filt, hits)
    key = (tuple(batch_ids), filt)
    stamp = _stamp(conn, batch_ids)
    hit = totals.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    total = count(conn, batch_ids, filt, hits)
    if len(totals) >= _TOTALS_MAX:
        totals.clear()
    totals[key] = (stamp, total)
    return total


def query(
    conn: sqlite3.Connection,
    batch_ids: Sequence[str],
    filt: ResultFilter,
    offset: int,
    limit: int,
    totals: TotalsCache | None = None,
    *,
    count: bool = True,
) -> ResultPage:
    """One page of rows ordered by custom_id, with the total matching the filter.

    `count=False` skips the total (a broad search counts for longer than it takes to find a
    page): the page's `total` is then only what the page proves exists."""
    offset = max(0, offset)
    limit = max(0, limit)
    hits: _Hits | None = None

    def build(use_fts: bool) -> tuple[str, list[Any]]:
        src = _source(conn, batch_ids, hits if use_fts else None)
        where, args = _filters(filt, use_fts=use_fts, hits=hits, driven=src.driven)
        sql = f"SELECT {_ROW_COLS} {src.with_inputs()}{where} ORDER BY {src.order} LIMIT ? OFFSET ?"
        return sql, src.args + args + [limit, offset]

    conn.execute("BEGIN")  # page and total from one snapshot
    try:
        fts = fts_complete(conn, batch_ids)
        hits = _fts_hits(conn, filt, fts)
        # Many hits: walking custom_id order with LIKE finds a page after a few hundred
        # rows, where probing FTS would evaluate every hit first. Same rows for ASCII text
        # (LIKE folds ASCII case only, FTS5 all of Unicode's).
        dense = hits is not None and not hits.rare and filt.search.isascii() and offset < DENSE_WALK
        rows = _run(conn, build, fts and not dense)
        counted = count or len(rows) < limit  # a short page is the end: its total is known
        total = cached_count(conn, batch_ids, filt, totals, hits) if count else offset + len(rows)
    finally:
        conn.execute("COMMIT")
    return ResultPage(rows=[_row(r) for r in rows], offset=offset, total=total, counted=counted)


def _keyset_page(
    src: _Source,
    filt: ResultFilter,
    use_fts: bool,
    after: str | None,
    columns: str,
    size: int,
    *,
    inputs: bool,
) -> tuple[str, list[Any]]:
    """One keyset page of matching rows by custom_id: `columns`, then the key as `k` (last).

    `inputs`: `columns` read `_INPUT_JOINED`."""
    where, args = _filters(filt, use_fts=use_fts)
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


def _pages(
    connect: Callable[[], sqlite3.Connection],
    batch_ids: Sequence[str],
    filt: ResultFilter,
    columns: str,
) -> Iterator[list[Any]]:
    """Matching rows by custom_id in keyset pages of `columns` (+ the custom_id, last);
    `columns` may read `_INPUT_JOINED`."""
    conn = connect()
    src = _source(conn, batch_ids)
    fts = fts_complete(conn, batch_ids)
    after: str | None = None
    while True:

        def build(use_fts: bool, after: str | None = after) -> tuple[str, list[Any]]:
            return _keyset_page(src, filt, use_fts, after, columns, ITER_PAGE, inputs=True)

        rows = _run(conn, build, fts)
        if rows:
            yield rows
        if len(rows) < ITER_PAGE:
            return
        after = rows[-1][-1]


def _csv_cell(column: str) -> str:
    """`export.csv_safe` in SQL: '' for NULL/empty, a leading apostrophe before a formula."""
    return (
        f"CASE WHEN {column} IS NULL THEN '' WHEN substr({column}, 1, 1)"
        f" IN ('=', '+', '-', '@', char(9), char(13)) THEN '''' || {column} ELSE {column} END"
    )


def _csv_quoted(cell: str) -> str:
    """`csv.writer`'s minimal quoting: a cell holding , " CR or LF is quoted, "" doubled."""
    return (
        f"CASE WHEN instr({cell}, ',') OR instr({cell}, '\"') OR instr({cell}, char(13))"
        f" OR instr({cell}, char(10)) THEN '\"' || replace({cell}, '\"', '\"\"') || '\"'"
        f" ELSE {cell} END"
    )


CSV_SQL_LINE = " || ',' || ".join(
    (
        _csv_quoted(_csv_cell("r.custom_id")),
        _csv_quoted("r.type"),
        _csv_quoted(_csv_cell(_INPUT_JOINED)),
        _csv_quoted(_csv_cell("r.text")),
        _csv_quoted("coalesce(r.stop_reason, '')"),
        "r.input_tokens",
        "r.output_tokens",
        _csv_quoted("coalesce(r.error_type, '')"),
        _csv_quoted(_csv_cell("r.error_message")),
        _csv_quoted(_csv_cell("mi.original_id")),
        _csv_quoted("coalesce(r.model, '')"),
        "r.cache_creation_input_tokens",
        "r.cache_read_input_tokens",
        "CASE WHEN r.cost_usd IS NULL THEN '' ELSE printf('%.8f', r.cost_usd) END",
        "r.thinking",
        "r.tool_calls",
        _csv_quoted(_csv_cell("r.tool_names")),
        "r.citations",
        _csv_quoted(_csv_cell("r.stop_details")),
    )
)
"""One CSV record (without its line end) per row, as `csv.writer` would write it."""


class ResultStream(Iterator[tuple[ResultRow, str]]):
    """(row, raw line) pairs by custom_id, streamed in keyset pages (no long-lived cursor).

    Exports that need less than a `ResultRow` per result read pages of just what they write
    (`raw_pages`, `csv_pages`): building the rows cost as much as writing the file. The
    connection is taken when reading starts, so a stream created on one thread and consumed
    on a worker thread uses the worker's connection.
    """

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        batch_ids: Sequence[str],
        filt: ResultFilter,
    ) -> None:
        self._connect = connect
        self._batch_ids = list(batch_ids)
        self._filt = filt
        self._rows: Iterator[tuple[ResultRow, str]] | None = None

    def __iter__(self) -> ResultStream:
        return self

    def __next__(self) -> tuple[ResultRow, str]:
        if self._rows is None:
            pages = _pages(self._connect, self._batch_ids, self._filt, f"{_ROW_COLS}, r.raw")
            self._rows = ((_row(r), r[RAW_AT]) for page in pages for r in page)
        return next(self._rows)

    def raw_pages(self) -> Iterator[tuple[bytes, int]]:
        """(the raw lines of a page, each ending in a newline, as UTF-8; their number).

        SQLite joins the page (`group_concat` over the ordered keyset page) and hands it over
        as bytes: one object per page instead of a tuple per row, and no decoding to str and
        encoding back to UTF-8 of lines that are written as they are.
        """
        line = "rtrim(r.raw, char(13, 10)) || char(10)"
        return self._joined_pages(line, "''", RAW_PAGE, as_bytes=True)

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
        """Keyset pages of `line`s (which read `_INPUT_JOINED` if `inputs`), each joined by
        SQLite into one value."""
        conn = self._connect()
        src = _source(conn, self._batch_ids)
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

            joined, last, n = _run(conn, build, fts)[0]
            if n:
                yield joined, int(n)
            if n < size:
                return
            after = last


def iterate(
    connect: Callable[[], sqlite3.Connection],
    batch_ids: Sequence[str],
    filt: ResultFilter,
) -> ResultStream:
    """Stream (row, raw line) by custom_id in keyset pages (see `ResultStream`)."""
    return ResultStream(connect, batch_ids, filt)


def detail(
    conn: sqlite3.Connection, batch_id: str, custom_id: str
) -> tuple[ResultRow, str, str | None] | None:
    row = conn.execute(
        f"SELECT {_ROW_COLS}, r.raw FROM results r{_INPUT_JOIN}"
        " WHERE r.batch_id = ? AND r.custom_id = ?",
        (batch_id, custom_id),
    ).fetchone()
    if row is None:
        return None
    params: str | None = None
    key = manifest_key(conn, batch_id)
    if key is not None:
        found = conn.execute(
            "SELECT params_json, input_text FROM manifests"
            " WHERE job_id = ? AND part = ? AND custom_id = ?",
            (key[0], key[1], custom_id),
        ).fetchone()
        params = restore_params(found[0], found[1]) if found is not None else None
    return _row(row), row[RAW_AT], params


def summary(conn: sqlite3.Connection, batch_ids: Sequence[str]) -> ResultSummary:
    """Counts per outcome and error type, tokens and cost (batch vs standard price)."""
    src = _source(conn, batch_ids)
    rows = conn.execute(
        "SELECT r.type, r.error_type, count(*), sum(r.input_tokens + r.cache_creation_input_tokens"
        " + r.cache_read_input_tokens), sum(r.output_tokens), sum(r.cost_usd), r.stop_reason"
        f" {src.sql} GROUP BY r.type, r.error_type, r.stop_reason",
        src.args,
    ).fetchall()
    by_type: dict[ResultType, int] = dict.fromkeys(ResultType, 0)  # every outcome present
    by_error: dict[str, int] = {}
    in_tok = out_tok = 0
    cost = 0.0
    by_stop: dict[str, int] = {}
    for kind, error_type, n, i, o, c, stop in rows:
        rt = ResultType(kind)
        if stop:
            by_stop[stop] = by_stop.get(stop, 0) + n
        by_type[rt] = by_type.get(rt, 0) + n
        if rt is ResultType.ERRORED:
            name = error_type or "unknown"
            by_error[name] = by_error.get(name, 0) + n
        in_tok += i or 0
        out_tok += o or 0
        cost += c or 0.0
    return ResultSummary(
        by_type=by_type,
        by_error_type=by_error,
        input_tokens=in_tok,
        output_tokens=out_tok,
        cost_usd=cost,
        standard_cost_usd=cost / BATCH_DISCOUNT,
        by_stop_reason=by_stop,
    )


def error_types(conn: sqlite3.Connection, batch_ids: Sequence[str]) -> dict[str, int]:
    """Errored rows per error type, most frequent first."""
    src = _source(conn, batch_ids)
    rows = conn.execute(
        f"SELECT coalesce(r.error_type, 'unknown'), count(*) {src.sql} AND r.type = 'errored'"
        " GROUP BY 1 ORDER BY 2 DESC, 1",
        src.args,
    ).fetchall()
    return {name: int(n) for name, n in rows}


def failed_requests(conn: sqlite3.Connection, batch_id: str) -> list[FailedRequest]:
    """The errored, expired and canceled requests of one batch, and its successes that
    stopped with `refusal` or `max_tokens`, with their parameters from the manifest when
    batchtop has them (which to resend is `core/retry.py`'s rule)."""
    key = manifest_key(conn, batch_id)
    rows = conn.execute(
        "SELECT r.custom_id, r.type, r.error_type, m.params_json, m.input_text, r.stop_reason"
        " FROM results r"
        " LEFT JOIN manifests m ON m.job_id = ? AND m.part = ? AND m.custom_id = r.custom_id"
        " WHERE r.batch_id = ?"
        " AND (r.type != 'succeeded' OR r.stop_reason IN ('refusal', 'max_tokens'))"
        " ORDER BY r.custom_id",
        (key[0] if key else None, key[1] if key else None, batch_id),
    ).fetchall()
    return [
        FailedRequest(
            r[0],
            ResultType(r[1]),
            r[2],
            None if r[3] is None else restore_params(r[3], r[4]),
            r[5] if r[1] == "succeeded" else None,
        )
        for r in rows
    ]
