"""The search index is built after the ingest: rows browsable first, LIKE until it is ready.

Searches must give identical results before and after the index exists; an interrupted
build resumes; a version-1 store (indexed inside its ingests) needs no build.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from batchtop.core import schema
from batchtop.core.models import ResultFilter, ResultType
from batchtop.core.results import ResultsIndex, queries, search
from batchtop.core.results import ingest as results_ingest
from batchtop.core.results.search import SearchIndexer
from batchtop.core.store import Store
from data_factory import (
    HOSTILE_TEXTS,
    T0,
    ended,
    errored,
    mixed_results,
    remote,
    succeeded,
    write_jsonl,
)
from results_support import results_of
from service_support import STORE_FILE, ServiceFactory
from test_store_schema import build_v1

TERMS = [
    "answer 1",
    "ANSWER 12",
    "fox jumps",
    "overloaded",  # error messages are searchable
    "prompt 7",  # input text from the manifest
    'he said "hi"',
    "AND OR NOT",
    "[bold red]",
    "ok",  # 2 characters: LIKE in both modes
    "x",
    "%",
    "_",
    "no such text anywhere",
    "req-0001",
]


def _rows(n: int) -> list[dict]:  # type: ignore[type-arg]
    rows = list(mixed_results(n, text_size=60))
    rows += [succeeded(f"hostile-{k}", text) for k, text in HOSTILE_TEXTS.items()]
    rows += [errored("err-ol", "overloaded_error", "Overloaded"), ended("gone", "expired")]
    rows += [succeeded("pct", "100% done_now ok")]
    return rows


def _seed(store: Store, tmp_path: Path, n: int = 3_000) -> Path:
    store.upsert_remote([remote("b1")], T0)
    job = store.create_job("j", None, T0)
    store.add_manifest(job.id, 1, ((f"req-{i:06d}", f"prompt {i}", "{}") for i in range(0, n, 3)))
    store.set_batch_meta("b1", job_id=job.id, job_part=1)
    return write_jsonl(tmp_path / "r.jsonl", _rows(n))


def _search_all(store: Store, filters: list[ResultFilter]) -> list[tuple[int, list[str]]]:
    out = []
    for filt in filters:
        page = results_of(store).query_results(["b1"], filt, 0, 50)
        out.append((page.total, [r.custom_id for r in page.rows]))
    return out


FILTERS = [ResultFilter(search=t) for t in TERMS] + [
    ResultFilter(search="answer", types=frozenset({ResultType.SUCCEEDED})),
    ResultFilter(search="Overloaded", types=frozenset({ResultType.ERRORED})),
]


def test_search_is_identical_before_and_after_the_index_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open(tmp_path / "s.db")
    monkeypatch.setattr(SearchIndexer, "start", lambda self: None)  # keep it pending
    path = _seed(store, tmp_path)
    n = results_of(store).ingest_results("b1", path)
    assert n == 3_000 + len(HOSTILE_TEXTS) + 3
    assert not results_of(store).search_index_ready(["b1"])
    # Browsable at once: page, summary, detail, export stream.
    assert results_of(store).query_results(["b1"], ResultFilter(), 0, 10).total == n
    assert sum(results_of(store).result_summary(["b1"]).by_type.values()) == n
    assert results_of(store).result_detail("b1", "req-000003") is not None
    assert sum(1 for _ in results_of(store).iter_results(["b1"], ResultFilter(search="fox"))) > 0
    before = _search_all(store, FILTERS)
    export_before = [r.custom_id for r, _ in results_of(store).iter_results(["b1"], FILTERS[0])]
    results_of(store)._totals.clear()
    results_of(store).build_search_index()
    assert results_of(store).search_index_ready(["b1"])
    after = _search_all(store, FILTERS)
    assert before == after
    assert [
        r.custom_id for r, _ in results_of(store).iter_results(["b1"], FILTERS[0])
    ] == export_before
    assert before[3][0] >= 1  # error messages are searchable
    assert before[4][0] >= 1  # so is the input text
    store._conn().execute("INSERT INTO results_fts (results_fts) VALUES ('integrity-check')")
    store.close()


def test_background_build_completes_and_reingest_keeps_the_index_consistent(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "s.db")
    path = _seed(store, tmp_path)
    results_of(store).ingest_results("b1", path)
    assert results_of(store).wait_search_index(timeout=60)
    assert results_of(store).search_index_ready(["b1"])
    expected = _search_all(store, FILTERS)
    # A re-ingest while (or after) the index is built de-indexes exactly what was indexed.
    results_of(store).ingest_results("b1", path)
    results_of(store).ingest_results("b1", path)
    assert results_of(store).wait_search_index(timeout=60)
    results_of(store)._totals.clear()
    assert _search_all(store, FILTERS) == expected
    store._conn().execute("INSERT INTO results_fts (results_fts) VALUES ('integrity-check')")
    store.close()


def test_interrupted_build_resumes_on_next_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "s.db"
    store = Store.open(db)
    monkeypatch.setattr(SearchIndexer, "start", lambda self: None)
    path = _seed(store, tmp_path)
    results_of(store).ingest_results("b1", path)
    like = _search_all(store, FILTERS)
    # Index part of the batch, as a process killed mid-build leaves it.
    conn = store._conn()
    assert search.build_fts_step(conn, "b1", step=500) is False
    assert not results_of(store).search_index_ready(["b1"])
    store.close()
    monkeypatch.undo()
    # Still searchable (LIKE) and, on open, finished in the background.
    reopened = Store.open(db)
    assert results_of(reopened).wait_search_index(timeout=60)
    assert results_of(reopened).search_index_ready(["b1"])
    assert _search_all(reopened, FILTERS) == like
    reopened._conn().execute("INSERT INTO results_fts (results_fts) VALUES ('integrity-check')")
    reopened.close()


def test_close_interrupts_a_long_build_and_it_resumes(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = Store.open(db)
    path = _seed(store, tmp_path, n=6_000)
    results_of(store).ingest_results("b1", path)
    store.close(index_wait_s=0)  # interrupt whatever step is running
    with Store.open(db) as again:
        assert results_of(again).wait_search_index(timeout=60)
        page = results_of(again).query_results(["b1"], ResultFilter(search="answer 5996:"), 0, 5)
        assert [r.custom_id for r in page.rows] == ["req-005996"]
        again._conn().execute("INSERT INTO results_fts (results_fts) VALUES ('integrity-check')")


def test_crashed_ingest_leaves_a_like_searchable_batch(tmp_path: Path) -> None:
    """An ingest that died leaves no rows behind (nothing partial to browse or half-index);
    a re-ingest fixes the batch."""
    db = tmp_path / "s.db"
    with Store.open(db) as store:
        path = _seed(store, tmp_path)
        ingest = results_of(store).start_ingest("b1")
        n = results_ingest.ROWS_PER_INSERT + 10  # one full insert is written, 10 rows wait
        ingest.feed(
            b"".join(b'{"custom_id":"c%d","result":{"type":"canceled"}}\n' % i for i in range(n))
        )
        ingest.close()  # died before finish(): the rows it had written are removed
        assert results_of(store).count_results(["b1"]) == 0
        view = store.get_batch("b1")
        assert view is not None
        assert view.results_indexed == 0
        assert results_of(store).wait_search_index(timeout=5)  # nothing buildable: last_id is -1
        assert not results_of(store).search_index_ready(["b1"])
        assert results_of(store).query_results(["b1"], ResultFilter(search="canc"), 0, 5).total == 0
        results_of(store).ingest_results("b1", path)
        assert results_of(store).wait_search_index(timeout=60)
        assert results_of(store).search_index_ready(["b1"])


def test_v1_store_migrates_to_v2_fully_indexed(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    build_v1(path)
    with Store.open(path) as s:
        assert results_of(s).search_index_ready(["msgbatch_old"])
        page = results_of(s).query_results(["msgbatch_old"], ResultFilter(search="OLD WOR"), 0, 10)
        assert [r.custom_id for r in page.rows] == ["a-1"]
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION >= 2
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "results_fts_pending" in tables
    conn.close()


@pytest.mark.parametrize("rare_hits", [0, 10, 10**9])
def test_every_search_plan_pages_and_counts_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rare_hits: int
) -> None:
    """Driven by the hits, LIKE walk, FTS probe, FTS5's count: one answer, any page."""
    store = Store.open(tmp_path / "s.db")
    path = _seed(store, tmp_path)
    results_of(store).ingest_results("b1", path)
    store.upsert_remote([remote("b2")], T0)
    other = write_jsonl(tmp_path / "o.jsonl", [succeeded("req-000001", "fox jumps again")])
    assert results_of(store).wait_search_index(timeout=60)
    filters = [*FILTERS, ResultFilter(search="fox")]

    def answers(batches: list[str]) -> list[tuple[int, list[str]]]:
        results_of(store)._totals.clear()
        out = []
        for filt in filters:
            for offset in (0, 150, 2_500):
                page = results_of(store).query_results(batches, filt, offset, 40)
                out.append((page.total, [r.custom_id for r in page.rows]))
        return out

    with monkeypatch.context() as m:
        m.setattr(queries, "fts_complete", lambda conn, ids: False)
        like = answers(["b1"])
    m2 = pytest.MonkeyPatch()
    m2.setattr(queries, "RARE_HITS", rare_hits)
    m2.setattr(queries, "DENSE_WALK", 100)
    try:
        assert answers(["b1"]) == like
        results_of(store).ingest_results("b2", other)  # now the store holds another batch's rows
        assert results_of(store).wait_search_index(timeout=60)
        assert answers(["b1"]) == like
        merged = answers(["b1", "b2"])
    finally:
        m2.undo()
    with monkeypatch.context() as m:
        m.setattr(queries, "fts_complete", lambda conn, ids: False)
        assert answers(["b1", "b2"]) == merged
    store.close()


