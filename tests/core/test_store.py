"""Store: batches, snapshots, local metadata, jobs, journal, manifests, files and modes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from batchtop.core import paths
from batchtop.core.errors import NotFound, UserError
from batchtop.core.models import (
    IntentState,
    ProcessingStatus,
    RequestCounts,
)
from batchtop.core.store import Store
from data_factory import T0, remote
from results_support import results_of

IN_PROGRESS = ProcessingStatus.IN_PROGRESS


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "store.sqlite3")
    yield s  # type: ignore[misc]
    s.close()


def test_import_creates_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "BATCHTOP_HOME": str(tmp_path / "home")}
    subprocess.run(
        [sys.executable, "-c", "import batchtop.core.store, batchtop.core.export"],
        check=True,
        env=env,
    )
    assert not (tmp_path / "home").exists()


def test_default_location_is_private(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BATCHTOP_HOME", str(tmp_path / "home"))
    with Store.open() as s:
        s.upsert_remote([remote("b1")], T0)
    db = paths.data_dir() / "batchtop.sqlite3"
    assert db.exists()
    assert stat.S_IMODE(paths.data_dir().stat().st_mode) == 0o700
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    wal = db.with_name(db.name + "-wal")
    if wal.exists():
        assert stat.S_IMODE(wal.stat().st_mode) & 0o077 == 0


def test_pragmas(store: Store) -> None:
    conn = store._conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_open_errors(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite3").mkdir()
    with pytest.raises(UserError, match="directory"):
        Store.open(tmp_path / "dir.sqlite3")
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(UserError, match="not a usable database"):
        Store.open(junk)


def test_closed_store_refuses(tmp_path: Path) -> None:
    s = Store.open(tmp_path / "s.db")
    s.close()
    with pytest.raises(UserError, match="closed"):
        s.list_batches()


# --- batches ------------------------------------------------------------------------------


def test_upsert_new_changed_unchanged(store: Store) -> None:
    b1 = remote("b1", status=IN_PROGRESS, counts=RequestCounts(processing=10))
    b2 = remote("b2", status=IN_PROGRESS, counts=RequestCounts(processing=5))
    first = store.upsert_remote([b1, b2], T0)
    assert [(v.id, prev) for v, prev in first] == [("b1", None), ("b2", None)]
    assert first[0][0].remote == b1

    # Same state again: nothing to report.
    assert store.upsert_remote([b1, b2], T0 + timedelta(seconds=30)) == []
    assert store.get_batch("b1").seen_at == T0 + timedelta(seconds=30)  # type: ignore[union-attr]

    b1b = remote("b1", status=IN_PROGRESS, counts=RequestCounts(processing=4, succeeded=6))
    changed = store.upsert_remote([b1b, b2], T0 + timedelta(seconds=60))
    assert len(changed) == 1
    view, prev = changed[0]
    assert view.remote == b1b
    assert prev == b1


@pytest.mark.parametrize(
    "field",
    ["ended_at", "cancel_initiated_at", "archived_at", "results_url"],
)
def test_each_field_counts_as_change(store: Store, field: str) -> None:
    store.upsert_remote([remote("b1")], T0)
    value = "https://x/results" if field == "results_url" else T0 + timedelta(hours=1)
    changed = store.upsert_remote([remote("b1", **{field: value})], T0)
    assert len(changed) == 1
    assert getattr(changed[0][0].remote, field) == value


def test_snapshots_on_count_or_status_change(store: Store) -> None:
    c1 = RequestCounts(processing=10)
    c2 = RequestCounts(processing=5, succeeded=5)
    store.upsert_remote([remote("b1", status=IN_PROGRESS, counts=c1)], T0)
    store.upsert_remote([remote("b1", status=IN_PROGRESS, counts=c1)], T0 + timedelta(minutes=1))
    store.upsert_remote([remote("b1", status=IN_PROGRESS, counts=c2)], T0 + timedelta(minutes=2))
    store.upsert_remote(
        [remote("b1", status=ProcessingStatus.CANCELING, counts=c2)], T0 + timedelta(minutes=3)
    )
    snaps = store.snapshots("b1")
    assert [s.counts for s in snaps] == [c1, c2, c2]
    assert [s.at for s in snaps] == [T0, T0 + timedelta(minutes=2), T0 + timedelta(minutes=3)]
    assert store.snapshots("nope") == []


def test_datetimes_round_trip_aware_utc(store: Store) -> None:
    plus2 = timezone(timedelta(hours=2))
    created = datetime(2026, 11, 25, 14, 30, 15, 123456, tzinfo=plus2)
    naive_end = datetime(2026, 11, 25, 13, 0, 0)
    b = remote("b1", created=created, ended_at=naive_end)
    store.upsert_remote([b], T0)
    got = store.get_batch("b1")
    assert got is not None
    assert got.remote.created_at == created
    assert got.remote.created_at.tzinfo is not None
    assert got.remote.created_at.utcoffset() == timedelta(0)
    assert got.remote.ended_at == naive_end.replace(tzinfo=UTC)


def test_list_order_active_and_deleted(store: Store) -> None:
    store.upsert_remote(
        [
            remote("old", created=T0),
            remote("new", created=T0 + timedelta(hours=2), status=IN_PROGRESS),
            remote("mid", created=T0 + timedelta(hours=1)),
        ],
        T0,
    )
    assert [v.id for v in store.list_batches()] == ["new", "mid", "old"]
    assert [v.id for v in store.list_batches(active_only=True)] == ["new"]
    store.mark_deleted("mid")
    assert [v.id for v in store.list_batches()] == ["new", "old"]
    assert [v.id for v in store.list_batches(include_deleted=True)] == ["new", "mid", "old"]
    view = store.get_batch("mid")
    assert view is not None
    assert view.deleted


def test_label_note_and_meta_before_first_refresh(store: Store) -> None:
    job = store.create_job("articles")
    store.set_batch_meta(
        "b1", job_id=job.id, job_part=1, model="claude-haiku-4-5", estimated_cost_usd=1.5
    )
    store.set_label("b1", "nightly [bold]run[/]")
    store.set_note("b1", "note\nwith lines")
    assert store.get_batch("b1") is None  # not seen remotely yet
    store.upsert_remote([remote("b1")], T0)
    view = store.get_batch("b1")
    assert view is not None
    assert (view.label, view.note) == ("nightly [bold]run[/]", "note\nwith lines")
    assert (view.job_id, view.job_part, view.model) == (job.id, 1, "claude-haiku-4-5")
    assert view.estimated_cost_usd == 1.5
    assert not view.has_manifest
    store.set_batch_meta("b1", parent_batch_id="b0")  # None leaves other fields alone
    view = store.get_batch("b1")
    assert view is not None
    assert view.parent_batch_id == "b0"
    assert view.job_part == 1
    store.set_label("b1", None)
    store.set_note("b1", "")
    view = store.get_batch("b1")
    assert view is not None
    assert view.label is None
    assert view.note is None


def test_results_file_bookkeeping(store: Store, tmp_path: Path) -> None:
    assert results_of(store).results_file("b1") is None
    store.upsert_remote([remote("b1")], T0)
    results_of(store).set_results_file("b1", tmp_path / "r.jsonl", downloaded=True)
    assert results_of(store).results_file("b1") == tmp_path / "r.jsonl"
    view = store.get_batch("b1")
    assert view is not None
    assert view.results_downloaded


def test_upsert_10k_then_nothing_changed(store: Store) -> None:
    """10,000 batches in one upsert; the same list again changes nothing (speed: bench/)."""
    batches = [
        remote(
            f"msgbatch_{i:05d}",
            created=T0 + timedelta(seconds=i),
            status=IN_PROGRESS,
            counts=RequestCounts(processing=100),
        )
        for i in range(10_000)
    ]
    assert len(store.upsert_remote(batches, T0)) == 10_000
    assert store.upsert_remote(batches, T0 + timedelta(seconds=30)) == []
    views = store.list_batches()
    assert len(views) == 10_000
    assert views[0].id == "msgbatch_09999"


def test_duplicate_ids_in_one_upsert(store: Store) -> None:
    a = remote("b1", status=IN_PROGRESS, counts=RequestCounts(processing=2))
    b = remote("b1", counts=RequestCounts(succeeded=2))
    changed = store.upsert_remote([a, b], T0)
    assert len(changed) == 1
    assert changed[0][0].remote == b


# --- jobs, journal, manifests -------------------------------------------------------------


def test_jobs(store: Store) -> None:
    j1 = store.create_job("first", "in.jsonl", T0)
    j2 = store.create_job("second", created_at=T0 + timedelta(hours=1))
    assert j1.id != j2.id
    store.upsert_remote([remote("p2", created=T0), remote("p1", created=T0)], T0)
    store.set_batch_meta("p2", job_id=j1.id, job_part=2)
    store.set_batch_meta("p1", job_id=j1.id, job_part=1)
    got = store.get_job(j1.id)
    assert got is not None
    assert (got.name, got.source, got.created_at, got.batch_ids) == (
        "first",
        "in.jsonl",
        T0,
        ("p1", "p2"),
    )
    assert [j.id for j in store.list_jobs()] == [j2.id, j1.id]
    assert store.list_jobs()[1].batch_ids == ("p1", "p2")
    assert [v.id for v in store.job_batches(j1.id)] == ["p1", "p2"]
    assert store.get_job("job_missing") is None


def test_journal(store: Store) -> None:
    job = store.create_job("j")
    i1 = store.add_intent(job.id, 1, 100, "sha256:aa", T0)
    i2 = store.add_intent(job.id, 2, 50, "sha256:bb", T0)
    assert i1.state is IntentState.PENDING
    assert i1.created_at == T0
    assert [i.id for i in store.open_intents()] == [i1.id, i2.id]
    done = store.resolve_intent(i1.id, IntentState.SUBMITTED, batch_id="msgbatch_1")
    assert done.state is IntentState.SUBMITTED
    assert done.batch_id == "msgbatch_1"
    store.resolve_intent(i2.id, IntentState.FAILED, error="400: bad request")
    assert store.open_intents() == []
    states = [(i.part, i.state, i.batch_id, i.error) for i in store.intents(job.id)]
    assert states == [
        (1, IntentState.SUBMITTED, "msgbatch_1", None),
        (2, IntentState.FAILED, None, "400: bad request"),
    ]
    with pytest.raises(NotFound):
        store.resolve_intent(999, IntentState.FAILED)


def test_journal_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as s:
        job = s.create_job("j")
        intent = s.add_intent(job.id, 1, 3, "h", T0)
    with Store.open(path) as s:
        assert [i.id for i in s.open_intents()] == [intent.id]


def test_manifests(store: Store) -> None:
    job = store.create_job("j")
    rows = [(f"id-{i:05d}", f"prompt {i}", f'{{"n": {i}}}') for i in range(25_000)]
    assert store.add_manifest(job.id, 1, iter(rows)) == 25_000
    store.add_manifest(job.id, 2, [("other", None, "{}")])
    got = list(store.manifest_params(job.id, 1))
    assert len(got) == 25_000
    assert got[0] == ("id-00000", '{"n": 0}')
    chosen = dict(store.manifest_params(job.id, 1, ["id-00007", "id-20000", "missing"]))
    assert chosen == {"id-00007": '{"n": 7}', "id-20000": '{"n": 20000}'}
    assert list(store.manifest_params(job.id, 2)) == [("other", "{}")]
    store.upsert_remote([remote("b1")], T0)
    store.set_batch_meta("b1", job_id=job.id, job_part=1)
    view = store.get_batch("b1")
    assert view is not None
    assert view.has_manifest


def test_batches_are_read_by_column_name(store: Store) -> None:
    """A batch's row maps to its `BatchView` by column name: a column added in the middle of
    the SELECT shifts no field, and every field has its column."""
    from dataclasses import fields

    from batchtop.core import store as store_module
    from batchtop.core.models import BatchView, RemoteBatch
    from batchtop.core.sqlite_util import Columns

    store.upsert_remote([remote("b1", counts=RequestCounts(3, 2, 1, 0, 0))], T0)
    store.set_label("b1", "tagged")
    store.set_batch_meta("b1", job_part=2, model="claude-haiku-4-5", estimated_cost_usd=0.5)
    expected = store.get_batch("b1")
    assert expected is not None
    assert expected.label == "tagged"
    view = store_module._VIEW
    for at in (1, len(view) // 2, len(view) - 1):
        wider = Columns(*view.pairs[:at], ("added", "'a new column'"), *view.pairs[at:])
        row = (
            store._conn()
            .execute(f"SELECT {wider.sql} {store_module._VIEW_FROM} WHERE b.id = ?", ("b1",))
            .fetchone()
        )
        assert store_module._view_from_row(row, wider.at) == expected
    remote_fields = {f.name for f in fields(RemoteBatch)} - {"processing_status", "request_counts"}
    # what a provider reports beyond the batch's state is kept in batch_local: the model, and
    # the cost its usage was billed (`_record_reported`), not in the remote row
    remote_fields -= {"model", "usage"}
    assert remote_fields | {"status", *store_module._COUNTS} == set(store_module._REMOTE.names)
    view_fields = {f.name for f in fields(BatchView)} - {"remote"}
    assert view_fields == set(view.names) - set(store_module._REMOTE.names)
