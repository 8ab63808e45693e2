"""Statistics of a batch's or a job's results and progress: SQL aggregates only.

Nothing here reads rows into Python: every figure is a GROUP BY, a bounded ORDER BY … LIMIT
or a histogram bucketed in SQL. One batch is read from `result_facts` (schema migration 8):
one narrow row per result, kept in the order the aggregates group by, so a 100k-result batch
is summarised from a few MB instead of its full rows (text and raw line included). Facts are
written after the ingest, off its critical path (`build_facts`, in short steps; the first
query builds them if nothing has yet). Right after its facts, a batch's summary is
computed once and kept (`summarise`: the grouped pass's rows, the histograms' bins, the top
lists' ids), so opening its view reads a few dozen rows, not 100k facts. A job reads its
merged rows from `results` (newest success per custom_id, as the results viewer shows
them). Progress comes from the `snapshots` table, downsampled in SQL.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from .database import Database
from .models import (
    Histogram,
    NotableRequest,
    ProgressPoint,
    ProgressSeries,
    ResultBreakdown,
    ResultDistribution,
    ResultStats,
    ResultType,
    Share,
)
from .results import row_source
from .sqlite_util import placeholders, req_dt, write_txn

K = TypeVar("K")
HISTOGRAM_BINS = 20
NOTABLE = 5  # requests per "top" list
PROGRESS_BUCKETS = 240  # points at most on a progress line

INPUT_TOTAL = "(r.input_tokens + r.cache_creation_input_tokens + r.cache_read_input_tokens)"
"""A request's whole prompt, cached parts included (what 'prompt length' means to a user)."""

_OUTCOME_ORDER = {
    ResultType.SUCCEEDED: 0,
    ResultType.ERRORED: 1,
    ResultType.CANCELED: 2,
    ResultType.EXPIRED: 3,
}


@dataclass(frozen=True, slots=True)
class _Src:
    """FROM … WHERE … over the rows to summarise (one per custom_id), with how to read each
    column there; `grouped` when rows come in (type, error, stop reason, model, output) order."""

    sql: str
    args: list[Any]
    error_type: str = "r.error_type"
    stop_reason: str = "r.stop_reason"
    model: str = "r.model"
    input_total: str = INPUT_TOTAL
    grouped: bool = False


_FACTS_STEP = 20_000  # rows per write transaction while building facts


def facts_fresh(conn: sqlite3.Connection, batch_id: str) -> bool:
    """True when `result_facts` holds this batch's rows: built for as many rows as its ingest
    indexed (an ingest that replaces a batch's rows first drops the built mark)."""
    row = conn.execute(
        "SELECT f.rows = coalesce(l.results_indexed, 0) FROM result_facts_built f"
        " LEFT JOIN batch_local l ON l.batch_id = f.batch_id WHERE f.batch_id = ?",
        (batch_id,),
    ).fetchone()
    return bool(row is not None and row[0])


def build_facts(
    conn: sqlite3.Connection, batch_id: str, should_stop: Callable[[], bool] | None = None
) -> bool:
    """(Re)write a batch's facts in short transactions; True when they are complete.

    Safe to run from several threads or processes: rows are written with INSERT OR REPLACE,
    and the batch is marked built only if the facts match its rows at that moment."""
    with write_txn(conn):
        conn.execute("DELETE FROM result_facts_built WHERE batch_id = ?", (batch_id,))
        conn.execute("DELETE FROM result_facts WHERE batch_id = ?", (batch_id,))
    after = -1
    while True:
        if should_stop is not None and should_stop():
            return False
        with write_txn(conn):
            last = conn.execute(
                "SELECT max(id) FROM (SELECT id FROM results WHERE batch_id = ? AND id > ?"
                " ORDER BY id LIMIT ?)",
                (batch_id, after, _FACTS_STEP),
            ).fetchone()[0]
            if last is None:
                break
            conn.execute(
                "INSERT OR REPLACE INTO result_facts SELECT batch_id, type,"
                " coalesce(error_type, ''), coalesce(stop_reason, ''), coalesce(model, ''),"
                f" output_tokens, {INPUT_TOTAL.replace('r.', '')}, cost_usd, id FROM results"
                " WHERE batch_id = ? AND id > ? AND id <= ?",
                (batch_id, after, last),
            )
        after = last
    with write_txn(conn):
        now = conn.execute(
            "SELECT count(*), coalesce(max(id), 0) FROM results WHERE batch_id = ?", (batch_id,)
        ).fetchone()
        have = conn.execute(
            "SELECT count(*), coalesce(max(id), 0) FROM result_facts WHERE batch_id = ?",
            (batch_id,),
        ).fetchone()
        if tuple(now) != tuple(have):
            return False  # the batch's rows changed meanwhile: built again next time
        conn.execute(
            "INSERT OR REPLACE INTO result_facts_built (batch_id, rows, max_id) VALUES (?, ?, ?)",
            (batch_id, *now),
        )
    if should_stop is not None and should_stop():
        return True  # the summary is written by the next view that opens (`_summarised`)
    summarise(conn, batch_id)
    return True


