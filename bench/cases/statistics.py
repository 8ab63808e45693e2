"""The statistics view on the run's 100k-result batch: open time and memory."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from .. import util
from ..context import Context

NAME = "statistics"
TITLE = "statistics view: open → first rendered chart, whole view; peak RSS (100k results)"
METHOD = (
    "in-process, headless `App.run_test(size=(160, 50))` on the run's results store (one batch"
    " of 100,000 results in full mode). Each sample pushes a new `StatisticsScreen` for the"
    " batch and waits (polling the event loop, no sleeps) until its first chart has its data,"
    " forcing the compositor update (`Screen._on_timer_update`) at each poll until that chart"
    " has been rendered into a frame, which is encoded to terminal segments as a driver would:"
    " that is the time to the first rendered chart (the"
    " outcome, stop-reason and cost charts come from the batch's summary, its grouped rows"
    " computed once after the ingest: a few rows read). It then waits until every chart and"
    " the top-requests table are filled (token histograms and top lists, from the same"
    " summary) and renders again: the whole view. The screen is popped between samples; the"
    " SQLite page cache is warm after the first sample, as it is for a user who looks twice."
    " CPU: the process's (every thread) and the event loop thread's alone over the same"
    " samples; full (generation 2) GC passes during them are counted with `gc.callbacks`."
    " Memory: a fresh child interpreter opens the store and the app, reads its peak RSS"
    " (`VmHWM`), opens the statistics view, waits for it to load, and reads the peak again."
)

CHILD = r"""
import asyncio, sys
from pathlib import Path

def peak_mb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0

