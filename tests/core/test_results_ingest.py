"""The streaming ingest: bytes in any chunking, many inserts, a writer thread, big commits.

Every row exactly once, joined with its own manifest input; the first of a repeated
custom_id wins; a cut, a restart or a killed process never leaves lost, doubled or
mis-joined rows once the ingest is re-run.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import ResultFilter
from batchtop.core.results import ingest as results_ingest
from batchtop.core.results.raw_lines import RAW_COLUMNS, RawLines
from batchtop.core.results.sql import INPUT_TEXT
from batchtop.core.store import Store
from data_factory import T0, ended, errored, line, mixed_results, remote, requests, succeeded
from hypothesis import given, settings
from hypothesis import strategies as st
from results_support import results_of
from service_support import FakeSleep, ServiceFactory
from waiting import wait_until


def _store_with_manifest(path: Path, ids: list[str]) -> Store:
    store = Store.open(path)
    store.upsert_remote([remote("b1")], T0)
    job = store.create_job("j", None, T0)
    store.add_manifest(job.id, 1, ((cid, f"input of {cid}", "{}") for cid in ids))
    store.set_batch_meta("b1", job_id=job.id, job_part=1)
    return store


def _rows(store: Store) -> dict[str, tuple[str, str | None, str]]:
    """custom_id → (text, input_text, raw), read straight from the table (the input and the
    raw line as every read sees them: through the batch's manifest and results file)."""
    conn = store._conn()
    got = conn.execute(
        f"SELECT r.custom_id, r.text, {INPUT_TEXT}, {RAW_COLUMNS} FROM results r"
        " WHERE r.batch_id = 'b1'"
    ).fetchall()
    out: dict[str, tuple[str, str | None, str]] = {}
    with RawLines(conn) as raw_lines:
        for cid, text, input_text, *raw in got:
            assert cid not in out, f"{cid} stored twice"
            out[cid] = (text, input_text, raw_lines.text("b1", *raw))
    return out


@pytest.fixture
def small_inserts(monkeypatch: pytest.MonkeyPatch) -> None:
    """7 rows per INSERT: a few hundred lines cross many statement boundaries."""
    monkeypatch.setattr(results_ingest, "ROWS_PER_INSERT", 7)


def test_duplicates_unknown_ids_and_joins(tmp_path: Path, small_inserts: None) -> None:
    known = [f"req-{i:04d}" for i in range(300)]
    store = _store_with_manifest(tmp_path / "s.db", known)
    lines = [succeeded(cid, f"first {cid}", output_tokens=10) for cid in known[::-1]]
    lines += [succeeded("req-0005", "second req-0005", output_tokens=1000)]  # later statement
    lines.insert(3, succeeded(known[-1], "same statement dup", output_tokens=1000))
    lines += [succeeded(f"stranger-{i}", f"unknown {i}") for i in range(20)]  # no manifest
    lines += [errored("req-0007-x", "overloaded_error", "Overloaded"), ended("gone", "expired")]
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"".join(line(obj) for obj in lines))
    stats = results_of(store).ingest_results_stats("b1", path)
    assert (stats.rows, stats.duplicates, stats.malformed) == (322, 2, 0)
    rows = _rows(store)
    assert len(rows) == 322
    for cid in known:
        assert rows[cid][:2] == (f"first {cid}", f"input of {cid}")
        assert orjson.loads(rows[cid][2])["custom_id"] == cid  # raw line of the same row
    for i in range(20):
        assert rows[f"stranger-{i}"][:2] == (f"unknown {i}", None)
    assert rows["gone"][1] is None
    # The cost counts each kept row once (the duplicates' 1000 output tokens are not in it).
    kept_cost = store._conn().execute("SELECT total(cost_usd) FROM results").fetchone()[0]
    assert stats.cost_usd == pytest.approx(kept_cost)
    view = store.get_batch("b1")
    assert view is not None
    assert view.results_indexed == 322
    assert view.actual_cost_usd == pytest.approx(kept_cost)
    store.close()


