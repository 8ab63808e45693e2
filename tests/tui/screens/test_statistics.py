"""The statistics view and its progress chart, on seeded stores.

Every number a chart draws (its `table`, which is also what `c` exports) is checked against
SQL written here independently of `core/stats.py`: plain per-row queries, binned in Python.
"""

from __future__ import annotations

import csv
import os
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from batchtop.core.models import ProcessingStatus, RemoteBatch, RequestCounts
from batchtop.core.service import BatchService
from batchtop.tui.screens.results import ResultsScreen
from batchtop.tui.screens.statistics import StatisticsScreen
from batchtop.tui.widgets.charts import Chart
from results_support import results_of
from screens_data import (
    T0,
    ScreenHost,
    add_ended_batch,
    errored,
    offline_service,
    standard_lines,
    succeeded,
    wait_for,
)

SIZE = (160, 48)
BATCH = "msgbatch_01StatisticsView0001"
RETRY = "msgbatch_01StatisticsRetry001"
ACTIVE = "msgbatch_01StatisticsActive01"


def _lines() -> list[dict[str, Any]]:
    """standard_lines with varied token counts and stop reasons (max_tokens every 4th)."""
    lines = standard_lines(80)
    for i, line in enumerate(lines):
        msg = line["result"].get("message")
        if msg is not None:
            msg["usage"] = {"input_tokens": 50 + (i * 37) % 900, "output_tokens": (i * 53) % 700}
            msg["stop_reason"] = "max_tokens" if i % 4 == 0 else "end_turn"
    return lines


def _loaded(app: Any) -> bool:
    return isinstance(app.screen, StatisticsScreen) and app.screen.loaded


def _chart_tables(screen: StatisticsScreen) -> dict[str, Any]:
    return {c.chart_id: c.table for c in screen.query(Chart)}


def _sql(db: Path, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query, args).fetchall()


def _hist(values: list[int], edges: tuple[int, ...]) -> list[int]:
    counts = [0] * (len(edges) - 1)
    for v in values:
        i = next(k for k in range(len(counts)) if v < edges[k + 1] or k == len(counts) - 1)
        counts[i] += 1
    return counts


