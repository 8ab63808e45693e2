"""Export the results to CSV / JSONL vs writing the same rows from memory."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path
from typing import Any

from .. import util
from ..context import Context

NAME = "export"
TITLE = "export results to CSV / JSONL"
METHOD = (
    "in-process on the run's results store. Subject: `export.export_results("
    "ResultsIndex.iter_results([batch], ResultFilter()), fmt, path)` — what `BatchService.export`"
    " runs in its worker thread: read the rows from SQLite in keyset pages, write a temp file,"
    " fsync, rename (JSONL: the lines read back from the downloaded results file)."
    " Baseline: the same rows already in memory (a list built before timing)"
    " written with `csv.writer` (CSV: the same 9 columns, no formula guard) or plain"
    " `write()` of the raw lines (JSONL), then flush + fsync. Interleaved repetitions."
)


def _subject(results: Any, batch_id: str, fmt: str, path: Path, n: int) -> float:
    from batchtop.core.export import export_results
    from batchtop.core.models import ResultFilter

    t0 = time.perf_counter()
    result = export_results(results.iter_results([batch_id], ResultFilter()), fmt, path)  # type: ignore[arg-type]
    dt = time.perf_counter() - t0
    if result.rows != n:
        raise RuntimeError(f"exported {result.rows} of {n} rows")
    path.unlink()
    return dt


def _baseline_csv(rows: list[tuple[Any, ...]], path: Path) -> float:
    t0 = time.perf_counter()
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(
            (
                "custom_id",
                "status",
                "input",
                "output",
                "stop_reason",
                "in",
                "out",
                "error_type",
                "error_message",
                "original_id",
            )
        )
        writer.writerows(rows)
        fh.flush()
        os.fsync(fh.fileno())
    dt = time.perf_counter() - t0
    path.unlink()
    return dt


def _baseline_jsonl(lines: list[str], path: Path) -> float:
    t0 = time.perf_counter()
    with open(path, "w", encoding="utf-8", newline="") as fh:
        for line in lines:
            fh.write(line)
            fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    dt = time.perf_counter() - t0
    path.unlink()
    return dt


def run(ctx: Context) -> list[util.Measure]:
    from batchtop.core.models import ResultFilter
    from batchtop.core.results import ResultsIndex
    from batchtop.core.store import Store

    res = ctx.results()
    assert res.store is not None
    store = Store.open(res.store)
    try:
        results = ResultsIndex(store.db)
        pairs = list(results.iter_results([res.batch_id], ResultFilter()))
        n = len(pairs)
        rows = [
            (
                r.custom_id,
                r.type.value,
                r.input_text or "",
                r.text,
                r.stop_reason or "",
                r.input_tokens,
                r.output_tokens,
                r.error_type or "",
                r.error_message or "",
                r.original_id or "",
                # the columns export.CSV_COLUMNS gained with today's result shapes
                r.model or "",
                r.cache_creation_input_tokens,
                r.cache_read_input_tokens,
                "" if r.cost_usd is None else f"{r.cost_usd:.8f}",
                # and what each result's blocks say (thinking, tool calls, citations, stop)
                int(r.thinking),
                r.tool_calls,
                r.tool_names or "",
                r.citations,
                r.stop_details or "",
            )
            for r, _raw in pairs
        ]
        lines = [raw for _r, raw in pairs]
        del pairs
        out_dir = ctx.path("export")
        out_dir.mkdir(exist_ok=True)
        csv_t = util.interleave(
            ctx.reps,
            {
                "subject": lambda: _subject(results, res.batch_id, "csv", out_dir / "a.csv", n),
                "baseline": lambda: _baseline_csv(rows, out_dir / "b.csv"),
            },
        )
        jsonl_t = util.interleave(
            ctx.reps,
            {
                "subject": lambda: _subject(results, res.batch_id, "jsonl", out_dir / "a.jsonl", n),
                "baseline": lambda: _baseline_jsonl(lines, out_dir / "b.jsonl"),
            },
        )
    finally:
        store.close()
    size = f"{n // 1000}k"
    return [
        util.ratio_measure(
            NAME,
            f"export {size} to CSV vs csv module from memory",
            csv_t["subject"],
            csv_t["baseline"],
            target="≤ 1.5×",
            limit=1.5,
            labels=("batchtop", "csv from memory"),
        ),
        util.ratio_measure(
            NAME,
            f"export {size} to JSONL vs raw lines from memory",
            jsonl_t["subject"],
            jsonl_t["baseline"],
            target="≤ 1.5×",
            limit=1.5,
            labels=("batchtop", "write from memory"),
        ),
    ]
