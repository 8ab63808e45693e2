"""Reads of the results index: pages, counts, details, summaries, failed requests.

A job's results span several batches (the original parts and their retries): queries over
several batch ids first keep, per custom_id, the newest succeeded row if there is one, else
the newest row ("newest" = from the batch created last), and only then filter and page.
Searches use the FTS index where it is complete, an equivalent LIKE scan elsewhere.
Every function takes a connection; `ResultsIndex` (index.py) documents the public contract.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ..manifest_rows import restore_params
from ..models import FailedRequest, ResultFilter, ResultPage, ResultRow, ResultSummary, ResultType
from ..pricing import BATCH_DISCOUNT
from ..providers.openai_lines import stops_meaning
from ..sqlite_util import placeholders
from .raw_lines import RAW_COLUMNS, RawLines
from .search import fts_complete
from .sql import INPUT_JOIN, INPUT_TEXT, RAW_AT, ROW, SEARCH_TEXT, manifest_key

_RESENDABLE = (*stops_meaning("refusal"), *stops_meaning("max_tokens"))
"""Stored stop reasons of the successes a retry may resend (refusals and cuts)."""

MIN_FTS_CHARS = 3  # the trigram tokenizer cannot match shorter strings


@dataclass(frozen=True, slots=True)
class Source:
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
        """`sql` joined with each row's manifest entry, for `INPUT_JOINED`."""
        return f"{self.tables}{INPUT_JOIN} {self.where}"


_MERGE_REGISTRY = "temp.batchtop_merges"
_MERGE_KEEP = 8  # merged sets kept per connection


def source(conn: sqlite3.Connection, batch_ids: Sequence[str], hits: _Hits | None = None) -> Source:
    ids = list(dict.fromkeys(batch_ids))
    if len(ids) == 1:
        if hits is not None and hits.rare:
            # Driven from the few FTS hits: look each up by id, then sort (not a walk of
            # the whole batch in custom_id order probing the hit set).
            return Source(
                "FROM json_each(?) j CROSS JOIN results r ON r.id = j.value",
                "WHERE r.batch_id = ?",
                [hits.ids_json, ids[0]],
                "r.custom_id",
                driven=True,
            )
        return Source("FROM results r", "WHERE r.batch_id = ?", ids, "r.custom_id")
    if not ids:
        return Source("FROM results r", "WHERE 0", [], "r.custom_id")
    table = _merged_table(conn, ids)
    return Source(
        f"FROM temp.{table} m JOIN results r ON r.id = m.id", "WHERE 1", [], "m.custom_id"
    )


def row_source(conn: sqlite3.Connection, batch_ids: Sequence[str]) -> tuple[str, list[Any]]:
    """`FROM … WHERE …` (and its parameters) over `results r`, one row per custom_id: a job's
    batches merged the way every other query here sees them. Filters append " AND …"."""
    src = source(conn, batch_ids)
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