async def main(store_path, batch_id):
    from batchtop.core.config import Settings
    from batchtop.core.service import BatchService
    from batchtop.core.store import Store
    from batchtop.tui.app import BatchtopApp
    from batchtop.tui.screens.statistics import StatisticsScreen

    settings = Settings()
    service = BatchService(Store.open(store_path), settings, api_key=None)
    service._owns_store = True
    app = BatchtopApp(service, settings, poll=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        before = peak_mb()
        screen = StatisticsScreen(service, [batch_id], "bench")
        app.push_screen(screen)
        while not screen.loaded:
            await asyncio.sleep(0.005)
        await pilot.pause()
        print(f"{before:.1f} {peak_mb():.1f}")
    await service.close()

asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
"""


async def _open_times(
    store_path: Path, batch_id: str, n: int
) -> tuple[list[float], list[float], list[float], list[float], list[float], list[float]]:
    import gc

    from batchtop.core.config import Settings
    from batchtop.core.service import BatchService
    from batchtop.core.store import Store
    from batchtop.tui.app import BatchtopApp
    from batchtop.tui.screens.results import ResultsScreen
    from batchtop.tui.screens.statistics import StatisticsScreen
    from batchtop.tui.widgets.charts import Chart

    from .keys import _hook_render

    settings = Settings()
    service = BatchService(Store.open(store_path), settings, api_key=None)
    service._owns_store = True
    app = BatchtopApp(service, settings, poll=False)
    first: list[float] = []
    full: list[float] = []
    viewer: list[float] = []
    first_cpu: list[float] = []
    ui_cpu: list[float] = []
    full_gc: list[float] = []  # per sample: seconds of full (generation 2) GC passes
    gc_clock = {"full": 0.0, "start": 0.0}

    def gc_watch(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_clock["start"] = time.perf_counter()
        elif info.get("generation") == 2:
            gc_clock["full"] += time.perf_counter() - gc_clock["start"]

    async def until(cond: Any, t0: float) -> None:
        while not cond():
            if time.perf_counter() - t0 > 60:
                raise TimeoutError("the statistics view never loaded")
            await asyncio.sleep(0.0005)

    gc.callbacks.append(gc_watch)
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            _hook_render(app)
            await pilot.pause()
            for _ in range(n):
                screen = StatisticsScreen(service, [batch_id], "bench")
                t0 = time.perf_counter()
                c0 = time.process_time()
                u0 = time.thread_time()
                g0 = gc_clock["full"]
                app.push_screen(screen)
                await until(lambda s=screen: s.is_mounted and s.breakdown is not None, t0)
                chart = screen.query_one(Chart)

                def rendered(s: Any = screen, c: Any = chart) -> bool:
                    s._on_timer_update()  # render now: no wait for the next 60 Hz tick
                    return bool(c.drawn)

                await until(rendered, t0)
                first.append(time.perf_counter() - t0)
                first_cpu.append(time.process_time() - c0)
                ui_cpu.append(time.thread_time() - u0)
                full_gc.append(gc_clock["full"] - g0)
                await until(lambda s=screen: s.loaded, t0)
                await pilot._wait_for_screen()
                screen._on_timer_update()
                full.append(time.perf_counter() - t0)
                app.pop_screen()
                await pilot._wait_for_screen()
                # baseline, same conditions: the results viewer's open → first page rendered
                results = ResultsScreen(service, [batch_id], "bench")
                t0 = time.perf_counter()
                app.push_screen(results)
                await until(lambda r=results: r.is_mounted and r.loaded, t0)
                results._on_timer_update()
                viewer.append(time.perf_counter() - t0)
                app.pop_screen()
                await pilot._wait_for_screen()
    finally:
        gc.callbacks.remove(gc_watch)
        await service.close()
    return first, full, viewer, first_cpu, ui_cpu, full_gc


def run(ctx: Context) -> list[util.Measure]:
    res = ctx.results()
    assert res.store is not None
    n = 6 if ctx.tiny else 12 if ctx.quick else 30
    first, full, viewer, first_cpu, ui_cpu, full_gc = asyncio.run(
        _open_times(res.store, res.batch_id, n)
    )
    cpu_ms = [s * 1000 for s in first_cpu]
    ui_ms = [s * 1000 for s in ui_cpu]
    first_ms = [s * 1000 for s in first]
    full_ms = [s * 1000 for s in full]
    viewer_ms = [s * 1000 for s in viewer]
    ratios = [a / b for a, b in zip(first, viewer, strict=True)]
    p95_first = util.percentile(first_ms, 95)
    gc_runs = sum(1 for g in full_gc if g > 0)
    gc_ms = sum(full_gc) * 1000
    p95_full = util.percentile(full_ms, 95)
    size = f"{ctx.n_results // 1000}k"
    proc = util.run_child(
        ["-c", CHILD, str(res.store), res.batch_id], util.child_env(ctx.fresh_dir("stats-rss"))
    )
    before, after = (float(x) for x in proc.stdout.split()[-2:])
    return [
        util.Measure(
            NAME,
            f"statistics view {size}: open → first rendered chart p95",
            p95_first,
            "ms",
            "p95 ≤ 150 ms",
            p95_first <= 150,
            detail=f"p50 {util.percentile(first_ms, 50):.1f} ms, max {max(first_ms):.1f} ms,"
            f" n={len(first_ms)} (first sample, cold connection: {first_ms[0]:.1f} ms);"
            f" a full GC pass ran during {gc_runs} of them ({gc_ms:.0f} ms in all)",
        ),
        util.Measure(
            NAME,
            f"statistics view {size}: CPU time to the first rendered chart p95",
            util.percentile(cpu_ms, 95),
            "ms",
            "p95 ≤ 150 ms",
            util.percentile(cpu_ms, 95) <= 150,
            detail=f"p50 {util.percentile(cpu_ms, 50):.1f} ms: the process's CPU time (all its"
            " threads) over the same samples, which other work on a shared machine does not"
            " inflate the way it inflates wall time",
        ),
        util.Measure(
            NAME,
            f"statistics view {size}: UI thread's CPU time to the first rendered chart p95",
            util.percentile(ui_ms, 95),
            "ms",
            "(information)",
            None,
            detail=f"p50 {util.percentile(ui_ms, 50):.1f} ms: the event loop's thread alone"
            " (the view's SQL runs on a thread of its own, ~0.1 ms from the summary); the"
            " row above also counts threads the interleaved results viewer left running",
        ),
        util.Measure(
            NAME,
            f"statistics view {size}: first chart vs the results viewer's first page",
            util.percentile(ratios, 50),
            "×",
            "(information)",
            None,
            lo=min(ratios),
            hi=max(ratios),
            detail=f"results viewer open → first page p50 {util.percentile(viewer_ms, 50):.1f}"
            f" ms, p95 {util.percentile(viewer_ms, 95):.1f} ms (same runs, interleaved)",
        ),
        util.Measure(
            NAME,
            f"statistics view {size}: open → whole view (histograms, top requests) p95",
            p95_full,
            "ms",
            "(information)",
            None,
            detail=f"p50 {util.percentile(full_ms, 50):.1f} ms, max {max(full_ms):.1f} ms",
        ),
        util.Measure(
            NAME,
            f"peak RSS with the statistics view open, {size} results",
            after,
            "MB",
            "≤ 250 MB",
            after <= 250,
            detail=f"{before:.0f} MB with the dashboard open, +{after - before:.0f} MB for"
            " the view",
        ),
    ]
