"""One store file used by several threads and processes at once (the TUI and the CLI)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from batchtop.core import store as store_module
from batchtop.core.models import ProcessingStatus, RequestCounts, ResultFilter
from batchtop.core.store import Store
from data_factory import T0, mixed_results, remote, write_jsonl
from results_support import results_of
from waiting import try_wait, wait_until


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
    assert len(store.db._conns) >= 8  # one connection per thread
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
            assert results_of(a).ingest_results("big", results) == 20_000

    def refresh() -> None:
        for i in range(150):
            counts = RequestCounts(processing=150 - i, succeeded=i)
            b.upsert_remote(
                [remote("live", status=ProcessingStatus.IN_PROGRESS, counts=counts)],
                T0 + timedelta(seconds=i),
            )
            b.set_note("live", str(i))
            results_of(b).query_results(["big"], ResultFilter(), 0, 50)

    run_threads([ingest, refresh])
    assert len(a.snapshots("live")) == 150
    assert results_of(b).count_results(["big"]) == 20_000
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


def test_close_waits_for_a_call_running_on_another_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scope switch (or a Ctrl-C) closes the store while a worker thread is inside a
    call: the call finishes on its connection (closing it under the call crashed the
    process), and a later call is refused instead of creating a new file at a renamed
    store's old path."""
    home = tmp_path / "unscoped"
    home.mkdir()
    store = Store.open(home / "store.db")
    job = store.create_job("held", part_count=2)
    inside = threading.Event()
    closed_returned = threading.Event()
    events: list[str] = []
    seen: dict[str, object] = {}
    real = store_module._job_from_row

    def held(*args: Any, **kwargs: Any) -> Any:
        # between two statements of `job_progress`: stay until close() has started, and
        # give it the chance to return (it must not while this call is inside)
        inside.set()
        wait_until(lambda: store.db.closed, 30, "close() to start")
        try_wait(closed_returned.is_set, 1.0)
        return real(*args, **kwargs)

    monkeypatch.setattr(store_module, "_job_from_row", held)

    def worker_calls() -> None:
        try:
            progress = store.job_progress(job.id)
            seen["during"] = progress.missing if progress is not None else None
        except Exception as exc:
            seen["during"] = str(exc)
        events.append("call ended")
        try:
            store.meta("probe")
        except Exception as exc:
            seen["late"] = str(exc)

    worker = threading.Thread(target=worker_calls)
    worker.start()
    assert inside.wait(30)
    store.close(index_wait_s=0)
    events.append("closed")
    closed_returned.set()
    worker.join(60)
    assert not worker.is_alive()
    assert seen == {"during": (1, 2), "late": "The store is closed."}
    assert events == ["call ended", "closed"]
    monkeypatch.undo()
    home.rename(tmp_path / "workspace")
    assert not home.exists()  # nothing recreated at the old path
    reopened = Store.open(tmp_path / "workspace" / "store.db")
    assert [p.job.id for p in reopened.partial_jobs()] == [job.id]
    reopened.close()


def test_a_store_moved_away_is_an_error_not_a_new_empty_file(tmp_path: Path) -> None:
    """Another process moved the store (a scope claim, the move of a store from before
    scoping): a thread that connects now is told so; nothing is created at the old path
    (an empty store there answered 'no such table' and would have taken new writes)."""
    home = tmp_path / "old"
    home.mkdir()
    store = Store.open(home / "store.db")
    store.set_meta(probe="kept")
    home.rename(tmp_path / "new")
    seen: dict[str, str] = {}

    def fresh_thread() -> None:
        try:
            store.meta("probe")
        except Exception as exc:
            seen["error"] = str(exc)

    worker = threading.Thread(target=fresh_thread)
    worker.start()
    worker.join(60)
    assert "was it moved or deleted by another batchtop?" in seen["error"]
    assert not (home / "store.db").exists()
    store.close()
