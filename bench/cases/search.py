"""Full-text search over the indexed results (ResultsIndex.query_results with a search filter)."""

from __future__ import annotations

import time

from .. import util
from ..context import Context

NAME = "search"
TITLE = "full-text search over the results index"
METHOD = (
    "in-process on the run's results store (one batch of 100,000 results in full mode, joined"
    " with its inputs). Each sample is one `Store.query_results([batch], ResultFilter(search=…),"
    " 0, 200)`: the first page plus the total count, which is what the viewer asks for. Every"
    " search term is used once per store handle, so the count cache never helps; terms mix"
    " very common words (match ~all rows), common words, rare tokens (~1 row in 2,000), text"
    " only in outputs, 2-character terms (LIKE scan) and misses."
)


def terms(quick: bool) -> list[str]:
    common = ["summary", "review", "request", "charger", "quickly", "refund", "warranty"]
    rare = [util.RARE[i] for i in range(0, 60 if quick else 200, 7)]
    other = ["straightforward", "Overall the input", "no further detail", "zz", "qq9", "nothing"]
    misses = ["xylophone", "quixotic zebra", "req-999999x"]
    return common + rare + other + misses


def run(ctx: Context) -> list[util.Measure]:
    from batchtop.core.models import ResultFilter
    from batchtop.core.results import ResultsIndex
    from batchtop.core.store import Store

    res = ctx.results()
    assert res.store is not None
    samples: list[float] = []
    worst = ("", 0.0)
    hits = 0
    for rep in range(2 if ctx.quick else 3):
        store = Store.open(res.store)  # a fresh handle: no cached totals
        results = ResultsIndex(store.db)
        try:
            results.query_results([res.batch_id], ResultFilter(), 0, 200)  # warm connection
            for term in terms(ctx.quick):
                t0 = time.perf_counter()
                page = results.query_results([res.batch_id], ResultFilter(search=term), 0, 200)
                dt = time.perf_counter() - t0
                samples.append(dt)
                hits += bool(page.total)
                if dt > worst[1]:
                    worst = (term, dt)
        finally:
            store.close()
        del rep
    ms = [s * 1000 for s in samples]
    p95 = util.percentile(ms, 95)
    return [
        util.Measure(
            NAME,
            f"search {ctx.n_results // 1000}k results: p95 (first page + total)",
            p95,
            "ms",
            "≤ 100 ms",
            p95 <= 100,
            detail=(
                f"p50 {util.median(ms):.1f} ms, max {max(ms):.1f} ms ({worst[0]!r}),"
                f" n={len(ms)}, {hits} with hits"
            ),
        )
    ]