async def test_charts_match_independent_sql(tmp_path: Path) -> None:
    service = offline_service(tmp_path)
    add_ended_batch(service.store, BATCH, _lines(), tmp_path)
    db = service.store.path
    app = ScreenHost(lambda: StatisticsScreen(service, [BATCH], "Batch under test"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: _loaded(app))
        screen = app.screen
        assert isinstance(screen, StatisticsScreen)
        await wait_for(pilot, lambda: all(c.drawn for c in screen.query(Chart)))
        tables = _chart_tables(screen)

    # outcomes: type (errored split by error type) → count
    expected_outcomes = {
        (f"errored: {e}" if t == "errored" else t): n
        for t, e, n in _sql(
            db,
            "SELECT type, error_type, count(*) FROM results WHERE batch_id = ? GROUP BY 1, 2",
            BATCH,
        )
    }
    got = {label: n for label, n, _ in tables["outcomes"][1]}
    assert got == expected_outcomes
    assert sum(got.values()) == 80

    stops = dict(
        _sql(
            db,
            "SELECT stop_reason, count(*) FROM results WHERE batch_id = ? AND type = 'succeeded'"
            " GROUP BY 1",
            BATCH,
        )
    )
    assert {label: n for label, n, _ in tables["stop_reasons"][1]} == stops
    assert stops["max_tokens"] > 0

    costs = _sql(
        db,
        "SELECT model, sum(cost_usd) FROM results WHERE batch_id = ? AND cost_usd IS NOT NULL"
        " GROUP BY 1",
        BATCH,
    )
    got_costs = {label: cost for label, _, cost in tables["cost_by_model"][1]}
    assert got_costs.keys() == {m for m, _ in costs}
    for model, cost in costs:
        assert got_costs[model] == pytest.approx(cost)

    for chart, column in (
        ("output_tokens", "output_tokens"),
        ("input_tokens", "input_tokens + cache_creation_input_tokens + cache_read_input_tokens"),
    ):
        values = [
            int(v)
            for (v,) in _sql(
                db,
                f"SELECT {column} FROM results WHERE batch_id = ? AND type = 'succeeded'",
                BATCH,
            )
        ]
        _, rows = tables[chart]
        edges = (*(r[0] for r in rows), rows[-1][1])
        assert edges[0] == 0
        assert edges[-1] > max(values)
        assert [r[2] for r in rows] == _hist(values, edges)

    # the top lists: the five longest answers are the five highest output counts
    top_out = sorted(
        (
            v
            for (v,) in _sql(
                db,
                "SELECT output_tokens FROM results WHERE batch_id = ? AND output_tokens > 0",
                BATCH,
            )
        ),
        reverse=True,
    )[:5]
    assert [r.output_tokens for r in screen.distribution.longest] == top_out  # type: ignore[union-attr]


async def test_job_statistics_use_the_merged_rows(tmp_path: Path) -> None:
    """A retry that succeeded replaces the original's errored row, as in the results viewer."""
    service = offline_service(tmp_path)
    add_ended_batch(service.store, BATCH, standard_lines(20), tmp_path, inputs=False)
    retried = [succeeded("req-00003", "ok now"), errored("req-00007", "overloaded_error", "again")]
    add_ended_batch(service.store, RETRY, retried, tmp_path, inputs=False)
    b = service.result_breakdown([BATCH, RETRY])
    outcomes = {s.label: s.count for s in b.outcomes}
    # 20 custom ids; req-00003 errored then succeeded → counted once, as succeeded
    assert b.total == 20
    assert outcomes["succeeded"] == 1 + sum(
        1 for line in standard_lines(20) if line["result"]["type"] == "succeeded"
    )


def _progress_store(tmp_path: Path) -> BatchService:
    """An active batch of 1,000 requests observed six times over its first two hours."""
    service = offline_service(tmp_path)
    service._now = lambda: T0 + timedelta(hours=2)
    base = RemoteBatch(
        id=ACTIVE,
        processing_status=ProcessingStatus.IN_PROGRESS,
        request_counts=RequestCounts(processing=1000),
        created_at=T0,
        expires_at=T0 + timedelta(hours=24),
    )
    for minutes, done in ((0, 0), (20, 90), (40, 210), (60, 330), (90, 480), (120, 600)):
        counts = RequestCounts(
            processing=1000 - done, succeeded=done - done // 10, errored=done // 10
        )
        service.store.upsert_remote(
            [replace(base, request_counts=counts)], T0 + timedelta(minutes=minutes)
        )
    return service


async def test_progress_chart_matches_snapshots(tmp_path: Path) -> None:
    service = _progress_store(tmp_path)
    app = ScreenHost(lambda: StatisticsScreen(service, [ACTIVE], "Active batch"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: _loaded(app))
        screen = app.screen
        assert isinstance(screen, StatisticsScreen)
        header, rows = screen.query_one("#chart-progress", Chart).table  # type: ignore[misc]
        series = screen.series
    snaps = _sql(
        service.store.path,
        "SELECT (julianday(at) - julianday(?)) * 86400, succeeded + errored + canceled + expired"
        " FROM snapshots WHERE batch_id = ? ORDER BY at",
        T0.isoformat(),
        ACTIVE,
    )
    assert header == ("seconds_since_creation", "done", "total")
    # every observation is a point of the line (a bucket holds at most one snapshot here)
    points = {(round(s), d) for s, d, _ in rows}
    for seconds, done in snaps:
        assert any(abs(s - seconds) <= 120 * 60 / 240 and d == done for s, d in points)
    assert rows[-1][1] == 600
    assert all(r[2] == 1000 for r in rows)
    assert series is not None
    assert not series.ended
    assert series.expires_s == 24 * 3600
    eta = service.eta(ACTIVE)
    assert eta is not None
    assert series.eta_s == (eta - T0).total_seconds()


async def test_export_keys_write_csv_and_svg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = offline_service(tmp_path)
    add_ended_batch(service.store, BATCH, _lines(), tmp_path)
    out = tmp_path / "exports"
    out.mkdir()
    monkeypatch.chdir(out)  # the export directory is the current one
    app = ScreenHost(lambda: StatisticsScreen(service, [BATCH], "Batch under test"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: _loaded(app))
        screen = app.screen
        assert isinstance(screen, StatisticsScreen)
        await pilot.press("c")  # the focused chart: outcomes
        await wait_for(pilot, lambda: (out / f"{BATCH}-outcomes.csv").exists())
        await pilot.press("tab", "tab", "tab", "tab", "c")  # → the output-token histogram
        await wait_for(pilot, lambda: (out / f"{BATCH}-output_tokens.csv").exists())
        await pilot.press("s")
        await wait_for(pilot, lambda: (out / f"{BATCH}-statistics.svg").exists())
        tables = _chart_tables(screen)
    with (out / f"{BATCH}-outcomes.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["label", "requests", "cost_usd"]
    assert [(r[0], int(r[1])) for r in rows[1:]] == [(r[0], r[1]) for r in tables["outcomes"][1]]
    with (out / f"{BATCH}-output_tokens.csv").open(newline="") as fh:
        hist = [[int(v) for v in r] for r in list(csv.reader(fh))[1:]]
    assert hist == [list(r) for r in tables["output_tokens"][1]]
    svg = (out / f"{BATCH}-statistics.svg").read_text()
    assert svg.startswith("<svg")
    assert "Outcomes" in svg
    assert (out / f"{BATCH}-statistics.svg").stat().st_mode & 0o777 == 0o600
    assert not list(out.glob(".*.tmp"))


async def test_enter_on_a_top_request_opens_it(tmp_path: Path) -> None:
    service = offline_service(tmp_path)
    add_ended_batch(service.store, BATCH, _lines(), tmp_path)
    app = ScreenHost(lambda: ResultsScreen(service, batch_ids=[BATCH], title="Batch under test"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen) and app.screen.loaded)
        await pilot.press("v")
        await wait_for(pilot, lambda: _loaded(app))
        stats = app.screen
        assert isinstance(stats, StatisticsScreen)
        first = stats.distribution.longest[0]  # type: ignore[union-attr]
        stats.query_one("#stats-top").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen) and app.screen.loaded)
        viewer = app.screen
        assert isinstance(viewer, ResultsScreen)
        assert viewer.table.total == 1
        assert viewer.filt.custom_ids == frozenset({first.custom_id})
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, StatisticsScreen))


