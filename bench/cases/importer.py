"""Import + validate + split a large native JSONL vs reading and parsing it with orjson."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import orjson

from .. import util
from ..context import Context

NAME = "importer"
TITLE = "import + validate + split 100,000 requests (~256 MB JSONL)"
METHOD = (
    "a native JSONL file is generated once (100,000 requests with ~2,500-character prompts,"
    " ~256 MB, in full mode; 10,000 / ~25 MB in quick mode). Subject:"
    " `importer.analyse(path, ImportOptions(), work_dir=…)` — parse, validate, split at the"
    " 256 MB / 100,000 limits, estimate cost, write the prepared parts and manifests; the work"
    " directory is removed between runs. Baseline (the limit): `for line in f:"
    " orjson.loads(line)` over the same file (orjson is the fastest JSON parser installed)."
    " The file is in the page cache for both."
)


def generate(path: Path, n: int, chars: int) -> int:
    with open(path, "wb") as fh:
        for req in util.requests(n, chars=chars):
            fh.write(orjson.dumps(req) + b"\n")
    return path.stat().st_size


def _subject(ctx: Context, path: Path, n: int) -> float:
    from batchtop.core.importer import analyse
    from batchtop.core.models import ImportOptions

    work = ctx.fresh_dir("import")
    try:
        t0 = time.perf_counter()
        report = analyse(path, ImportOptions(), work_dir=work / "prepared")
        dt = time.perf_counter() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if report.request_count != n or report.errors:
        raise RuntimeError(f"import read {report.request_count} requests, {report.errors[:2]}")
    return dt


def _baseline(path: Path, n: int) -> float:
    t0 = time.perf_counter()
    count = 0
    loads = orjson.loads
    with open(path, "rb") as fh:
        for line in fh:
            loads(line)
            count += 1
    dt = time.perf_counter() - t0
    assert count == n
    return dt


def run(ctx: Context) -> list[util.Measure]:
    n = 10_000 if ctx.quick else 100_000
    path = ctx.path("import/requests.jsonl")
    size = generate(path, n, 2_500)
    ctx.log(f"  setup: {n:,} requests, {size / 1e6:.0f} MB")
    _baseline(path, n)
    times = util.interleave(
        ctx.reps,
        {"subject": lambda: _subject(ctx, path, n), "baseline": lambda: _baseline(path, n)},
    )
    os.unlink(path)
    m = util.ratio_measure(
        NAME,
        f"import {n // 1000}k requests ({size / 1e6:.0f} MB) vs orjson read+parse",
        times["subject"],
        times["baseline"],
        target="≤ 2×",
        limit=2.0,
        labels=("batchtop", "orjson"),
    )
    return [m]