def test_rows_with_copied_inputs_are_deindexed_by_their_copy(tmp_path: Path) -> None:
    """Before schema 3 the ingest copied each input into its row; those rows keep it (reads
    and the de-indexing of a re-ingest use the copy), new rows read the manifest."""
    path = tmp_path / "v1.db"
    build_v1(path)  # row a-1 holds its own copy "the prompt", indexed
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("UPDATE manifests SET input_text = 'a fresh question' WHERE custom_id = 'a-1'")
    conn.close()
    with Store.open(path) as s:
        page = results_of(s).query_results(
            ["msgbatch_old"], ResultFilter(search="the prompt"), 0, 5
        )
        assert [r.input_text for r in page.rows] == ["the prompt"]
        results = write_jsonl(tmp_path / "r.jsonl", [succeeded("a-1", "hello new world")])
        assert results_of(s).ingest_results("msgbatch_old", results) == 1
        assert results_of(s).wait_search_index(timeout=60)
        results_of(s)._totals.clear()
        # The old row's index entries went with it (its id is reused by the new row).
        assert (
            results_of(s)
            .query_results(["msgbatch_old"], ResultFilter(search="the prompt"), 0, 5)
            .total
            == 0
        )
        page = results_of(s).query_results(
            ["msgbatch_old"], ResultFilter(search="fresh quest"), 0, 5
        )
        assert [(r.custom_id, r.input_text) for r in page.rows] == [("a-1", "a fresh question")]
        stored = s._conn().execute("SELECT input_text FROM results").fetchall()
        assert stored == [(None,)]  # not copied any more
        s._conn().execute("INSERT INTO results_fts (results_fts) VALUES ('integrity-check')")