# --- snapshots ---------------------------------------------------------------------------


def test_statistics_view_snapshot(snap_compare: Any, tmp_path: Path) -> None:
    service = offline_service(tmp_path)
    add_ended_batch(service.store, BATCH, _lines(), tmp_path)
    app = ScreenHost(lambda: StatisticsScreen(service, [BATCH], f"Batch {BATCH} · summaries"))

    async def run_before(pilot: Any) -> None:
        await wait_for(pilot, lambda: _loaded(app))
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_progress_chart_snapshot(snap_compare: Any, tmp_path: Path) -> None:
    service = _progress_store(tmp_path)
    app = ScreenHost(lambda: StatisticsScreen(service, [ACTIVE], "Active batch"))

    async def run_before(pilot: Any) -> None:
        await wait_for(pilot, lambda: _loaded(app))
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


async def test_results_arriving_redraw_the_charts(tmp_path: Path) -> None:
    """Opened before the results were downloaded, the view fills in when they arrive."""
    from batchtop.core.models import ResultsReady
    from batchtop.tui.messages import ServiceEvent

    service = offline_service(tmp_path)
    lines = _lines()
    add_ended_batch(service.store, BATCH, [], tmp_path)  # known, nothing indexed yet
    app = ScreenHost(lambda: StatisticsScreen(service, [BATCH], "Batch under test"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: _loaded(app))
        screen = app.screen
        assert isinstance(screen, StatisticsScreen)
        assert screen.breakdown is not None
        assert screen.breakdown.total == 0
        path = tmp_path / "arrived.jsonl"
        path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in lines))
        service.results.ingest_results(BATCH, path)
        screen.post_message(ServiceEvent(ResultsReady(BATCH, len(lines))))
        await wait_for(pilot, lambda: screen.breakdown is not None and screen.breakdown.total == 80)
        await wait_for(pilot, lambda: screen.loaded and bool(screen._notable))
        outcomes = screen.query_one("#chart-outcomes", Chart).table
        assert outcomes is not None
        assert sum(n for _, n, _ in outcomes[1]) == 80


