"""Measure the results viewer on 100,000 results (not a test; run it by hand).

    PYTHONPATH=.dev python tests/tui/screens/measure_results.py [rows]

Prints keypress→frame latency for moving and paging (key handled, then the whole screen
rendered to strips, which is what a repaint costs), and search latency over the index,
both through the service and through the UI (Enter in the search box → first page shown).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[2]))  # tests/: data_factory

from batchtop.core.models import ResultFilter
from batchtop.tui.screens.results import ResultsScreen
from screens_data import ScreenHost, add_ended_batch, offline_service, standard_lines, wait_for

BATCH = "msgbatch_01Measure"


def ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    median = statistics.median(values) * 1000
    return f"median {median:.1f} ms, p95 {p95 * 1000:.1f} ms, n={len(values)}"


async def main(rows: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    service = offline_service(tmp)
    t = time.perf_counter()
    add_ended_batch(service.store, BATCH, standard_lines(rows), tmp, inputs=False)
    print(f"ingest {rows:,} rows: {time.perf_counter() - t:.2f} s")

    for term in ("beta", "answer number 99", "zzz-no-match"):
        t = time.perf_counter()
        page = service.results_page([BATCH], ResultFilter(search=term), 0, 200)
        took = time.perf_counter() - t
        print(f"service search {term!r}: {took * 1000:.1f} ms ({page.total:,} matches)")

    app = ScreenHost(lambda: ResultsScreen(service, batch_ids=[BATCH], title="measure"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, ResultsScreen)
        t = time.perf_counter()
        await wait_for(pilot, lambda: screen.loaded, limit_s=60)
        print(f"open: first page shown after {(time.perf_counter() - t) * 1000:.0f} ms")
        compositor = screen._compositor

        async def frame(*keys: str) -> float:
            start = time.perf_counter()
            await pilot.press(*keys)
            compositor.render_strips()
            return time.perf_counter() - start

        baseline = [await frame("f12") for _ in range(30)]  # an unbound key: Pilot's own cost
        base = statistics.median(baseline)
        print(f"Pilot overhead per key (unbound key + frame): {ms(baseline)}")
        table = screen.table
        for label, action, n in (
            ("j (down)", table.action_cursor_down, 200),
            ("k (up)", table.action_cursor_up, 100),
            ("pagedown", table.action_page_down, 200),
            ("pageup", table.action_page_up, 50),
            ("G (last row)", table.action_last, 10),
            ("g (first row)", table.action_first, 10),
        ):
            # the key's action + a full-screen frame, without Pilot's event-loop round trips
            direct = []
            for _ in range(n):
                start = time.perf_counter()
                action()
                compositor.render_strips()
                direct.append(time.perf_counter() - start)
                if label.startswith(("G", "g")):
                    (table.action_first if label.startswith("G") else table.action_last)()
            keys = {
                "j (down)": "j",
                "k (up)": "k",
                "pagedown": "pagedown",
                "pageup": "pageup",
                "G (last row)": "G",
                "g (first row)": "g",
            }[label]
            piloted = []
            for _ in range(min(n, 20)):
                piloted.append(await frame(keys) - base)
                if label.startswith(("G", "g")):
                    await pilot.press("g" if label.startswith("G") else "G")
            print(f"{label:14} action+frame {ms(direct)} | via Pilot minus overhead {ms(piloted)}")
        times = []
        for target in range(5_000, rows, max(rows // 20, 1)):
            start = time.perf_counter()
            table.move_cursor(row=target)
            compositor.render_strips()
            times.append(time.perf_counter() - start)
        print(f"jump anywhere  action+frame {ms(times)}")

        for term in ("beta", "answer number 99", "zzz-no-match"):
            expected = service.results_page([BATCH], ResultFilter(search=term), 0, 1).total
            await pilot.press("slash")
            search = screen.query_one("#results-search")
            search.value = term  # type: ignore[attr-defined]
            start = time.perf_counter()
            await pilot.press("enter")  # Enter skips the 150 ms debounce
            await wait_for(
                pilot,
                lambda term=term, expected=expected: (
                    screen.filt.search == term and table.total == expected
                ),
            )
            compositor.render_strips()
            print(
                f"UI search {term!r}: Enter → results on screen"
                f" {(time.perf_counter() - start) * 1000:.0f} ms ({table.total:,} rows)"
            )
        print(f"pages fetched in total: {screen.table.fetches}")
    service.store.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
