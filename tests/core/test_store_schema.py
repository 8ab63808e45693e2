"""Schema versioning: old files migrate forward without losing data; newer files are refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from batchtop.core import database, schema
from batchtop.core.errors import UserError
from batchtop.core.models import ProcessingStatus, ResultFilter, ResultType
from batchtop.core.store import Store
from results_support import results_of

# A version-1 database as batchtop 0.1 wrote it, with data, written with plain SQL.
V1_DATA = [
    "INSERT INTO batches (id, status, processing, succeeded, errored, canceled, expired,"
    " created_at, expires_at, ended_at, results_url, seen_at) VALUES ('msgbatch_old', 'ended',"
    " 0, 2, 1, 0, 0, '2026-11-20T10:00:00.000000+00:00', '2026-11-21T10:00:00.000000+00:00',"
    " '2026-11-20T11:00:00.000000+00:00', 'https://api/results',"
    " '2026-11-20T11:05:00.000000+00:00')",
    "INSERT INTO batch_local (batch_id, label, job_id, job_part, results_indexed)"
    " VALUES ('msgbatch_old', 'kept label', 'job_1', 1, 2)",
    "INSERT INTO jobs VALUES ('job_1', 'articles', 'articles.json',"
    " '2026-11-20T09:59:00.000000+00:00')",
    "INSERT INTO snapshots VALUES ('msgbatch_old', '2026-11-20T10:30:00.000000+00:00',"
    " 1, 2, 0, 0, 0)",
    "INSERT INTO intents (job_id, part, request_count, content_hash, created_at, state)"
    " VALUES ('job_1', 2, 10, 'h', '2026-11-20T10:00:00.000000+00:00', 'pending')",
    "INSERT INTO manifests VALUES ('job_1', 1, 'a-1', 'the prompt', '{\"max_tokens\": 5}')",
    "INSERT INTO results (batch_id, custom_id, type, text, input_text, raw) VALUES"
    " ('msgbatch_old', 'a-1', 'succeeded', 'hello old world', 'the prompt', '{}')",
    "INSERT INTO results_fts (rowid, text, input_text) SELECT id, text, input_text FROM results",
]


def build_v1(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in schema.MIGRATIONS[0]:
        conn.execute(statement)
    for statement in V1_DATA:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.close()


def test_new_file_gets_current_version(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION >= 1
    conn.close()


def test_a_new_store_has_large_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    """New stores are created with `database.PAGE_SIZE` pages (the ingest's index inserts
    are cheaper); a store created with SQLite's default keeps it and opens as before."""

    def page_size(path: Path) -> int:
        conn = sqlite3.connect(path)
        try:
            return int(conn.execute("PRAGMA page_size").fetchone()[0])
        finally:
            conn.close()

    new = tmp_path / "new.db"
    Store.open(new).close()
    assert page_size(new) == database.PAGE_SIZE == 16_384
    old = tmp_path / "v1.db"
    build_v1(old)
    assert page_size(old) == 4_096
    with Store.open(old) as s:
        assert s.get_batch("msgbatch_old") is not None
    assert page_size(old) == 4_096


def test_existing_v1_file_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    build_v1(path)
    with Store.open(path) as s:
        view = s.get_batch("msgbatch_old")
        assert view is not None
        assert view.remote.processing_status is ProcessingStatus.ENDED
        assert (view.label, view.job_id, view.has_manifest) == ("kept label", "job_1", True)
        assert len(s.snapshots("msgbatch_old")) == 1
        assert [i.part for i in s.open_intents()] == [2]
        page = results_of(s).query_results(["msgbatch_old"], ResultFilter(search="old wor"), 0, 10)
        assert [r.custom_id for r in page.rows] == ["a-1"]
        assert page.rows[0].type is ResultType.SUCCEEDED
        job = s.get_job("job_1")
        assert job is not None
        assert job.batch_ids == ("msgbatch_old",)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    conn.close()


def test_a_further_migration_applies_forward(tmp_path: Path) -> None:
    """What adding the next migration will look like: append statements, data stays."""
    path = tmp_path / "v1.db"
    build_v1(path)
    v2 = (
        *schema.MIGRATIONS,
        (
            "ALTER TABLE batch_local ADD COLUMN color TEXT",
            "UPDATE batch_local SET color = 'green'",
        ),
    )
    conn = sqlite3.connect(path, isolation_level=None)
    assert schema.migrate(conn, v2) == len(v2) - 1  # from version 1
    assert schema.migrate(conn, v2) == 0  # idempotent
    assert schema.user_version(conn) == len(v2)
    assert conn.execute("SELECT label, color FROM batch_local").fetchall() == [
        ("kept label", "green")
    ]
    conn.close()
    # This batchtop does not know the last version: it refuses to touch the newer file.
    with pytest.raises(UserError, match="newer version"):
        Store.open(path)


def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    build_v1(path)
    broken = (
        *schema.MIGRATIONS,
        ("ALTER TABLE batch_local ADD COLUMN color TEXT", "THIS IS NOT SQL"),
    )
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError):
        schema.migrate(conn, broken)
    assert schema.user_version(conn) == schema.SCHEMA_VERSION  # the good ones stay applied
    columns = [r[1] for r in conn.execute("PRAGMA table_info(batch_local)")]
    assert "color" not in columns
    conn.close()
    Store.open(path).close()  # still a good store


def test_empty_file_is_initialised(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with Store.open(path) as s:
        assert s.list_batches() == []


def test_result_rows_indexed_before_get_their_block_facts(tmp_path: Path) -> None:
    """Migration 12 fills the new per-row columns from the raw lines already indexed."""
    import orjson

    path = tmp_path / "v11.db"
    content = [
        {"type": "thinking", "thinking": "hm", "signature": "s"},
        {"type": "server_tool_use", "name": "web_search", "input": {}},
        {"type": "text", "text": "a", "citations": [{"url": "u"}, {"url": "v"}]},
        {"type": "tool_use", "name": "lookup", "input": {}},
        {"type": "tool_use", "name": "web_search", "input": {}},
    ]
    details = {"type": "refusal", "category": "cyber", "explanation": None}
    lines = {
        "rich": {"result": {"type": "succeeded", "message": {"content": content}}},
        "refused": {
            "result": {
                "type": "succeeded",
                "message": {"content": [{"type": "text", "text": ""}], "stop_details": details},
            }
        },
        "plain": {"result": {"type": "succeeded", "message": {"content": [{"type": "text"}]}}},
    }
    conn = sqlite3.connect(path, isolation_level=None)
    schema.migrate(conn, schema.MIGRATIONS[:11])
    for cid, line in lines.items():
        conn.execute(
            "INSERT INTO results (batch_id, custom_id, type, text, raw) VALUES"
            " ('b', ?, 'succeeded', '', ?)",
            (cid, orjson.dumps(line).decode()),
        )
    conn.execute(
        "INSERT INTO results (batch_id, custom_id, type, text, raw) VALUES"
        " ('b', 'broken', 'succeeded', '', 'not json')"
    )
    assert schema.migrate(conn) == len(schema.MIGRATIONS) - 11
    got = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT custom_id, thinking, tool_calls, tool_names, citations, stop_details"
            " FROM results"
        )
    }
    conn.close()
    assert got["rich"] == (1, 3, "web_search,lookup", 2, None)
    assert got["refused"] == (0, 0, None, 0, orjson.dumps(details).decode())
    assert got["plain"] == (0, 0, None, 0, None)
    assert got["broken"] == (0, 0, None, 0, None)