def facts_pending(conn: sqlite3.Connection) -> list[str]:
    """Batches with indexed results whose facts are not built (or no longer match)."""
    rows = conn.execute(
        "SELECT l.batch_id FROM batch_local l LEFT JOIN result_facts_built f"
        " ON f.batch_id = l.batch_id WHERE l.results_indexed > 0"
        " AND (f.batch_id IS NULL OR f.rows <> l.results_indexed) ORDER BY l.batch_id"
    ).fetchall()
    return [r[0] for r in rows]


def build_pending_facts(conn: sqlite3.Connection, should_stop: Callable[[], bool]) -> None:
    """Build every batch's missing facts (the results' background builder runs this after
    the search index, see `ResultsIndex`), until `should_stop()`."""
    for batch_id in facts_pending(conn):
        if not build_facts(conn, batch_id, should_stop):
            break


def _source(conn: sqlite3.Connection, batch_ids: Sequence[str]) -> _Src:
    ids = list(dict.fromkeys(batch_ids))
    if len(ids) == 1:
        if not facts_fresh(conn, ids[0]):
            build_facts(conn, ids[0])
        if facts_fresh(conn, ids[0]):
            return _facts_source(ids[0])
    sql, args = row_source(conn, ids)
    return _Src(sql, args)


def _facts_source(batch_id: str) -> _Src:
    return _Src(
        "FROM result_facts r WHERE r.batch_id = ?",
        [batch_id],
        error_type="nullif(r.error_type, '')",
        stop_reason="nullif(r.stop_reason, '')",
        model="nullif(r.model, '')",
        input_total="r.input_total",
        grouped=True,
    )


def bin_width(maximum: int, bins: int = HISTOGRAM_BINS) -> int:
    """A round bin width so that `bins` bins cover 0..maximum."""
    raw = max(1, math.ceil((maximum + 1) / bins))
    magnitude = 10 ** (len(str(raw)) - 1)
    for step in (1, 2, 2.5, 5, 10):
        width = int(step * magnitude)
        if width >= raw:
            return width
    return raw  # pragma: no cover (10 × magnitude ≥ raw always)


def _bin_counts(
    conn: sqlite3.Connection, src: _Src, column: str, width: int, presorted: bool = False
) -> list[tuple[int, int]]:
    """(bin, requests) of the succeeded requests' `column`, for the non-empty bins."""
    if presorted:
        # Facts order output tokens within each (type, error, stop reason, model) group:
        # counting per distinct value streams, and only those few counts are sorted into bins.
        sql = (
            f"SELECT v / ? AS b, sum(n) FROM (SELECT {column} AS v, count(*) AS n {src.sql}"
            f" AND r.type = 'succeeded' GROUP BY r.type, r.error_type, r.stop_reason, r.model,"
            f" {column}) GROUP BY b"
        )
    else:
        sql = f"SELECT {column} / ? AS b, count(*) {src.sql} AND r.type = 'succeeded' GROUP BY b"
    return [(int(b), int(n)) for b, n in conn.execute(sql, [width, *src.args]).fetchall()]


def _histogram_of(maximum: int, width: int, rows: Sequence[tuple[int, int]]) -> Histogram:
    bins = max(1, math.ceil((maximum + 1) / width))
    counts = [0] * bins
    for b, n in rows:
        counts[min(b, bins - 1)] += n
    return Histogram(edges=tuple(i * width for i in range(bins + 1)), counts=tuple(counts))