@pytest.mark.parametrize("in_file", [True, False])
def test_a_line_longer_than_many_pieces(tmp_path: Path, in_file: bool) -> None:
    """A line spanning many fed pieces (kept in pieces until it ends) is one row, its text and
    raw line byte for byte, whether the rows keep their lines' places or the lines."""
    long_text = "long ☕ " * 3000  # ~27 KB, fed 1 KB at a time
    objs = [succeeded("a", "short"), succeeded("b", long_text), succeeded("c", "after")]
    data = b"".join(line(obj) for obj in objs)
    path = tmp_path / "r.jsonl"
    path.write_bytes(data)
    store = _store_with_manifest(tmp_path / "s.db", ["a", "b", "c"])
    ingest = results_of(store).start_ingest("b1", path if in_file else None)
    try:
        for at in range(0, len(data), 1024):
            ingest.feed(data[at : at + 1024])
        stats = ingest.finish()
    finally:
        ingest.close()
    assert (stats.rows, stats.malformed) == (3, 0)
    rows = _rows(store)
    assert rows["b"][0] == long_text
    for obj in objs:
        assert rows[obj["custom_id"]][2].encode() == line(obj).rstrip(b"\n")
    store.close()


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=40_000), max_size=12))
def test_any_chunking_gives_the_same_rows(
    tmp_path_factory: pytest.TempPathFactory, cuts: list[int]
) -> None:
    """A stream cut anywhere (mid-line, mid-character) and continued ingests the same rows."""
    directory = tmp_path_factory.mktemp("chunks")
    texts = ["plain", "naïve café ☕ 𝄞", "line\nbreak", 'quote " and \\ slash']
    objs = [succeeded(f"c-{i:03d}", f"{texts[i % 4]} {i}") for i in range(120)]
    objs += [ended(f"e-{i}", "canceled") for i in range(5)]
    data = b"".join(line(obj) for obj in objs) + b'{"custom_id":"last","result":{"type":"expired"}}'
    store = _store_with_manifest(directory / "s.db", [f"c-{i:03d}" for i in range(0, 120, 2)])
    ingest = results_of(store).start_ingest("b1")
    try:
        bounds = sorted({c % len(data) for c in cuts})
        for a, b in zip([0, *bounds], [*bounds, len(data)], strict=True):
            ingest.feed(data[a:b])
        assert ingest.lines == 125
        assert not ingest.ends_cleanly
        stats = ingest.finish()
    finally:
        ingest.close()
    assert stats.rows == 126
    rows = _rows(store)
    assert sorted(rows) == sorted(
        [*(f"c-{i:03d}" for i in range(120)), *(f"e-{i}" for i in range(5)), "last"]
    )
    for i in range(120):
        cid = f"c-{i:03d}"
        assert rows[cid][0] == f"{texts[i % 4]} {i}"
        assert rows[cid][1] == (f"input of {cid}" if i % 2 == 0 else None)
        assert rows[cid][2].encode() == line(objs[i]).rstrip(b"\n")  # byte for byte
    store.close()


def test_restart_replaces_what_was_fed(tmp_path: Path, small_inserts: None) -> None:
    store = _store_with_manifest(tmp_path / "s.db", ["a", "b"])
    ingest = results_of(store).start_ingest("b1")
    try:
        ingest.feed(b"".join(line(succeeded(f"old-{i}", "x")) for i in range(50)))
        ingest.restart()  # the server ignored Range: the body starts over
        ingest.feed(line(succeeded("a", "new a")) + line(succeeded("b", "new b")))
        assert ingest.finish().rows == 2
    finally:
        ingest.close()
    assert {cid: r[:2] for cid, r in _rows(store).items()} == {
        "a": ("new a", "input of a"),
        "b": ("new b", "input of b"),
    }
    store.close()


