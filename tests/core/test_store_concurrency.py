"""One store file used by several threads and processes at once (the TUI and the CLI)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from batchtop.core.models import ProcessingStatus, RequestCounts, ResultFilter
from batchtop.core.store import Store
from test_store_factory import T0, mixed_results, remote, write_jsonl


def run_threads(targets: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []

    def wrap(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:
                errors.append(exc)

        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive()
    assert errors == []


def test_threads_share_one_store(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db")

    def writer(n: int) -> Callable[[], None]:
        def run() -> None:
            for i in range(40):
                bid = f"b{n}-{i}"
                store.upsert_remote([remote(bid, created=T0 + timedelta(seconds=i))], T0)
                store.set_label(bid, f"w{n}")
                store.add_intent("job", n * 100 + i, i, "h", T0)  # a part: one live intent

        return run

    def reader() -> None:
        for _ in range(100):
            store.list_batches()

    run_threads([writer(n) for n in range(6)] + [reader, reader])
    assert len(store.list_batches()) == 240
    assert len(store.open_intents()) == 240
    assert len(store._conns) >= 8  # one connection per thread
    store.close()


def test_two_stores_one_file_write_at_once(tmp_path: Path) -> None:
    """A long ingest in one store while another keeps refreshing batches and labels."""
    path = tmp_path / "s.db"
    results = write_jsonl(tmp_path / "r.jsonl", mixed_results(20_000))
    a = Store.open(path)
    b = Store.open(path)
    a.upsert_remote([remote("big")], T0)

    def ingest() -> None:
        for _ in range(2):
            assert a.ingest_results("big", results) == 20_000

    def refresh() -> None:
        for i in range(150):
            counts = RequestCounts(processing=150 - i, succeeded=i)
            b.upsert_remote(
                [remote("live", status=ProcessingStatus.IN_PROGRESS, counts=counts)],
                T0 + timedelta(seconds=i),
            )
            b.set_note("live", str(i))
            b.query_results(["big"], ResultFilter(), 0, 50)

    run_threads([ingest, refresh])
    assert len(a.snapshots("live")) == 150
    assert b.count_results(["big"]) == 20_000
    view = a.get_batch("live")
    assert view is not None
    assert view.note == "149"
    a.close()
    b.close()


WORKER = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timedelta, timezone
    from batchtop.core.models import ProcessingStatus, RemoteBatch, RequestCounts
    from batchtop.core.store import Store

    path, tag = sys.argv[1], sys.argv[2]
    t0 = datetime(2026, 11, 25, 12, tzinfo=timezone.utc)
    with Store.open(__import__("pathlib").Path(path)) as s:
        job = s.create_job(tag)
        for i in range(150):
            b = RemoteBatch(f"{tag}-{i}", ProcessingStatus.IN_PROGRESS,
                            RequestCounts(processing=i), t0, t0 + timedelta(days=1))
            s.upsert_remote([b], t0)
            intent = s.add_intent(job.id, i, 1, "h", t0)
            s.resolve_intent(intent.id, "submitted", batch_id=b.id)
            s.set_label("shared", f"{tag}-{i}")
    print("done")
    """
)


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    Store.open(path).close()  # created and migrated once; the workers race on writes
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), tag],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("cli", "tui")
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.strip() == "done"
    with Store.open(path) as s:
        assert len(s.list_batches()) == 300
        assert len(s.list_jobs()) == 2
        assert s.open_intents() == []
        assert sum(len(s.intents(j.id)) for j in s.list_jobs()) == 300


def test_processes_race_to_create_the_file(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), tag],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("p1", "p2", "p3")
    ]
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with Store.open(path) as s:
        assert len(s.list_batches()) == 450


def test_a_retired_store_lets_a_running_statement_finish(tmp_path: Path) -> None:
    """A scope switch retires the store while a worker thread is inside a statement: the
    statement finishes on its files (even after the directory is renamed), a later call
    is refused instead of creating a new file at the old path, and close() ends it all."""
    home = tmp_path / "unscoped"
    home.mkdir()
    store = Store.open(home / "store.db")
    store.set_meta(probe="kept")
    inside = threading.Event()
    retired = threading.Event()
    seen: dict[str, object] = {}

    def long_read() -> None:
        conn = store._conn()

        def tick() -> int:
            inside.set()
            retired.wait(30)  # hold the statement open until the switch is done
            return 0

        conn.set_progress_handler(tick, 1000)
        row = conn.execute(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000)"
            " SELECT count(*) FROM c"
        ).fetchone()
        conn.set_progress_handler(None, 0)
        seen["count"] = row[0]
        try:
            store.meta("probe")
        except Exception as exc:
            seen["late"] = str(exc)

    worker = threading.Thread(target=long_read)
    worker.start()
    assert inside.wait(30)
    store.retire()
    (home).rename(tmp_path / "workspace")
    retired.set()
    worker.join(60)
    assert not worker.is_alive()
    assert seen == {"count": 200000, "late": "The store is closed."}
    assert not home.exists()  # nothing recreated at the old path
    store.close()
    reopened = Store.open(tmp_path / "workspace" / "store.db")
    assert reopened.meta("probe") == "kept"
    reopened.close()