def _histogram(
    conn: sqlite3.Connection, src: _Src, column: str, maximum: int, presorted: bool = False
) -> Histogram:
    width = bin_width(maximum)
    return _histogram_of(maximum, width, _bin_counts(conn, src, column, width, presorted))


def _threshold(hist: Histogram, n: int = NOTABLE) -> int:
    """The lowest bin edge with at least `n` values at or above it (0 if there are fewer)."""
    seen = 0
    for i in range(len(hist.counts) - 1, -1, -1):
        seen += hist.counts[i]
        if seen >= n:
            return hist.edges[i]
    return 0


def _top_ids(conn: sqlite3.Connection, src: _Src, order: str, at_least: float) -> list[int]:
    """The ids of the NOTABLE rows highest in `order` (from the index alone; `at_least` keeps
    the sort small)."""
    return [
        int(r[0])
        for r in conn.execute(
            f"SELECT r.id {src.sql} AND {order} >= ? AND {order} > 0"
            f" ORDER BY {order} DESC, r.id LIMIT ?",
            [*src.args, at_least, NOTABLE],
        ).fetchall()
    ]


def _notable(conn: sqlite3.Connection, ids: Sequence[int]) -> tuple[NotableRequest, ...]:
    """The requests of these result ids, in this order."""
    if not ids:
        return ()
    rows = conn.execute(
        "SELECT id, batch_id, custom_id, type, stop_reason, input_tokens"
        " + cache_creation_input_tokens + cache_read_input_tokens, output_tokens, cost_usd,"
        f" model FROM results WHERE id IN ({placeholders(len(ids))})",
        list(ids),
    ).fetchall()
    by_id = {r[0]: r for r in rows}
    return tuple(
        NotableRequest(
            batch_id=r[1],
            custom_id=r[2],
            type=ResultType(r[3]),
            stop_reason=r[4],
            input_tokens=int(r[5]),
            output_tokens=int(r[6]),
            cost_usd=r[7],
            model=r[8],
        )
        for r in (by_id[i] for i in ids if i in by_id)
    )


def _shares(groups: dict[str, list[float]]) -> tuple[Share, ...]:
    """Shares from label → [count, cost], largest count first (label breaks ties)."""
    ordered = sorted(groups.items(), key=lambda kv: (-kv[1][0], kv[0]))
    return tuple(Share(label, int(v[0]), float(v[1])) for label, v in ordered)


def _add(table: dict[K, list[float]], key: K, n: int, cost: float) -> None:
    slot = table.setdefault(key, [0, 0.0])
    slot[0] += n
    slot[1] += cost


def _group_rows(conn: sqlite3.Connection, src: _Src) -> list[tuple[Any, ...]]:
    """The one grouped pass: (type, error type, stop reason, model, requests, cost, max output
    tokens, max prompt tokens, priced requests) per group."""
    return conn.execute(
        f"SELECT r.type, {src.error_type}, {src.stop_reason}, {src.model}, count(*),"
        f" total(r.cost_usd), max(r.output_tokens), max({src.input_total}), count(r.cost_usd)"
        f" {src.sql} GROUP BY r.type, r.error_type, r.stop_reason, r.model",
        src.args,
    ).fetchall()


def _breakdown(groups: Sequence[tuple[Any, ...]]) -> ResultBreakdown:
    outcomes: dict[tuple[int, str], list[float]] = {}
    stops: dict[str, list[float]] = {}
    models: dict[str, list[float]] = {}
    by_outcome: dict[str, list[float]] = {}
    total = 0
    cost = 0.0
    unpriced = 0
    max_out = max_in = 0
    for kind, error_type, stop, model, n, c, mo, mi, n_priced in groups:
        rt = ResultType(kind)
        total += n
        cost += c
        if rt is ResultType.SUCCEEDED:  # only these are billed: the others need no price
            unpriced += n - n_priced
            max_out = max(max_out, int(mo or 0))
            max_in = max(max_in, int(mi or 0))
        label = f"errored: {error_type or 'unknown'}" if rt is ResultType.ERRORED else str(rt)
        _add(outcomes, (_OUTCOME_ORDER[rt], label), n, c)
        if rt is ResultType.SUCCEEDED:
            _add(stops, stop or "—", n, c)  # none given (an embedding does not stop)
        if model is not None or c:
            _add(models, model or "unknown", n, c)
        _add(by_outcome, str(rt), n, c)
    ordered_outcomes = sorted(outcomes.items(), key=lambda kv: (kv[0][0], -kv[1][0], kv[0][1]))
    return ResultBreakdown(
        total=total,
        cost_usd=cost,
        unpriced=unpriced,
        outcomes=tuple(Share(k[1], int(v[0]), float(v[1])) for k, v in ordered_outcomes),
        stop_reasons=_shares(stops),
        cost_by_model=tuple(sorted(_shares(models), key=lambda s: (-s.cost_usd, s.label))),
        cost_by_outcome=tuple(
            sorted(_shares(by_outcome), key=lambda s: _OUTCOME_ORDER[ResultType(s.label)])
        ),
        max_output_tokens=max_out,
        max_input_tokens=max_in,
    )