def test_a_write_error_fails_the_ingest_and_keeps_no_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_inserts: None
) -> None:
    store = _store_with_manifest(tmp_path / "s.db", [])
    calls = 0
    real = results_ingest._insert_sql

    def failing(rows: int, in_file: bool = True) -> str:
        nonlocal calls
        calls += 1
        return real(rows, in_file) if calls < 5 else "INSERT INTO no_such_table VALUES (1)"

    monkeypatch.setattr(results_ingest, "_insert_sql", failing)
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"".join(line(obj) for obj in mixed_results(500)))
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        results_of(store).ingest_results("b1", path)
    view = store.get_batch("b1")
    assert view is not None
    assert view.results_indexed == 0
    assert not results_of(store).search_index_ready(["b1"])
    monkeypatch.setattr(results_ingest, "_insert_sql", real)
    assert results_of(store).ingest_results("b1", path) == 500
    store.close()


_CHILD = """
import sys
from pathlib import Path
from batchtop.core.results import ResultsIndex
from batchtop.core.store import Store

store = Store.open(Path(sys.argv[1]))
ingest = ResultsIndex(store.db).start_ingest("b1")
ingest.feed(Path(sys.argv[2]).read_bytes())
print("fed", flush=True)
sys.stdin.read()  # killed here, mid-ingest: finish() never runs
"""


def test_kill_during_ingest_then_rerun(tmp_path: Path) -> None:
    ids = [f"req-{i:06d}" for i in range(6_000)]
    db = tmp_path / "s.db"
    _store_with_manifest(db, ids).close()
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"".join(line(obj) for obj in mixed_results(6_000, text_size=40)))
    half = tmp_path / "half.jsonl"
    half.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(db), str(half)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"fed"

        def committed() -> int:
            conn = sqlite3.connect(db)
            try:
                return int(conn.execute("SELECT count(*) FROM results").fetchone()[0])
            finally:
                conn.close()

        wait_until(lambda: committed() > 0, 30, "rows of the killed ingest committed")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with Store.open(db) as store:
        view = store.get_batch("b1")
        assert view is not None
        assert view.results_indexed == 0  # never a count for rows that are not all in
        assert not results_of(store).search_index_ready(["b1"])
        assert 0 < results_of(store).count_results(["b1"]) < 6_000
        assert results_of(store).ingest_results("b1", path) == 6_000
        rows = _rows(store)
        assert sorted(rows) == ids
        assert all(rows[cid][1] == f"input of {cid}" for cid in ids)
        assert results_of(store).wait_search_index(timeout=60)
        page = results_of(store).query_results(["b1"], ResultFilter(search="answer 5996:"), 0, 5)
        assert [r.custom_id for r in page.rows] == ["req-005996"]
        store._conn().execute("INSERT INTO results_fts (results_fts) VALUES ('integrity-check')")


async def test_cut_streams_are_indexed_once(
    make_service: ServiceFactory, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Each attempt is cut mid-line; the restarted stream replaces what the cut ones fed."""
    sleeper = FakeSleep(
        on_sleep=lambda _d: emulator.clear_faults() if len(sleeper.delays) == 3 else None
    )
    service = make_service(sleep=sleeper)
    service.auto_download = False
    reqs = requests(3_000)
    outcome = await service.submit_requests(reqs)
    emulator.advance(3600)
    await service.refresh()
    (bid,) = outcome.batch_ids
    emulator.set_faults(cut_results_after_bytes=1_234_567)  # past the first fed piece
    assert (await service.download_results(bid)).rows == 3_000
    assert len(sleeper.delays) == 3
    got = service.store._conn().execute(
        f"SELECT r.custom_id, {INPUT_TEXT} FROM results r WHERE r.batch_id = ?", (bid,)
    )
    inputs = {r["custom_id"]: r["params"]["messages"][0]["content"] for r in reqs}
    seen = dict(got.fetchall())
    assert len(seen) == 3_000
    assert seen == inputs
    view = service.batch(bid)
    assert view is not None
    assert (view.results_indexed, view.results_downloaded) == (3_000, True)
