"""Keypress → repaint latency on the dashboard (10,000 batches) and the results viewer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import util
from ..context import Context

NAME = "keys"
TITLE = "keypress → repaint p50/p95 (dashboard 10,000 batches; results viewer)"
METHOD = (
    "in-process, headless `App.run_test(size=(160, 50))`. Each sample posts one `events.Key`"
    " to the app (as the driver does), waits until the screen and all its widgets have"
    " processed every pending message (Pilot's `_wait_for_screen`, twice; for filters that"
    " query in a worker, also until the new page is on the table), then forces the screen's"
    " compositor update (`Screen._on_timer_update`) and renders it to terminal segments."
    " The time is post → rendered. Pilot's `press()`/`pause()` are not used: they sleep at"
    " least 20 ms per call waiting for CPU idle. Not included: the ≤16.7 ms wait for Textual's"
    " next 60 Hz refresh tick, and terminal I/O. Keys: move = j/k; page = pagedown/pageup"
    " (+ G/g on the results); filter = dashboard views 2/1 and esc clearing the filter box,"
    " results status filters 2/3/1 and a submitted search; typing = characters typed in the"
    " dashboard filter box (the dashboard debounces filtering above 1,000 batches by 150 ms,"
    " so this is the echo; applying the filter is the same re-render as a view switch)."
)


def _hook_render(app: Any) -> None:
    """Make headless displays encode the frame to terminal segments, as a real driver would."""
    original = app._display

    def display(screen: Any, renderable: Any) -> None:
        original(screen, renderable)
        if renderable is not None and not app._batch_count:
            renderable.render_segments(app.console)

    app._display = display


async def _press(
    pilot: Any, key: str, char: str | None, until: Callable[[], bool] | None = None
) -> float:
    from textual import events

    app = pilot.app
    event = events.Key(key, char)
    event.set_sender(app)
    t0 = time.perf_counter()
    app.post_message(event)
    await pilot._wait_for_screen()
    await pilot._wait_for_screen()
    if until is not None:
        deadline = t0 + 30
        while not until():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"key {key!r}: the screen never settled")
            await asyncio.sleep(0.0005)
        await pilot._wait_for_screen()
    app.screen._on_timer_update()
    return time.perf_counter() - t0


def _k(key: str) -> tuple[str, str | None]:
    return (key, key if len(key) == 1 else None)


async def _dashboard(store_path: Path, n: int) -> dict[str, list[float]]:
    from batchtop.core.config import Settings
    from batchtop.core.service import BatchService
    from batchtop.core.store import Store
    from batchtop.tui.app import BatchtopApp

    settings = Settings()
    service = BatchService(Store.open(store_path), settings, api_key=None)
    service._owns_store = True
    app = BatchtopApp(service, settings, poll=False)
    out: dict[str, list[float]] = {"move": [], "page": [], "filter": [], "typing": []}
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            _hook_render(app)
            await pilot.pause()
            for key in ("j", "k", "pagedown", "pageup", "2", "1"):  # warm-up
                await _press(pilot, *_k(key))
            for i in range(n):
                out["move"].append(await _press(pilot, *_k("j" if i % 4 != 3 else "k")))
                out["page"].append(await _press(pilot, *_k("pagedown" if i % 3 else "pageup")))
            for i in range(max(2, n // 4)):
                out["filter"].append(await _press(pilot, *_k("2")))  # view: active
                out["filter"].append(await _press(pilot, *_k("1")))  # view: all
                await _press(pilot, "slash", "/")
                for ch in "msgbatch_00000000000000000000"[: 4 + i % 6]:
                    out["typing"].append(await _press(pilot, ch, ch))
                await _press(pilot, "enter", None)
                await pilot.pause(0.2)  # the dashboard debounces filtering above 1,000 batches
                out["filter"].append(await _press(pilot, "escape", None))  # clear the filter
    finally:
        await service.close()
    return out


async def _results(store_path: Path, batch_id: str, n: int) -> dict[str, list[float]]:
    from batchtop.core.config import Settings
    from batchtop.core.service import BatchService
    from batchtop.core.store import Store
    from batchtop.tui.app import BatchtopApp
    from batchtop.tui.screens.results import ResultsScreen

    settings = Settings()
    service = BatchService(Store.open(store_path), settings, api_key=None)
    service._owns_store = True
    app = BatchtopApp(service, settings, poll=False)
    out: dict[str, list[float]] = {"move": [], "page": [], "filter": []}
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            _hook_render(app)
            screen = ResultsScreen(service, batch_ids=[batch_id], title="bench")
            await app.push_screen(screen)
            deadline = time.perf_counter() + 60
            while not screen.loaded:
                if time.perf_counter() > deadline:
                    raise TimeoutError("the results viewer never loaded")
                await asyncio.sleep(0.01)
            await pilot.pause()
            for key in ("j", "pagedown", "G", "g"):
                await _press(pilot, *_k(key))
            for i in range(n):
                out["move"].append(await _press(pilot, *_k("j" if i % 4 != 3 else "k")))
                key = ("pagedown", "pageup", "G", "g")[i % 4] if i % 2 else "pagedown"
                out["page"].append(await _press(pilot, *_k(key)))
            _track(screen)
            types = {"1": frozenset(), "2": {"succeeded"}, "3": {"errored"}}
            search = screen.query_one("#results-search")
            for i in range(max(2, n // 4)):
                for key in ("2", "3", "1"):
                    want = frozenset(types[key])
                    done = _shows(screen, lambda f, want=want: {str(t) for t in f.types} == want)
                    out["filter"].append(await _press(pilot, *_k(key), until=done))
                # A submitted search (the value is set directly: typing goes through a
                # 150 ms debounce by design, which is not what this measures).
                term = ("charger", "quickly", "zq00", "refund")[i % 4]
                await _press(pilot, "slash", "/")
                search.value = term
                done = _shows(screen, lambda f, term=term: f.search == term)
                out["filter"].append(await _press(pilot, "enter", None, until=done))
                await _press(pilot, "slash", "/")
                search.value = ""
                done = _shows(screen, lambda f: f.search == "")
                await _press(pilot, "enter", None, until=done)
    finally:
        await service.close()
    return out


def _track(screen: Any) -> None:
    """Record on the table which filter its current page was fetched for."""
    table = screen.table
    original = table.set_source

    def set_source(fetch: Any, first: Any = None) -> None:
        original(fetch, first=first)
        table._bench_filt = screen.filt

    table.set_source = set_source


def _shows(screen: Any, wanted: Callable[[Any], bool]) -> Callable[[], bool]:
    """The screen's filter is the wanted one and the table shows a page fetched for it."""

    def done() -> bool:
        filt = screen.filt
        return bool(wanted(filt)) and getattr(screen.table, "_bench_filt", None) == filt

    return done


def _measures(where: str, samples: dict[str, list[float]]) -> list[util.Measure]:
    out = []
    for kind, values in samples.items():
        ms = [v * 1000 for v in values]
        p95 = util.percentile(ms, 95)
        out.append(
            util.Measure(
                NAME,
                f"{where}: {kind} p95 (p50)",
                p95,
                "ms",
                "p95 ≤ 50 ms",
                p95 <= 50,
                detail=f"p50 {util.median(ms):.1f} ms, max {max(ms):.1f} ms, n={len(ms)}",
            )
        )
    return out


def run(ctx: Context) -> list[util.Measure]:
    n = 20 if ctx.quick else 40
    dash = asyncio.run(_dashboard(ctx.batches_store(), n))
    res = ctx.results()
    assert res.store is not None
    results = asyncio.run(_results(res.store, res.batch_id, n))
    label = f"results viewer {ctx.n_results // 1000}k"
    return _measures("dashboard 10k", dash) + _measures(label, results)
