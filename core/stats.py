"""Statistics of a batch's or a job's results and progress: SQL aggregates only.

Nothing here reads rows into Python: every figure is a GROUP BY, a bounded ORDER BY … LIMIT
or a histogram bucketed in SQL. One batch is read from `result_facts` (schema migration 8):
one narrow row per result, kept in the order the aggregates group by, so a 100k-result batch
is summarised from a few MB instead of its full rows (text and raw line included). Facts are
written after the ingest, off its critical path (`build_facts`, in short steps; the first
query builds them if nothing has yet). A job reads its merged rows from `results` (newest
success per custom_id, as the results viewer shows them). Progress comes from the
`snapshots` table, downsampled in SQL.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

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
from .results_index import row_source
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
    return True


def facts_pending(conn: sqlite3.Connection) -> list[str]:
    """Batches with indexed results whose facts are not built (or no longer match)."""
    rows = conn.execute(
        "SELECT l.batch_id FROM batch_local l LEFT JOIN result_facts_built f"
        " ON f.batch_id = l.batch_id WHERE l.results_indexed > 0"
        " AND (f.batch_id IS NULL OR f.rows <> l.results_indexed) ORDER BY l.batch_id"
    ).fetchall()
    return [r[0] for r in rows]


def _source(conn: sqlite3.Connection, batch_ids: Sequence[str]) -> _Src:
    ids = list(dict.fromkeys(batch_ids))
    if len(ids) == 1:
        if not facts_fresh(conn, ids[0]):
            build_facts(conn, ids[0])
        if facts_fresh(conn, ids[0]):
            return _Src(
                "FROM result_facts r WHERE r.batch_id = ?",
                ids,
                error_type="nullif(r.error_type, '')",
                stop_reason="nullif(r.stop_reason, '')",
                model="nullif(r.model, '')",
                input_total="r.input_total",
                grouped=True,
            )
    sql, args = row_source(conn, ids)
    return _Src(sql, args)


def bin_width(maximum: int, bins: int = HISTOGRAM_BINS) -> int:
    """A round bin width so that `bins` bins cover 0..maximum."""
    raw = max(1, math.ceil((maximum + 1) / bins))
    magnitude = 10 ** (len(str(raw)) - 1)
    for step in (1, 2, 2.5, 5, 10):
        width = int(step * magnitude)
        if width >= raw:
            return width
    return raw  # pragma: no cover (10 × magnitude ≥ raw always)


def _histogram(
    conn: sqlite3.Connection, src: _Src, column: str, maximum: int, presorted: bool = False
) -> Histogram:
    width = bin_width(maximum)
    bins = max(1, math.ceil((maximum + 1) / width))
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
    counts = [0] * bins
    for b, n in conn.execute(sql, [width, *src.args]).fetchall():
        counts[min(int(b), bins - 1)] += int(n)
    return Histogram(edges=tuple(i * width for i in range(bins + 1)), counts=tuple(counts))


def _threshold(hist: Histogram, n: int = NOTABLE) -> int:
    """The lowest bin edge with at least `n` values at or above it (0 if there are fewer)."""
    seen = 0
    for i in range(len(hist.counts) - 1, -1, -1):
        seen += hist.counts[i]
        if seen >= n:
            return hist.edges[i]
    return 0


def _notable(
    conn: sqlite3.Connection, src: _Src, order: str, at_least: float
) -> tuple[NotableRequest, ...]:
    # Ids first (from the index alone; `at_least` keeps the sort small), then the few rows.
    ids = [
        r[0]
        for r in conn.execute(
            f"SELECT r.id {src.sql} AND {order} >= ? AND {order} > 0"
            f" ORDER BY {order} DESC, r.id LIMIT ?",
            [*src.args, at_least, NOTABLE],
        ).fetchall()
    ]
    if not ids:
        return ()
    rows = conn.execute(
        "SELECT id, batch_id, custom_id, type, stop_reason, input_tokens"
        " + cache_creation_input_tokens + cache_read_input_tokens, output_tokens, cost_usd,"
        f" model FROM results WHERE id IN ({placeholders(len(ids))})",
        ids,
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
        for r in (by_id[i] for i in ids)
    )


def _shares(groups: dict[str, list[float]]) -> tuple[Share, ...]:
    """Shares from label → [count, cost], largest count first (label breaks ties)."""
    ordered = sorted(groups.items(), key=lambda kv: (-kv[1][0], kv[0]))
    return tuple(Share(label, int(v[0]), float(v[1])) for label, v in ordered)


def _add(table: dict[K, list[float]], key: K, n: int, cost: float) -> None:
    slot = table.setdefault(key, [0, 0.0])
    slot[0] += n
    slot[1] += cost


def result_breakdown(conn: sqlite3.Connection, batch_ids: Sequence[str]) -> ResultBreakdown:
    """Outcomes, stop reasons, cost by model and by outcome: one grouped pass. The token
    maxima (which size the histograms) are of the succeeded requests."""
    src = _source(conn, batch_ids)
    groups = conn.execute(
        f"SELECT r.type, {src.error_type}, {src.stop_reason}, {src.model}, count(*),"
        f" total(r.cost_usd), max(r.output_tokens), max({src.input_total}), count(r.cost_usd)"
        f" {src.sql} GROUP BY r.type, r.error_type, r.stop_reason, r.model",
        src.args,
    ).fetchall()
    outcomes: dict[tuple[int, str], list[float]] = {}
    stops: dict[str, list[float]] = {}
    models: dict[str, list[float]] = {}
    by_outcome: dict[str, list[float]] = {}
    total = 0
    cost = 0.0
    priced = 0
    max_out = max_in = 0
    for kind, error_type, stop, model, n, c, mo, mi, n_priced in groups:
        rt = ResultType(kind)
        total += n
        cost += c
        priced += n_priced
        if rt is ResultType.SUCCEEDED:
            max_out = max(max_out, int(mo or 0))
            max_in = max(max_in, int(mi or 0))
        label = f"errored: {error_type or 'unknown'}" if rt is ResultType.ERRORED else str(rt)
        _add(outcomes, (_OUTCOME_ORDER[rt], label), n, c)
        if rt is ResultType.SUCCEEDED:
            _add(stops, stop or "unknown", n, c)
        if model is not None or c:
            _add(models, model or "unknown", n, c)
        _add(by_outcome, str(rt), n, c)
    ordered_outcomes = sorted(outcomes.items(), key=lambda kv: (kv[0][0], -kv[1][0], kv[0][1]))
    return ResultBreakdown(
        total=total,
        cost_usd=cost,
        priced=priced,
        outcomes=tuple(Share(k[1], int(v[0]), float(v[1])) for k, v in ordered_outcomes),
        stop_reasons=_shares(stops),
        cost_by_model=tuple(sorted(_shares(models), key=lambda s: (-s.cost_usd, s.label))),
        cost_by_outcome=tuple(
            sorted(_shares(by_outcome), key=lambda s: _OUTCOME_ORDER[ResultType(s.label)])
        ),
        max_output_tokens=max_out,
        max_input_tokens=max_in,
    )


def result_distribution(
    conn: sqlite3.Connection, batch_ids: Sequence[str], breakdown: ResultBreakdown
) -> ResultDistribution:
    """Token histograms of the succeeded requests; the longest / largest / most expensive."""
    src = _source(conn, batch_ids)
    out_hist = _histogram(
        conn, src, "r.output_tokens", breakdown.max_output_tokens, presorted=src.grouped
    )
    in_hist = _histogram(conn, src, src.input_total, breakdown.max_input_tokens)
    return ResultDistribution(
        output_tokens=out_hist,
        input_tokens=in_hist,
        longest=_notable(conn, src, "r.output_tokens", _threshold(out_hist)),
        largest_inputs=_notable(conn, src, src.input_total, _threshold(in_hist)),
        priciest=_notable(conn, src, "r.cost_usd", 0.0),
    )


def result_stats(conn: sqlite3.Connection, batch_ids: Sequence[str]) -> ResultStats:
    """Both halves at once (the view asks for them one after the other)."""
    breakdown = result_breakdown(conn, batch_ids)
    return ResultStats(breakdown, result_distribution(conn, batch_ids, breakdown))


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