def result_breakdown(conn: sqlite3.Connection, batch_ids: Sequence[str]) -> ResultBreakdown:
    """Outcomes, stop reasons, cost by model and by outcome: one grouped pass (for one batch,
    read from its summary). The token maxima (which size the histograms) are of the
    succeeded requests."""
    ids = list(dict.fromkeys(batch_ids))
    if _summarised(conn, ids):
        groups = conn.execute(
            "SELECT type, nullif(error_type, ''), nullif(stop_reason, ''), nullif(model, ''),"
            " n, cost_usd, max_output_tokens, max_input_total, priced"
            " FROM result_groups WHERE batch_id = ?",
            ids,
        ).fetchall()
    else:
        groups = _group_rows(conn, _source(conn, ids))
    return _breakdown(groups)


_TOP_LISTS = ("longest", "largest_inputs", "priciest")


def _distribution(
    conn: sqlite3.Connection, src: _Src, breakdown: ResultBreakdown
) -> tuple[ResultDistribution, dict[str, tuple[int, list[tuple[int, int]]]], dict[str, list[int]]]:
    """The distribution, with what it was made of: each histogram's (bin width, non-empty
    bins) and each top list's result ids (what `summarise` keeps)."""
    bins: dict[str, tuple[int, list[tuple[int, int]]]] = {}
    for kind, column, maximum, presorted in (
        ("output", "r.output_tokens", breakdown.max_output_tokens, src.grouped),
        ("input", src.input_total, breakdown.max_input_tokens, False),
    ):
        width = bin_width(maximum)
        bins[kind] = (width, _bin_counts(conn, src, column, width, presorted))
    out_hist = _histogram_of(breakdown.max_output_tokens, *bins["output"])
    in_hist = _histogram_of(breakdown.max_input_tokens, *bins["input"])
    tops = {
        "longest": _top_ids(conn, src, "r.output_tokens", _threshold(out_hist)),
        "largest_inputs": _top_ids(conn, src, src.input_total, _threshold(in_hist)),
        "priciest": _top_ids(conn, src, "r.cost_usd", 0.0),
    }
    distribution = ResultDistribution(
        output_tokens=out_hist,
        input_tokens=in_hist,
        longest=_notable(conn, tops["longest"]),
        largest_inputs=_notable(conn, tops["largest_inputs"]),
        priciest=_notable(conn, tops["priciest"]),
    )
    return distribution, bins, tops


def _summary_distribution(
    conn: sqlite3.Connection, batch_id: str, breakdown: ResultBreakdown
) -> ResultDistribution | None:
    """The distribution from a batch's summary; None when its bins were counted with other
    widths than these maxima give (a summary of other rows)."""
    hists: list[Histogram] = []
    for kind, maximum in (
        ("output", breakdown.max_output_tokens),
        ("input", breakdown.max_input_tokens),
    ):
        width = bin_width(maximum)
        rows = conn.execute(
            "SELECT bin, n, width FROM result_bins WHERE batch_id = ? AND kind = ?",
            (batch_id, kind),
        ).fetchall()
        if any(int(w) != width for _, _, w in rows):
            return None
        hists.append(_histogram_of(maximum, width, [(int(b), int(n)) for b, n, _ in rows]))
    tops: dict[str, list[int]] = {name: [] for name in _TOP_LISTS}
    for name, result_id in conn.execute(
        "SELECT list, result_id FROM result_top WHERE batch_id = ? ORDER BY list, rank",
        (batch_id,),
    ).fetchall():
        tops[name].append(int(result_id))
    return ResultDistribution(
        output_tokens=hists[0],
        input_tokens=hists[1],
        longest=_notable(conn, tops["longest"]),
        largest_inputs=_notable(conn, tops["largest_inputs"]),
        priciest=_notable(conn, tops["priciest"]),
    )


