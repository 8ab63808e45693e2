"""Peak RSS while ingesting results and browsing them, at growing sizes (must stay flat)."""

from __future__ import annotations

import shutil

from .. import util
from ..context import Context, seed_batch

NAME = "memory"
TITLE = "peak RSS during ingest and while browsing (10k / 100k / 300k results)"
METHOD = (
    "one fresh child interpreter per size (the emulator runs in another process, so its"
    " memory is not counted). The child opens a store that knows the batch and its manifest,"
    " runs `BatchService.download_results` (download + parse + index), reads its peak RSS"
    " (`VmHWM` in /proc/self/status; not `ru_maxrss`, which on Linux starts at the parent's"
    " RSS at fork time and so measured the bench process), then opens the results viewer headless"
    " (160×50) and browses: pages down, jumps to the end and back, status filters, a search;"
    " and reads the peak again. Peak RSS is the high-water mark of the whole process"
    " (interpreter, Textual, SQLite page cache included). Flat = the peak at the largest size"
    " is within 25% of the peak at the smallest."
)

CHILD = """
import asyncio, resource, sys
from pathlib import Path

from bench.context import download


def peak_mb():
    # VmHWM: this process's own high-water mark. ru_maxrss would also count the parent's
    # RSS at fork time (Linux carries it across exec), i.e. the bench process's size.
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def browse(store_path, batch_id):
    from batchtop.core.config import Settings
    from batchtop.core.service import BatchService
    from batchtop.core.store import Store
    from batchtop.tui.app import BatchtopApp
    from batchtop.tui.screens.results import ResultsScreen

    settings = Settings()
    service = BatchService(Store.open(store_path), settings, api_key=None)
    service._owns_store = True
    app = BatchtopApp(service, settings, poll=False)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = ResultsScreen(service, batch_ids=[batch_id], title="bench")
        await app.push_screen(screen)
        while not screen.loaded:
            await asyncio.sleep(0.01)
        for _ in range(30):
            await pilot.press("pagedown")
        await pilot.press("G", "g", "2", "3", "1")
        await pilot.press("slash", *"charger", "enter")
        await pilot.pause(0.3)
        for _ in range(10):
            await pilot.press("pagedown")
    await service.close()


store_path, base_url, batch_id = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
asyncio.run(download(store_path, base_url, batch_id))
after_ingest = peak_mb()
asyncio.run(browse(store_path, batch_id))
print(f"{after_ingest:.1f} {peak_mb():.1f}")
"""


def _peak(ctx: Context, n: int) -> tuple[float, float]:
    res = ctx.ended_batch(n)
    home = ctx.fresh_dir(f"rss-{n}")
    try:
        store = home / "store.sqlite3"
        seed_batch(store, res.batch, res.requests)
        proc = util.run_child(
            ["-c", CHILD, str(store), res.base_url, res.batch_id], util.child_env(home / "h")
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    ingest, total = (float(x) for x in proc.stdout.split()[-2:])
    return ingest, total


def run(ctx: Context) -> list[util.Measure]:
    sizes = [10_000, 30_000] if ctx.quick else [10_000, 100_000, 300_000]
    peaks: dict[int, tuple[float, float]] = {}
    for n in sizes:
        got = [_peak(ctx, n)]  # a high-water mark: one run per size
        peaks[n] = (max(g[0] for g in got), max(g[1] for g in got))
        ctx.log(f"  {n:,}: ingest peak {peaks[n][0]:.0f} MB, with browsing {peaks[n][1]:.0f} MB")
    out = []
    for n in sizes:
        ingest, total = peaks[n]
        out.append(
            util.Measure(
                NAME,
                f"peak RSS, {n // 1000}k results (ingest; ingest + browse)",
                total,
                "MB",
                "≤ 250 MB",
                total <= 250,
                detail=f"after ingest {ingest:.0f} MB, after browsing {total:.0f} MB",
            )
        )
    small, large = peaks[sizes[0]][1], peaks[sizes[-1]][1]
    growth = large / small
    out.append(
        util.Measure(
            NAME,
            f"peak RSS growth {sizes[0] // 1000}k → {sizes[-1] // 1000}k results",
            growth,
            "×",
            "flat (≤ 1.25×)",
            growth <= 1.25,
            detail=f"{small:.0f} MB → {large:.0f} MB for {sizes[-1] // sizes[0]}× the rows",
        )
    )
    return out
