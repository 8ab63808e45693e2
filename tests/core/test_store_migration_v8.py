"""A store written by batchtop at schema 8 (before providers) moves forward with nothing lost.

`data/store_v8.sqlite3` was written by batchtop's own store code at schema 8
(`data/make_store_v8.py`, run against that version): batches, a job, intents, manifests,
results with their search index, labels, notes and the store's metadata.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from batchtop.core import schema
from batchtop.core.models import IntentState, ProcessingStatus, ResultFilter, ResultType
from batchtop.core.store import Store
from results_support import results_of

DATA = Path(__file__).parent / "data" / "store_v8.sqlite3"


def _tables(conn: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every ordinary table, by the columns it has now, in a stable order."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name NOT LIKE 'results_fts%'"
        )
    ]
    out: dict[str, list[tuple[object, ...]]] = {}
    for name in names:
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({name})")]
        rows = conn.execute(f"SELECT {', '.join(cols)} FROM {name}").fetchall()
        out[name] = sorted(rows, key=repr)
    return out


def test_schema_8_store_migrates_with_nothing_lost(tmp_path: Path) -> None:
    path = tmp_path / "batchtop.sqlite3"
    shutil.copyfile(DATA, path)
    conn = sqlite3.connect(path)
    assert schema.user_version(conn) == 8
    before = _tables(conn)
    conn.close()

    with Store.open(path) as store:
        ended = store.get_batch("msgbatch_v8_ended")
        active = store.get_batch("msgbatch_v8_active")
        assert ended is not None
        assert active is not None
        # Every batch stored before providers is an Anthropic one; nothing else is guessed.
        for view in (ended, active):
            assert view.remote.provider == "anthropic"
            assert view.remote.provider_status is None
            assert view.remote.endpoint is None
            assert view.remote.output_file_id is None
            assert view.remote.submission_id is None
        assert ended.remote.processing_status is ProcessingStatus.ENDED
        assert ended.remote.has_results
        assert ended.remote.status_text == "ended"
        assert active.remote.status_text == "in_progress"
        assert (ended.label, ended.model, ended.job_part) == ("kept label", "claude-haiku-4-5", 1)
        assert active.note == "a note"
        assert ended.results_downloaded
        assert ended.has_manifest
        assert [i.part for i in store.open_intents()] == [2]
        assert [i.state for i in store.intents(ended.job_id or "")] == [
            IntentState.SUBMITTED,
            IntentState.PENDING,
        ]
        page = results_of(store).query_results([ended.id], ResultFilter(search="old wor"), 0, 10)
        assert [r.custom_id for r in page.rows] == ["a-1"]
        assert page.rows[0].input_text == "first prompt"
        errored = results_of(store).query_results(
            [ended.id], ResultFilter(types=frozenset({ResultType.ERRORED})), 0, 10
        )
        assert [(r.custom_id, r.error_type) for r in errored.rows] == [
            ("a-3", "invalid_request_error")
        ]
        assert store.meta("workspace_id") == "wrkspc_v8"
        assert store.listing() == (None, True)  # the first listing was complete

    conn = sqlite3.connect(path)
    assert schema.user_version(conn) == schema.SCHEMA_VERSION
    after = _tables(conn)
    conn.close()
    # Every table keeps every row and value; `batches` gains the provider columns only (and
    # `errors`, why a provider failed a whole batch: none here).
    assert set(after) >= set(before)
    for name, rows in before.items():
        width = len(rows[0]) if rows else 0
        assert sorted((r[:width] for r in after[name]), key=repr) == rows, name
    new_cols = [r[len(before["batches"][0]) :] for r in after["batches"]]
    assert new_cols == [("anthropic", None, None, None, None, None, None, None)] * 2


def test_provider_fields_round_trip(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from batchtop.core.models import RemoteBatch, RequestCounts

    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    remote = RemoteBatch(
        "batch_abc",
        ProcessingStatus.IN_PROGRESS,
        RequestCounts(processing=3),
        t0,
        t0 + timedelta(hours=24),
        provider="openai",
        provider_status="finalizing",
        endpoint="/v1/chat/completions",
        input_file_id="file-in",
        output_file_id="file-out",
        error_file_id=None,
        submission_id="sub-1",
    )
    with Store.open(tmp_path / "s.db") as store:
        store.upsert_remote([remote], t0)
        view = store.get_batch("batch_abc")
        assert view is not None
        assert view.remote == remote
        assert view.remote.status_text == "finalizing"
        # A change of the provider's own status alone is a change (shown at once).
        later = RemoteBatch(**{**_fields(remote), "provider_status": "completed"})
        changed = store.upsert_remote([later], t0 + timedelta(seconds=5))
        assert [v.remote.provider_status for v, _old in changed] == ["completed"]
        # why a provider failed the whole batch is kept with it (schema 13)
        from batchtop.core.models import BatchError

        errors = (
            BatchError("mismatched_model", "One model per file.", line=2, param="body.model"),
            BatchError("empty_file", "No lines."),
        )
        failed = RemoteBatch(**{**_fields(later), "provider_status": "failed", "errors": errors})
        store.upsert_remote([failed], t0 + timedelta(seconds=9))
        view = store.get_batch("batch_abc")
        assert view is not None
        assert view.remote.errors == errors
        assert view.remote.failure == (
            "line 2 body.model: mismatched_model: One model per file. (and 1 more error)"
        )


def _fields(remote: object) -> dict[str, object]:
    from dataclasses import fields

    return {f.name: getattr(remote, f.name) for f in fields(remote)}  # type: ignore[arg-type]