def result_distribution(
    conn: sqlite3.Connection, batch_ids: Sequence[str], breakdown: ResultBreakdown
) -> ResultDistribution:
    """Token histograms of the succeeded requests; the longest / largest / most expensive
    (for one batch, read from its summary)."""
    ids = list(dict.fromkeys(batch_ids))
    if _summarised(conn, ids):
        cached = _summary_distribution(conn, ids[0], breakdown)
        if cached is not None:
            return cached
    return _distribution(conn, _source(conn, ids), breakdown)[0]


def result_stats(conn: sqlite3.Connection, batch_ids: Sequence[str]) -> ResultStats:
    """Both halves at once (the view asks for them one after the other)."""
    breakdown = result_breakdown(conn, batch_ids)
    return ResultStats(breakdown, result_distribution(conn, batch_ids, breakdown))


# --- a batch's summary: its numbers computed once, when its facts are built ---------------


def summary_fresh(conn: sqlite3.Connection, batch_id: str) -> bool:
    """True when the batch's summary was computed from its facts as they are, and those
    facts hold its rows."""
    row = conn.execute(
        "SELECT f.summary_rows = f.rows AND f.rows = coalesce(l.results_indexed, 0)"
        " FROM result_facts_built f LEFT JOIN batch_local l ON l.batch_id = f.batch_id"
        " WHERE f.batch_id = ?",
        (batch_id,),
    ).fetchone()
    return bool(row is not None and row[0])


def summarise(conn: sqlite3.Connection, batch_id: str) -> bool:
    """Compute a batch's summary from its facts and keep it (one transaction, a few
    rows); False when its facts are not built for its rows (nothing written)."""
    with write_txn(conn):
        if not facts_fresh(conn, batch_id):
            return False
        src = _facts_source(batch_id)
        groups = _group_rows(conn, src)
        _, bins, tops = _distribution(conn, src, _breakdown(groups))
        for table in ("result_groups", "result_bins", "result_top"):
            conn.execute(f"DELETE FROM {table} WHERE batch_id = ?", (batch_id,))
        conn.executemany(
            "INSERT INTO result_groups (batch_id, type, error_type, stop_reason, model, n,"
            " cost_usd, max_output_tokens, max_input_total, priced)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(batch_id, g[0], g[1] or "", g[2] or "", g[3] or "", *g[4:]) for g in groups],
        )
        conn.executemany(
            "INSERT INTO result_bins (batch_id, kind, bin, width, n) VALUES (?, ?, ?, ?, ?)",
            [
                (batch_id, kind, b, width, n)
                for kind, (width, rows) in bins.items()
                for b, n in rows
            ],
        )
        conn.executemany(
            "INSERT INTO result_top (batch_id, list, rank, result_id) VALUES (?, ?, ?, ?)",
            [(batch_id, name, rank, i) for name, ids in tops.items() for rank, i in enumerate(ids)],
        )
        conn.execute(
            "UPDATE result_facts_built SET summary_rows = rows WHERE batch_id = ?", (batch_id,)
        )
    return True


def _summarised(conn: sqlite3.Connection, ids: Sequence[str]) -> bool:
    """True when these ids are one batch whose summary can be read: written now if it is
    missing (its facts built first when they are not)."""
    if len(ids) != 1:
        return False
    batch_id = ids[0]
    if summary_fresh(conn, batch_id):
        return True
    if not facts_fresh(conn, batch_id):
        build_facts(conn, batch_id)  # summarises too
    elif not summarise(conn, batch_id):
        return False
    return summary_fresh(conn, batch_id)


# --- progress over time -------------------------------------------------------------------