def test_status_filters_use_the_index_of_failed_rows(tmp_path: Path) -> None:
    """Failed-only filters find their rows through `results_batch_failed` (a partial index:
    SQLite uses it only when the query states its condition)."""
    with Store.open(tmp_path / "s.db") as store:
        store.upsert_remote([remote("b1")], T0)
        conn = store._conn()
        for kind in (ResultType.ERRORED, ResultType.EXPIRED, ResultType.CANCELED):
            where, args = queries.filters(ResultFilter(types=frozenset({kind})))
            plan = conn.execute(
                "EXPLAIN QUERY PLAN SELECT r.custom_id FROM results r WHERE r.batch_id = ?"
                f"{where} ORDER BY r.custom_id LIMIT 50",
                ["b1", *args],
            ).fetchall()
            assert any("results_batch_failed" in str(step[-1]) for step in plan), plan


async def test_reads_start_no_work_and_a_refresh_resumes_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_service: ServiceFactory
) -> None:
    """A search over a batch whose index another process left unfinished answers (LIKE)
    without starting the builder: reads have no side effects. The service resumes the build
    after its next refresh (and on open)."""
    store = Store.open(tmp_path / STORE_FILE)
    with monkeypatch.context() as m:
        m.setattr(SearchIndexer, "start", lambda self: None)  # as if its builder was killed
        results_of(store).ingest_results("b1", _seed(store, tmp_path))
    results = ResultsIndex(store.db)  # another reader of the same store
    like = results.query_results(["b1"], ResultFilter(search="fox jumps"), 0, 50)
    assert like.total >= 1
    assert results.count_results(["b1"], ResultFilter(search="answer 1")) >= 1
    list(results.iter_results(["b1"], ResultFilter(search="fox")))
    assert not results._indexer.running
    assert not results.search_index_ready(["b1"])
    store.close()

    service = make_service()
    await service.refresh()
    assert service.results.wait_search_index(timeout=60)
    assert service.results.search_index_ready(["b1"])
    page = service.results_page(["b1"], ResultFilter(search="fox jumps"), 0, 50)
    assert (page.total, page.rows) == (like.total, like.rows)