def test_facts_are_built_after_the_ingest_and_follow_a_new_one(tmp_path: Path) -> None:
    """The statistics' rows are written off the ingest's path (the background builder), and
    an ingest that replaces the batch's rows (same count, other outcomes) makes them stale."""
    from batchtop.core import stats

    service = offline_service(tmp_path)
    store = service.store
    add_ended_batch(store, BATCH, standard_lines(40), tmp_path)
    assert results_of(store).wait_search_index(60)  # the builder does the facts right after
    assert stats.facts_fresh(store._conn(), BATCH)
    count = "SELECT count(*) FROM result_facts WHERE batch_id = ?"
    assert _sql(store.path, count, BATCH) == [(40,)]
    assert {s.label for s in service.result_breakdown([BATCH]).outcomes} == {
        "succeeded",
        "errored: overloaded_error",
        "errored: invalid_request_error",
        "expired",
        "canceled",
    }
    path = tmp_path / "again.jsonl"
    again = [succeeded(f"req-{i:05d}", "fine") for i in range(1, 41)]
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in again))
    results_of(store).ingest_results(BATCH, path)
    outcomes = service.result_breakdown([BATCH]).outcomes
    assert [(s.label, s.count) for s in outcomes] == [("succeeded", 40)]
    assert stats.facts_fresh(store._conn(), BATCH)


def test_one_batch_is_read_from_its_summary(tmp_path: Path) -> None:
    """Once its facts are built, a batch's numbers come from its summary (a few rows), not
    from grouping its facts again: with the facts gone, the view still has every number.
    A store whose facts predate the summary gets one on the first read."""
    from batchtop.core import stats

    service = offline_service(tmp_path)
    store = service.store
    add_ended_batch(store, BATCH, _lines(), tmp_path)
    assert results_of(store).wait_search_index(60)
    conn = store._conn()
    assert stats.summary_fresh(conn, BATCH)
    # the same numbers computed by grouping the facts again (not read from the summary)
    src = stats._facts_source(BATCH)
    live = stats._breakdown(stats._group_rows(conn, src))
    live_distribution = stats._distribution(conn, src, live)[0]
    assert live.total == 80
    assert live_distribution.longest

    with sqlite3.connect(store.path) as raw:
        raw.execute("DELETE FROM result_facts WHERE batch_id = ?", (BATCH,))
    breakdown = service.result_breakdown([BATCH])
    assert breakdown == live
    assert service.result_distribution([BATCH], breakdown) == live_distribution

    # a store migrated with its facts built and no summary yet
    with sqlite3.connect(store.path) as raw:
        raw.execute("DELETE FROM result_groups")
        raw.execute("UPDATE result_facts_built SET summary_rows = NULL")
    assert not stats.summary_fresh(conn, BATCH)
    assert stats.build_facts(conn, BATCH)  # the facts deleted above, back
    assert stats.summary_fresh(conn, BATCH)
    with sqlite3.connect(store.path) as raw:
        raw.execute("UPDATE result_facts_built SET summary_rows = NULL")
    assert service.result_breakdown([BATCH]) == live
    assert stats.summary_fresh(conn, BATCH)