def progress_series(
    conn: sqlite3.Connection, batch_ids: Sequence[str], now: datetime
) -> ProgressSeries | None:
    """Completions (succeeded + errored + canceled + expired) against time since creation.

    Each batch's snapshots are bucketed in SQL (the highest count per bucket), then a job's
    batches are summed bucket by bucket, each carrying its last count forward. None when no
    batch is known.
    """
    ids = list(dict.fromkeys(batch_ids))
    if not ids:
        return None
    batches = conn.execute(
        "SELECT id, created_at, expires_at, ended_at, processing + succeeded + errored"
        " + canceled + expired, succeeded + errored + canceled + expired"
        f" FROM batches WHERE id IN ({placeholders(len(ids))})",
        ids,
    ).fetchall()
    if not batches:
        return None
    start = min(req_dt(b[1]) for b in batches)
    ended = all(b[3] is not None for b in batches)
    end = max(req_dt(b[3]) for b in batches) if ended else now
    end_s = max((end - start).total_seconds(), 0.0)  # snapshots after the end count at it
    span_s = max(end_s, 1.0)
    step = span_s / PROGRESS_BUCKETS
    start_text = batches[0][1] if len(batches) == 1 else min(b[1] for b in batches)
    rows = conn.execute(
        "SELECT batch_id, CAST((julianday(at) - julianday(?)) * 86400.0 / ? AS INTEGER) AS b,"
        " max(succeeded + errored + canceled + expired)"
        f" FROM snapshots WHERE batch_id IN ({placeholders(len(ids))}) GROUP BY batch_id, b",
        [start_text, step, *ids],
    ).fetchall()
    per_batch: dict[str, dict[int, int]] = {}
    for batch_id, b, done in rows:
        per_batch.setdefault(batch_id, {})[max(0, min(int(b), PROGRESS_BUCKETS))] = int(done)
    buckets = sorted({b for series in per_batch.values() for b in series})
    points: list[ProgressPoint] = [ProgressPoint(0.0, 0)]
    last: dict[str, int] = {}
    for b in buckets:
        for batch_id, series in per_batch.items():
            if b in series:
                last[batch_id] = max(series[b], last.get(batch_id, 0))
        points.append(ProgressPoint(min(b * step, end_s), sum(last.values())))
    done_now = sum(int(b[5]) for b in batches)
    if points[-1].done != done_now or points[-1].seconds < end_s:
        points.append(ProgressPoint(end_s, done_now))
    expiries = [req_dt(b[2]) for b in batches if b[3] is None] or [req_dt(b[2]) for b in batches]
    return ProgressSeries(
        start=start,
        total=sum(int(b[4]) for b in batches),
        done=done_now,
        points=tuple(points),
        expires_s=(min(expiries) - start).total_seconds(),
        now_s=end_s,
        ended=ended,
    )


# --- the numbers behind each chart (CSV export) --------------------------------------------

ChartTable = tuple[tuple[str, ...], list[tuple[Any, ...]]]
"""(header, rows): exactly what a chart draws."""


def shares_table(shares: Sequence[Share]) -> ChartTable:
    return ("label", "requests", "cost_usd"), [(s.label, s.count, s.cost_usd) for s in shares]


def histogram_table(hist: Histogram) -> ChartTable:
    rows = [(hist.edges[i], hist.edges[i + 1], n) for i, n in enumerate(hist.counts)]
    return ("tokens_from", "tokens_to", "requests"), rows


def progress_table(series: ProgressSeries | None) -> ChartTable:
    header = ("seconds_since_creation", "done", "total")
    if series is None:
        return header, []
    return header, [(round(p.seconds, 3), p.done, series.total) for p in series.points]


class Statistics:
    """The statistics view's reads over one store's database (each thread its connection)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def result_breakdown(self, batch_ids: Sequence[str]) -> ResultBreakdown:
        """Counts and costs by outcome, stop reason and model."""
        return result_breakdown(self.db.conn(), batch_ids)

    def result_distribution(
        self, batch_ids: Sequence[str], breakdown: ResultBreakdown
    ) -> ResultDistribution:
        """Token histograms and top requests."""
        return result_distribution(self.db.conn(), batch_ids, breakdown)

    def progress_series(self, batch_ids: Sequence[str], now: datetime) -> ProgressSeries | None:
        """Completions over time from the snapshots."""
        return progress_series(self.db.conn(), batch_ids, now)
