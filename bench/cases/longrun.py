"""RSS of the demo dashboard left open: after 2N refresh cycles against after N."""

from __future__ import annotations

import shutil

from .. import util
from ..context import Context

NAME = "longrun"
TITLE = "RSS of `batchtop --demo` left open (2N refresh cycles against N)"
METHOD = (
    "one fresh child interpreter runs the demo dashboard headless (`BatchtopApp.run_test`,"
    " both providers' emulators in-process, as `batchtop --demo` runs them) on a manual"
    " clock: each cycle moves the clock 5 s (the demo's refresh interval), lets the demo's"
    " batches arrive (`DemoLife.step`, one every 45 s per provider), refreshes both"
    " providers (ended batches' results are downloaded) and lets the app draw. RSS"
    " (`VmRSS`) is read after N and after 2N cycles (N = 240, 20 emulated minutes; 120"
    " quick, 30 tiny); the figure is their ratio. A dashboard whose memory grows with the"
    " time it is open has a ratio well above 1 (1.4 when the emulators kept every reply)."
)

CHILD = """
import asyncio, gc, sys
from datetime import UTC, datetime


def rss_mb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def main(n):
    from batchtop.core.demo import DemoClock, open_demo
    from batchtop.core.emulator import ManualClock
    from batchtop.tui.app import BatchtopApp

    manual = ManualClock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    demo = await open_demo(clock=DemoClock(base=manual.now))
    marks = []
    try:
        app = BatchtopApp(
            demo.fleet, demo.service.settings, now=demo.now, workspace=demo, poll=False
        )
        async with app.run_test(size=(160, 45)) as pilot:
            while not demo.started:
                await pilot.pause(0.05)
            for i in range(1, 2 * n + 1):
                manual.advance(5)
                await demo.life.step()
                await demo.fleet.refresh()
                await pilot.pause()
                if i % n == 0:
                    for service in demo.fleet.services:
                        await service.wait_background()
                    gc.collect()
                    marks.append(rss_mb())
        batches = sum(len(s.batches()) for s in demo.fleet.services)
    finally:
        await demo.close()
    print(f"{marks[0]:.1f} {marks[1]:.1f} {batches}")


asyncio.run(main(int(sys.argv[1])))
"""

TARGET = 1.10


def run(ctx: Context) -> list[util.Measure]:
    n = 30 if ctx.tiny else 120 if ctx.quick else 240
    home = ctx.fresh_dir("longrun")
    try:
        proc = util.run_child(["-c", CHILD, str(n)], util.child_env(home / "h"), timeout=3600)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    first, second, batches = proc.stdout.split()[-3:]
    ratio = float(second) / float(first)
    return [
        util.Measure(
            NAME,
            f"RSS after {2 * n} refresh cycles / after {n} (demo dashboard, 5 s each)",
            ratio,
            "×",
            f"≤ {TARGET:.2f}×",
            None if ctx.tiny else ratio <= TARGET,  # tiny: the caches still warming up
            detail=f"RSS {float(first):.0f} MB → {float(second):.0f} MB; {batches} batches listed",
        )
    ]