LEAK_CHECKS = (
    "test_closed_views_leave_no_chart_behind",
    "test_closed_views_leave_no_rendered_lines_behind",
)
in_leak_child = pytest.mark.skipif(
    os.environ.get("BATCHTOP_LEAK_CHILD") != "1",
    reason="run in a fresh interpreter by test_leak_checks_in_a_fresh_interpreter",
)


@pytest.mark.skipif(
    os.environ.get("BATCHTOP_LEAK_CHECKS") != "1",
    reason="collector-timing dependent (failed now and then in a fresh interpreter too):"
    " run with BATCHTOP_LEAK_CHECKS=1",
)
@pytest.mark.parametrize("name", LEAK_CHECKS)
def test_leak_checks_in_a_fresh_interpreter(name: str) -> None:
    """What a closed view leaves behind is counted in a process of its own: in a shared one
    the apps of earlier tests (and Textual's process-wide caches they filled) decide what
    the collector can free, and the count says nothing about the view."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", f"{__file__}::{name}"],
        cwd=Path(__file__).resolve().parents[3],
        env={**os.environ, "BATCHTOP_LEAK_CHILD": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout


@in_leak_child
async def test_closed_views_leave_no_chart_behind(tmp_path: Path) -> None:
    """Every chart of a closed statistics view can be collected (textual-plotext's theme
    subscription kept each one alive with the app)."""
    import gc
    import weakref

    service = offline_service(tmp_path)
    add_ended_batch(service.store, BATCH, _lines(), tmp_path)
    app = ScreenHost(lambda: StatisticsScreen(service, [BATCH], "Batch under test"))
    async with app.run_test(size=SIZE) as pilot:
        charts: list[weakref.ref[Chart]] = []
        for _ in range(3):
            screen = StatisticsScreen(service, [BATCH], "again")
            app.push_screen(screen)
            await wait_for(pilot, lambda s=screen: s.loaded)  # type: ignore[misc]
            charts += [weakref.ref(c) for c in screen.query(Chart)]
            app.pop_screen()
            await wait_for(pilot, lambda s=screen: not s.is_attached)  # type: ignore[misc]
            del screen
        await pilot.pause()
        gc.collect()
        assert len(charts) == 18
        # the views closed before the last one (the last may still be on its way out)
        assert [c for c in charts[:12] if c() is not None] == []


@in_leak_child
async def test_closed_views_leave_no_rendered_lines_behind(tmp_path: Path) -> None:
    """The lines a closed view's widgets rendered can be collected: Textual's
    `StylesCache.get_inner_outer` cache held each widget's styles cache (every line it drew)
    until 1,024 more were made (Textualize/textual#6665; tui/textual_fixes.py)."""
    import gc
    import weakref

    import batchtop.tui.app  # noqa: F401  (applies the workarounds, as `batchtop` does)

    service = offline_service(tmp_path)
    add_ended_batch(service.store, BATCH, _lines(), tmp_path)
    app = ScreenHost(lambda: StatisticsScreen(service, [BATCH], "Batch under test"))
    async with app.run_test(size=SIZE) as pilot:
        caches: list[list[weakref.ref[Any]]] = []
        for _ in range(3):
            screen = StatisticsScreen(service, [BATCH], "again")
            app.push_screen(screen)
            await wait_for(pilot, lambda s=screen: s.loaded)  # type: ignore[misc]
            await pilot.pause()
            caches.append([weakref.ref(w._styles_cache) for w in screen.query("*")])
            app.pop_screen()
            await wait_for(pilot, lambda s=screen: not s.is_attached)  # type: ignore[misc]
            del screen
        await pilot.pause()
        gc.collect()
        closed = caches[0] + caches[1]  # the last may still be on its way out
        assert len(closed) > 10
        assert [c for c in closed if c() is not None] == []