def filters(
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
    if filt.stop_reasons:  # a neutral one matches the provider's words for it too
        values = sorted({own for stop in filt.stop_reasons for own in stops_meaning(stop)})
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


def to_row(r: Sequence[Any], at: Any = ROW.at) -> ResultRow:
    """A `ResultRow` from a row of `sql.ROW` (`at`: where each of its columns is)."""
    return ResultRow(
        batch_id=r[at.batch_id],
        custom_id=r[at.custom_id],
        type=ResultType(r[at.type]),
        stop_reason=r[at.stop_reason],
        input_tokens=r[at.input_tokens],
        output_tokens=r[at.output_tokens],
        cache_creation_input_tokens=r[at.cache_creation_input_tokens],
        cache_read_input_tokens=r[at.cache_read_input_tokens],
        model=r[at.model],
        text=r[at.text],
        error_type=r[at.error_type],
        error_message=r[at.error_message],
        input_text=r[at.input_text],
        original_id=r[at.original_id],
        cost_usd=r[at.cost_usd],
        thinking=bool(r[at.thinking]),
        tool_calls=r[at.tool_calls],
        tool_names=r[at.tool_names],
        citations=r[at.citations],
        stop_details=r[at.stop_details],
    )


def run(
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
        src = source(conn, batch_ids, hits if use_fts else None)
        where, args = filters(filt, use_fts=use_fts, hits=hits, driven=src.driven)
        return f"SELECT count(*) {src.sql}{where}", src.args + args

    return int(run(conn, build, fts)[0][0])


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
        src = source(conn, batch_ids, hits if use_fts else None)
        where, args = filters(filt, use_fts=use_fts, hits=hits, driven=src.driven)
        sql = f"SELECT {ROW.sql} {src.with_inputs()}{where} ORDER BY {src.order} LIMIT ? OFFSET ?"
        return sql, src.args + args + [limit, offset]

    conn.execute("BEGIN")  # page and total from one snapshot
    try:
        fts = fts_complete(conn, batch_ids)
        hits = _fts_hits(conn, filt, fts)
        # Many hits: walking custom_id order with LIKE finds a page after a few hundred
        # rows, where probing FTS would evaluate every hit first. Same rows for ASCII text
        # (LIKE folds ASCII case only, FTS5 all of Unicode's).
        dense = hits is not None and not hits.rare and filt.search.isascii() and offset < DENSE_WALK
        rows = run(conn, build, fts and not dense)
        counted = count or len(rows) < limit  # a short page is the end: its total is known
        total = cached_count(conn, batch_ids, filt, totals, hits) if count else offset + len(rows)
    finally:
        conn.execute("COMMIT")
    return ResultPage(rows=[to_row(r) for r in rows], offset=offset, total=total, counted=counted)


def detail(
    conn: sqlite3.Connection, batch_id: str, custom_id: str
) -> tuple[ResultRow, str, str | None] | None:
    row = conn.execute(
        f"SELECT {ROW.sql}, {RAW_COLUMNS} FROM results r{INPUT_JOIN}"
        " WHERE r.batch_id = ? AND r.custom_id = ?",
        (batch_id, custom_id),
    ).fetchone()
    if row is None:
        return None
    with RawLines(conn) as lines:
        raw = lines.text(batch_id, *row[RAW_AT : RAW_AT + 4])
    params: str | None = None
    key = manifest_key(conn, batch_id)
    if key is not None:
        found = conn.execute(
            "SELECT params_json, input_text FROM manifests"
            " WHERE job_id = ? AND part = ? AND custom_id = ?",
            (key[0], key[1], custom_id),
        ).fetchone()
        params = restore_params(found[0], found[1]) if found is not None else None
    return to_row(row), raw, params


def summary(conn: sqlite3.Connection, batch_ids: Sequence[str]) -> ResultSummary:
    """Counts per outcome and error type, tokens and cost (batch vs standard price)."""
    src = source(conn, batch_ids)
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
    src = source(conn, batch_ids)
    rows = conn.execute(
        f"SELECT coalesce(r.error_type, 'unknown'), count(*) {src.sql} AND r.type = 'errored'"
        " GROUP BY 1 ORDER BY 2 DESC, 1",
        src.args,
    ).fetchall()
    return {name: int(n) for name, n in rows}


def failed_requests(
    conn: sqlite3.Connection, batch_id: str, unlisted: ResultType | None = None
) -> list[FailedRequest]:
    """The errored, expired and canceled requests of one batch, and its successes that
    stopped with `refusal` or `max_tokens`, with their parameters from the manifest when
    batchtop has them (which to resend is `core/retry.py`'s rule).

    `unlisted`: the outcome of the manifest's requests that have no result line (OpenAI:
    those a cancel or the expiry kept from running, which its files need not list); None
    leaves them out."""
    key = manifest_key(conn, batch_id)
    job, part = (key[0], key[1]) if key else (None, None)
    sql = (
        "SELECT r.custom_id, r.type, r.error_type, m.params_json, m.input_text, r.stop_reason"
        " FROM results r"
        " LEFT JOIN manifests m ON m.job_id = ? AND m.part = ? AND m.custom_id = r.custom_id"
        " WHERE r.batch_id = ?"
        f" AND (r.type != 'succeeded' OR r.stop_reason IN ({placeholders(len(_RESENDABLE))}))"
    )
    args: list[Any] = [job, part, batch_id, *_RESENDABLE]
    if unlisted is not None and key is not None:
        sql += (
            " UNION ALL SELECT m.custom_id, ?, NULL, m.params_json, m.input_text, NULL"
            " FROM manifests m WHERE m.job_id = ? AND m.part = ? AND NOT EXISTS"
            " (SELECT 1 FROM results r WHERE r.batch_id = ? AND r.custom_id = m.custom_id)"
        )
        args += [unlisted.value, job, part, batch_id]
    rows = conn.execute(f"SELECT * FROM ({sql}) ORDER BY 1", args).fetchall()
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
