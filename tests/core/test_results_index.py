"""Results index: parsing the exact API line shapes, ingest, paging, filters, search, merge."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from batchtop.core.errors import UserError
from batchtop.core.models import ResultFilter, ResultType
from batchtop.core.pricing import cost_usd
from batchtop.core.store import Store
from data_factory import (
    HOSTILE_TEXTS,
    MODEL,
    T0,
    ended,
    errored,
    mixed_results,
    remote,
    succeeded,
    write_jsonl,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from results_support import results_of

# Section 6 of the API reference, verbatim.
SPEC_LINES = b"""\
{"custom_id":"ok-1","result":{"type":"succeeded","message":{"id":"msg_01FqfsLoHwgeFbguDgpz48m7","type":"message","role":"assistant","model":"claude-haiku-4-5-20251001","content":[{"type":"text","text":"1"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":16,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":5,"service_tier":"batch","inference_geo":"not_available"}}}}
{"custom_id":"bad-model","result":{"type":"errored","error":{"type":"error","error":{"details":{"error_visibility":"user_facing"},"type":"not_found_error","message":"model: claude-does-not-exist-9"},"request_id":null}}}
{"custom_id":"23","result":{"type":"errored","error":{"type":"error","error":{"details":{"error_visibility":"user_facing"},"type":"invalid_request_error","message":"max_tokens: 100000 > 64000, which is the maximum allowed number of output tokens for claude-haiku-4-5-20251001"},"request_id":null}}}
{"custom_id":"image_url","result":{"type":"errored","error":{"type":"error","error":{"details":{"error_visibility":"user_facing"},"type":"invalid_request_error","message":"Unable to download the file. Please verify the URL and try again."},"request_id":"workerreq_x"}}}
{"custom_id":"c-1","result":{"type":"canceled"}}
{"custom_id":"r-5","result":{"type":"expired"}}
{"custom_id":"my-second-request","result":{"type":"succeeded","message":{"id":"msg_014VwiXbi91y3JMjcpyGBHX5","type":"message","role":"assistant","model":"claude-opus-4-7","content":[{"type":"text","text":"Hello again! It's nice to see you. How can I assist you today? Is there anything specific you'd like to chat about or any questions you have?"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":11,"output_tokens":36}}}}
"""  # noqa: E501
ALL = ResultFilter()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "store.sqlite3")
    yield s  # type: ignore[misc]
    s.close()


def ids(page_rows: list) -> list[str]:  # type: ignore[type-arg]
    return [r.custom_id for r in page_rows]


def test_spec_lines(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(SPEC_LINES)
    store.upsert_remote([remote("b1")], T0)
    assert results_of(store).ingest_results("b1", path) == 7
    page = results_of(store).query_results(["b1"], ALL, 0, 100)
    assert page.total == 7
    assert ids(page.rows) == sorted(
        ["ok-1", "bad-model", "23", "image_url", "c-1", "r-5", "my-second-request"]
    )
    rows = {r.custom_id: r for r in page.rows}
    ok = rows["ok-1"]
    assert (ok.type, ok.text, ok.stop_reason, ok.model) == (
        ResultType.SUCCEEDED,
        "1",
        "end_turn",
        "claude-haiku-4-5-20251001",
    )
    assert (ok.input_tokens, ok.output_tokens, ok.input_text) == (16, 5, None)
    bad = rows["bad-model"]
    assert (bad.type, bad.error_type, bad.error_message) == (
        ResultType.ERRORED,
        "not_found_error",
        "model: claude-does-not-exist-9",
    )
    assert rows["c-1"].type is ResultType.CANCELED
    assert rows["r-5"].type is ResultType.EXPIRED
    assert rows["my-second-request"].output_tokens == 36
    # Raw lines come back byte for byte.
    detail = results_of(store).result_detail("b1", "23")
    assert detail is not None
    assert detail[1] == SPEC_LINES.decode().splitlines()[2]
    assert detail[2] is None  # no manifest: created elsewhere
    assert results_of(store).result_detail("b1", "nope") is None
    # Summary, error types, cost.
    summary = results_of(store).result_summary(["b1"])
    assert summary.by_type == {
        ResultType.SUCCEEDED: 2,
        ResultType.ERRORED: 3,
        ResultType.CANCELED: 1,
        ResultType.EXPIRED: 1,
    }
    assert summary.by_error_type == {"invalid_request_error": 2, "not_found_error": 1}
    assert results_of(store).error_types(["b1"]) == {
        "invalid_request_error": 2,
        "not_found_error": 1,
    }
    assert (summary.input_tokens, summary.output_tokens) == (27, 41)
    expected = (cost_usd("claude-haiku-4-5-20251001", 16, 5) or 0) + (
        cost_usd("claude-opus-4-7", 11, 36) or 0
    )
    assert summary.cost_usd == pytest.approx(expected)
    assert summary.standard_cost_usd == pytest.approx(2 * expected)
    view = store.get_batch("b1")
    assert view is not None
    assert view.results_indexed == 7
    assert view.actual_cost_usd == pytest.approx(expected)


def test_bad_lines_are_skipped_and_counted(store: Store, tmp_path: Path) -> None:
    good = orjson.dumps(succeeded("a", "fine"))
    path = tmp_path / "r.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                good,
                b"",  # blank line
                b'{"custom_id": "trunc", "result": {"type": "succ',  # truncated
                b"\xff\xfe not utf-8",
                b"[1, 2, 3]",
                b'{"result": {"type": "canceled"}}',  # no custom_id
                b'{"custom_id": "x", "result": {"type": "exploded"}}',  # unknown type
                b'{"custom_id": "y", "result": {"type": "succeeded"}}',  # no message
                b'{"custom_id": 5, "result": {"type": "canceled"}}',
                orjson.dumps(succeeded("a", "duplicate wins nothing")),
                orjson.dumps(ended("b", "canceled")) + b"\r",  # CRLF framing
                orjson.dumps(errored("c", "api_error", "Internal server error")),
            ]
        )
        # no final newline
    )
    stats = results_of(store).ingest_results_stats("b1", path)
    assert (stats.rows, stats.malformed, stats.duplicates) == (3, 7, 1)
    page = results_of(store).query_results(["b1"], ALL, 0, 10)
    assert ids(page.rows) == ["a", "b", "c"]
    assert page.rows[0].text == "fine"
    assert page.rows[2].error_type == "api_error"


def test_empty_file(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert results_of(store).ingest_results("b1", path) == 0
    assert results_of(store).query_results(["b1"], ALL, 0, 10).total == 0
    summary = results_of(store).result_summary(["b1"])
    assert summary.by_type == dict.fromkeys(ResultType, 0)
    assert (summary.cost_usd, summary.by_error_type) == (0.0, {})


def test_unreadable_file_is_a_user_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="Cannot read the results file"):
        results_of(store).ingest_results("b1", tmp_path / "missing.jsonl")
    with pytest.raises(UserError, match="Cannot read the results file"):
        results_of(store).ingest_results("b1", tmp_path)


def test_failed_ingest_never_leaves_a_stale_count(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchtop.core.results import ingest as results_ingest

    store.upsert_remote([remote("b1")], T0)
    path = write_jsonl(tmp_path / "r.jsonl", mixed_results(25_000))
    assert results_of(store).ingest_results("b1", path) == 25_000
    real_sql = results_ingest._insert_sql
    calls = 0

    def failing_sql(rows: int, in_file: bool = True) -> str:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("disk full")
        return real_sql(rows, in_file)

    monkeypatch.setattr(results_ingest, "_insert_sql", failing_sql)
    with pytest.raises(OSError, match="disk full"):
        results_of(store).ingest_results("b1", path)
    view = store.get_batch("b1")
    assert view is not None
    assert view.results_indexed == 0
    monkeypatch.setattr(results_ingest, "_insert_sql", real_sql)
    assert results_of(store).ingest_results("b1", path) == 25_000  # a retry recovers fully
    assert (
        results_of(store).query_results(["b1"], ResultFilter(search="answer 24996:"), 0, 5).total
        == 1
    )


def test_reingest_replaces_rows_and_search_index(store: Store, tmp_path: Path) -> None:
    first = write_jsonl(
        tmp_path / "1.jsonl", [succeeded("a", "alpha banana"), ended("b", "expired")]
    )
    second = write_jsonl(tmp_path / "2.jsonl", [succeeded("a", "cherry pie")])
    results_of(store).ingest_results("b1", first)
    results_of(store).ingest_results("b1", first)  # idempotent
    assert results_of(store).query_results(["b1"], ALL, 0, 10).total == 2
    assert results_of(store).query_results(["b1"], ResultFilter(search="banana"), 0, 10).total == 1
    results_of(store).ingest_results("b1", second)
    assert ids(results_of(store).query_results(["b1"], ALL, 0, 10).rows) == ["a"]
    assert results_of(store).query_results(["b1"], ResultFilter(search="banana"), 0, 10).total == 0
    assert results_of(store).query_results(["b1"], ResultFilter(search="cherry"), 0, 10).total == 1
    conn = store._conn()
    conn.execute("INSERT INTO results_fts (results_fts) VALUES ('integrity-check')")


def test_progress_reports_bytes(store: Store, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "r.jsonl", mixed_results(25_000, text_size=20))
    calls: list[tuple[int, int]] = []
    results_of(store).ingest_results(
        "b1", path, progress=lambda done, total: calls.append((done, total))
    )
    size = path.stat().st_size
    assert len(calls) >= 3
    assert calls[-1] == (size, size)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)


def test_text_extraction(store: Store, tmp_path: Path) -> None:
    blocks = [
        {"type": "thinking", "thinking": "secret", "signature": "x"},
        {"type": "text", "text": "Part one. "},
        {"type": "text", "text": "Part two."},
        {"type": "tool_use", "id": "tu_1", "name": "get_weather", "input": {"city": "Oslo"}},
    ]
    path = write_jsonl(
        tmp_path / "r.jsonl",
        [
            succeeded("t", "", content=blocks, stop_reason="tool_use"),
            succeeded("big", "x" * 1_000_000 + " needle-at-the-end"),
            *(succeeded(name, text) for name, text in HOSTILE_TEXTS.items()),
        ],
    )
    results_of(store).ingest_results("b1", path)
    detail = results_of(store).result_detail("b1", "t")
    assert detail is not None
    row = detail[0]
    assert row.text.startswith("Part one. Part two.\n")
    assert orjson.loads(row.text.split("\n")[1]) == {
        "tool_use": "get_weather",
        "input": {"city": "Oslo"},
    }
    assert "secret" not in row.text
    assert row.stop_reason == "tool_use"
    big = results_of(store).result_detail("b1", "big")
    assert big is not None
    assert len(big[0].text) == 1_000_018
    found = results_of(store).query_results(["b1"], ResultFilter(search="needle-at-the-end"), 0, 10)
    assert ids(found.rows) == ["big"]
    for name, text in HOSTILE_TEXTS.items():
        got = results_of(store).result_detail("b1", name)
        assert got is not None
        assert got[0].text == text  # stored literally, nothing interpreted


def test_cost_with_cache_tokens(store: Store, tmp_path: Path) -> None:
    line = succeeded("c", "cached", input_tokens=10, output_tokens=20)
    usage = line["result"]["message"]["usage"]
    usage.update(
        cache_creation_input_tokens=1000,
        cache_read_input_tokens=5000,
        cache_creation={"ephemeral_5m_input_tokens": 600, "ephemeral_1h_input_tokens": 400},
    )
    unknown = succeeded("u", "?", model="some-future-model")
    results_of(store).ingest_results("b1", write_jsonl(tmp_path / "r.jsonl", [line, unknown]))
    expected = cost_usd(MODEL, 10, 20, 600, 5000, True, cache_creation_1h=400)
    assert expected is not None
    summary = results_of(store).result_summary(["b1"])
    assert summary.cost_usd == pytest.approx(expected)
    assert summary.input_tokens == 10 + 1000 + 5000 + 16


def test_paging_is_stable_and_complete(store: Store, tmp_path: Path) -> None:
    results_of(store).ingest_results("b1", write_jsonl(tmp_path / "r.jsonl", mixed_results(1234)))
    seen: list[str] = []
    offset = 0
    while True:
        page = results_of(store).query_results(["b1"], ALL, offset, 100)
        assert page.total == 1234
        assert page.offset == offset
        if not page.rows:
            break
        seen += ids(page.rows)
        offset += len(page.rows)
    assert seen == sorted(seen)
    assert len(set(seen)) == 1234
    assert results_of(store).query_results(["b1"], ALL, 5000, 100).rows == []
    assert results_of(store).query_results(["nope"], ALL, 0, 10).total == 0
    assert results_of(store).query_results([], ALL, 0, 10).total == 0


def test_a_page_without_its_count(store: Store, tmp_path: Path) -> None:
    """count=False: the same rows, a total that is only a lower bound (flagged), and the
    count asked for afterwards equals the one a counted query gives."""
    results_of(store).ingest_results("b1", write_jsonl(tmp_path / "r.jsonl", mixed_results(400)))
    errored_only = ResultFilter(types=frozenset({ResultType.ERRORED}))
    for filt in (ALL, errored_only, ResultFilter(search="summary")):
        counted = results_of(store).query_results(["b1"], filt, 0, 50)
        quick = results_of(store).query_results(["b1"], filt, 0, 50, count=False)
        assert ids(quick.rows) == ids(counted.rows)
        assert counted.counted
        if counted.total > 50:
            assert not quick.counted
            assert quick.total == 50
        else:
            assert quick.counted
            assert quick.total == counted.total
        assert results_of(store).count_results(["b1"], filt) == counted.total
    # a short page at an offset knows where the end is
    tail = results_of(store).query_results(["b1"], ALL, 390, 50, count=False)
    assert tail.counted
    assert tail.total == 400


def test_filters(store: Store, tmp_path: Path) -> None:
    results_of(store).ingest_results("b1", write_jsonl(tmp_path / "r.jsonl", mixed_results(400)))
    errored_only = ResultFilter(types=frozenset({ResultType.ERRORED}))
    page = results_of(store).query_results(["b1"], errored_only, 0, 1000)
    assert page.total == 20
    assert {r.type for r in page.rows} == {ResultType.ERRORED}
    two = ResultFilter(types=frozenset({ResultType.EXPIRED, ResultType.CANCELED}))
    assert results_of(store).query_results(["b1"], two, 0, 1000).total == 20 + 10
    overloaded = ResultFilter(error_types=frozenset({"overloaded_error"}))
    page = results_of(store).query_results(["b1"], overloaded, 0, 1000)
    assert page.total == 10
    assert {r.error_message for r in page.rows} == {"Overloaded"}
    chosen = ResultFilter(custom_ids=frozenset({"req-000003", "req-000017", "missing"}))
    assert ids(results_of(store).query_results(["b1"], chosen, 0, 10).rows) == [
        "req-000003",
        "req-000017",
    ]
    combined = ResultFilter(
        types=frozenset({ResultType.ERRORED}), custom_ids=frozenset({"req-000003", "req-000017"})
    )
    assert ids(results_of(store).query_results(["b1"], combined, 0, 10).rows) == ["req-000017"]
    many = ResultFilter(custom_ids=frozenset(f"req-{i:06d}" for i in range(0, 400, 2)))
    assert (
        results_of(store).query_results(["b1"], many, 0, 10).total == 200
    )  # beyond any IN (...) limit


@pytest.mark.parametrize("merged", [False, True])
def test_every_status_filter_counts_its_rows(store: Store, tmp_path: Path, merged: bool) -> None:
    """Totals per outcome set (succeeded ones are counted as all rows less the others)
    match the rows the filter pages through, for one batch and for a job's merged batches."""
    results_of(store).ingest_results("b1", write_jsonl(tmp_path / "r.jsonl", mixed_results(400)))
    batches = ["b1"]
    if merged:  # a second batch of the same custom_ids: retries turn some into successes
        retry = [succeeded(f"req-{i:06d}", "retried") for i in range(0, 400, 3)]
        results_of(store).ingest_results("b2", write_jsonl(tmp_path / "b2.jsonl", retry))
        batches.append("b2")
    everything = results_of(store).query_results(batches, ALL, 0, 1000).rows
    kinds = list(ResultType)
    for mask in range(1, 1 << len(kinds)):
        types = frozenset(k for i, k in enumerate(kinds) if mask >> i & 1)
        page = results_of(store).query_results(batches, ResultFilter(types=types), 0, 1000)
        expected = [r.custom_id for r in everything if r.type in types]
        assert ids(page.rows) == expected
        assert page.total == results_of(store).count_results(batches, ResultFilter(types=types))
        assert page.total == len(expected), types


def test_search_is_literal_substring_and_case_insensitive(store: Store, tmp_path: Path) -> None:
    lines = [
        succeeded("quote", 'she said "hello world" twice'),
        succeeded("star", "glob* patterns and a-b-c dashes"),
        succeeded("ops", "cats AND dogs OR birds NOT fish NEAR(x y)"),
        succeeded("colon", "text:column ^caret {braces} (parens)"),
        succeeded("unicode", "Ünïcödé naïve café — שלום"),
        succeeded("plain", "Nothing special here"),
        ended("gone", "expired"),
    ]
    results_of(store).ingest_results("b1", write_jsonl(tmp_path / "r.jsonl", lines))

    def found(text: str) -> list[str]:
        return ids(results_of(store).query_results(["b1"], ResultFilter(search=text), 0, 50).rows)

    assert found('"hello world"') == ["quote"]
    assert found('"') == ["quote"]  # 1 character: plain scan
    assert found('said "') == ["quote"]
    assert found("glob*") == ["star"]
    assert found("*") == ["star"]
    assert found("a-b-c") == ["star"]
    assert found("-b") == ["star"]
    assert found("AND") == ["ops", "star"]  # case-insensitive: "patterns and"
    assert found("OR birds") == ["ops"]
    assert found("cats AND dogs") == ["ops"]
    assert found("NOT fish") == ["ops"]
    assert found("NEAR(x") == ["ops"]
    assert found("text:column") == ["colon"]
    assert found("^caret {") == ["colon"]
    assert found("HELLO") == ["quote"]
    assert found("naïve café") == ["unicode"]
    assert found("שלום") == ["unicode"]
    assert found("%") == []
    assert found("_") == []
    assert found("xyz-not-there") == []
    assert found("  special  ") == ["plain"]  # surrounding blanks ignored
    assert found("") == ids(results_of(store).query_results(["b1"], ALL, 0, 50).rows)


def test_search_covers_input_text(store: Store, tmp_path: Path) -> None:
    job = store.create_job("articles")
    store.add_manifest(
        job.id,
        1,
        [
            ("a", "Summarise: the history of Oslo", '{"max_tokens": 10}'),
            ("b", "Summarise: penguins", '{"max_tokens": 11}'),
        ],
    )
    store.upsert_remote([remote("b1")], T0)
    store.set_batch_meta("b1", job_id=job.id, job_part=1)
    path = write_jsonl(tmp_path / "r.jsonl", [succeeded("a", "A city."), ended("b", "expired")])
    results_of(store).ingest_results("b1", path)
    page = results_of(store).query_results(["b1"], ResultFilter(search="oslo"), 0, 10)
    assert ids(page.rows) == ["a"]
    assert page.rows[0].input_text == "Summarise: the history of Oslo"
    assert results_of(store).query_results(["b1"], ResultFilter(search="penguin"), 0, 10).total == 1
    detail = results_of(store).result_detail("b1", "b")
    assert detail is not None
    assert detail[2] == '{"max_tokens": 11}'


def test_search_covers_error_messages(store: Store, tmp_path: Path) -> None:
    lines = [
        succeeded("ok", "All good here"),
        errored("busy", "overloaded_error", "Overloaded"),
        errored("bad", "invalid_request_error", "max_tokens: 9999999 > 64000"),
    ]
    results_of(store).ingest_results("b1", write_jsonl(tmp_path / "r.jsonl", lines))

    def found(text: str) -> list[str]:
        return ids(results_of(store).query_results(["b1"], ResultFilter(search=text), 0, 50).rows)

    assert found("overloaded") == ["busy"]
    assert found("64000") == ["bad"]
    assert found("ov") == ["busy"]  # short searches scan the same text
    # Re-ingesting removes the error text from the index along with its row.
    results_of(store).ingest_results(
        "b1", write_jsonl(tmp_path / "r2.jsonl", [succeeded("ok", "fine")])
    )
    assert found("overloaded") == []


def test_failed_requests(store: Store, tmp_path: Path) -> None:
    job = store.create_job("j")
    store.add_manifest(job.id, 1, [(c, f"in {c}", f'{{"id": "{c}"}}') for c in "abcdef"])
    store.set_batch_meta("b1", job_id=job.id, job_part=1)
    lines = [
        succeeded("a", "ok"),
        errored("b", "overloaded_error", "Overloaded"),
        errored("c", "invalid_request_error", "bad"),
        ended("d", "expired"),
        ended("e", "canceled"),
        errored("f", "api_error", "Internal server error"),
        errored("not-in-manifest", "api_error", "x"),
    ]
    results_of(store).ingest_results("b1", write_jsonl(tmp_path / "r.jsonl", lines))
    failed = {r.custom_id: r for r in results_of(store).failed_requests("b1")}
    assert sorted(failed) == ["b", "c", "d", "e", "f", "not-in-manifest"]
    assert failed["c"].params_json == '{"id": "c"}'
    assert failed["c"].error_type == "invalid_request_error"
    assert failed["d"].type is ResultType.EXPIRED
    assert failed["not-in-manifest"].params_json is None
    results_of(store).ingest_results("other", write_jsonl(tmp_path / "o.jsonl", lines))
    assert all(
        r.params_json is None for r in results_of(store).failed_requests("other")
    )  # no manifest


def test_job_merge_prefers_newest_success(store: Store, tmp_path: Path) -> None:
    """A retry batch's success overrides the original's error; a newer failure does not
    override an older success; among failures the newest wins."""
    job = store.create_job("j")
    store.add_manifest(job.id, 1, [(c, f"prompt {c}", "{}") for c in "abcde"])
    store.upsert_remote(
        [
            remote("orig", created=T0),
            remote("retry1", created=T0 + timedelta(hours=1)),
            remote("retry2", created=T0 + timedelta(hours=2)),
        ],
        T0,
    )
    store.set_batch_meta("orig", job_id=job.id, job_part=1)
    store.set_batch_meta("retry1", job_id=job.id, job_part=2, parent_batch_id="orig")
    store.set_batch_meta("retry2", job_id=job.id, job_part=3, parent_batch_id="retry1")
    results_of(store).ingest_results(
        "orig",
        write_jsonl(
            tmp_path / "o.jsonl",
            [
                succeeded("a", "orig ok"),
                errored("b", "overloaded_error", "Overloaded"),
                ended("c", "expired"),
                errored("d", "api_error", "boom"),
                succeeded("e", "orig e"),
            ],
        ),
    )
    results_of(store).ingest_results(
        "retry1",
        write_jsonl(
            tmp_path / "r1.jsonl",
            [
                succeeded("b", "retry fixed b"),
                ended("c", "canceled"),
                errored("d", "overloaded_error", "again"),
            ],
        ),
    )
    results_of(store).ingest_results(
        "retry2",
        write_jsonl(
            tmp_path / "r2.jsonl",
            [errored("b", "api_error", "worse"), succeeded("d", "finally d")],
        ),
    )
    batches = ["orig", "retry1", "retry2"]
    page = results_of(store).query_results(batches, ALL, 0, 10)
    got = {r.custom_id: (r.batch_id, r.type.value, r.text) for r in page.rows}
    assert got == {
        "a": ("orig", "succeeded", "orig ok"),
        "b": ("retry1", "succeeded", "retry fixed b"),
        "c": ("retry1", "canceled", ""),
        "d": ("retry2", "succeeded", "finally d"),
        "e": ("orig", "succeeded", "orig e"),
    }
    assert page.total == 5
    # Retry batches join inputs through their parent's manifest.
    assert {r.custom_id: r.input_text for r in page.rows}["b"] == "prompt b"
    # Filters apply after the merge: b's original error is not "errored" any more.
    errored_only = ResultFilter(types=frozenset({ResultType.ERRORED}))
    assert results_of(store).query_results(batches, errored_only, 0, 10).total == 0
    assert ids(
        results_of(store).query_results(batches, ResultFilter(search="fixed"), 0, 10).rows
    ) == ["b"]
    assert results_of(store).query_results(batches, ResultFilter(search="boom"), 0, 10).total == 0
    summary = results_of(store).result_summary(batches)
    assert summary.by_type == {
        ResultType.SUCCEEDED: 4,
        ResultType.ERRORED: 0,
        ResultType.CANCELED: 1,
        ResultType.EXPIRED: 0,
    }
    assert results_of(store).error_types(batches) == {}
    exported = [
        (row.custom_id, row.batch_id) for row, _raw in results_of(store).iter_results(batches)
    ]
    assert exported == [(c, got[c][0]) for c in "abcde"]
    # New data refreshes the merged view (cached per data change).
    results_of(store).ingest_results(
        "retry2", write_jsonl(tmp_path / "r3.jsonl", [succeeded("c", "late c")])
    )
    again = {
        r.custom_id: r.batch_id for r in results_of(store).query_results(batches, ALL, 0, 10).rows
    }
    assert again["c"] == "retry2"
    assert again["d"] == "retry1"  # retry2 no longer holds d; retry1's error is newest


def test_iter_results_pages_through_everything(store: Store, tmp_path: Path) -> None:
    results_of(store).ingest_results("b1", write_jsonl(tmp_path / "r.jsonl", mixed_results(2500)))
    rows = list(results_of(store).iter_results(["b1"]))
    assert len(rows) == 2500
    assert [r.custom_id for r, _ in rows] == sorted(r.custom_id for r, _ in rows)
    assert orjson.loads(rows[0][1])["custom_id"] == rows[0][0].custom_id
    only = list(
        results_of(store).iter_results(["b1"], ResultFilter(types=frozenset({ResultType.EXPIRED})))
    )
    assert len(only) == 125


def test_totals_cache_sees_new_data(store: Store, tmp_path: Path) -> None:
    search = ResultFilter(search="answer")
    results_of(store).ingest_results("b1", write_jsonl(tmp_path / "a.jsonl", mixed_results(100)))
    first = results_of(store).query_results(["b1"], search, 0, 10).total
    assert results_of(store).query_results(["b1"], search, 10, 10).total == first
    results_of(store).ingest_results("b1", write_jsonl(tmp_path / "b.jsonl", mixed_results(40)))
    assert results_of(store).query_results(["b1"], search, 0, 10).total < first


def test_ingest_and_query_speed(store: Store, tmp_path: Path) -> None:
    """A regression guard at 30k rows (the 100k figures are in the report)."""
    path = write_jsonl(tmp_path / "r.jsonl", mixed_results(30_000))
    start = time.perf_counter()
    assert results_of(store).ingest_results("b1", path) == 30_000
    assert time.perf_counter() - start < 10
    start = time.perf_counter()
    page = results_of(store).query_results(["b1"], ALL, 15_000, 50)
    results_of(store).query_results(["b1"], ResultFilter(search="answer 2999"), 0, 50)
    results_of(store).query_results(
        ["b1"], ResultFilter(types=frozenset({ResultType.ERRORED})), 0, 50
    )
    assert time.perf_counter() - start < 1.5
    assert len(page.rows) == 50


# --- robustness (hypothesis) --------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
result_like = st.fixed_dictionaries(
    {"custom_id": st.one_of(st.text(max_size=10), json_values)},
    optional={
        "result": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {"type": st.sampled_from(["succeeded", "errored", "canceled", "expired", "x"])},
                optional={"message": json_values, "error": json_values},
            ),
        )
    },
)


@settings(max_examples=300, deadline=None)
@given(obj=st.one_of(json_values, result_like))
def test_parse_line_never_raises(obj: object) -> None:
    from batchtop.core.results.ingest import parse_line

    raw = json.dumps(obj)
    for line in (raw, raw.encode()):  # text goes to orjson; bytes to msgspec first
        parsed = parse_line(line)
        if parsed is not None:
            assert isinstance(parsed[0], str)
            assert parsed[1] in {"succeeded", "errored", "canceled", "expired"}
            assert isinstance(parsed[8], str)
            assert parsed[-1] == line


@pytest.fixture(scope="module")
def search_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    directory = tmp_path_factory.mktemp("search")
    s = Store.open(directory / "s.db")
    texts = [*HOSTILE_TEXTS.values(), 'quote " star * minus - AND OR NOT NEAR ( ) : ^ {']
    lines = [succeeded(f"t{i}", text) for i, text in enumerate(texts)]
    results_of(s).ingest_results("b1", write_jsonl(directory / "r.jsonl", lines))
    yield s  # type: ignore[misc]
    s.close()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(needle=st.text(max_size=12))
def test_any_search_string_is_safe(search_store: Store, needle: str) -> None:
    """Whatever the user types, search answers (possibly nothing) and never raises."""
    page = results_of(search_store).query_results(["b1"], ResultFilter(search=needle), 0, 50)
    assert page.total == len(page.rows)
    wanted = needle.replace("\x00", "").strip().lower()
    if len(wanted) >= 3:
        for row in page.rows:
            assert wanted in (row.text + (row.input_text or "")).lower()


def test_result_rows_are_read_by_column_name(store: Store, tmp_path: Path) -> None:
    """A result's row maps to its `ResultRow` by column name: a column added in the middle
    of the SELECT shifts no field (nor the raw line after them), and every field has its
    column."""
    from dataclasses import fields

    from batchtop.core.models import ResultRow
    from batchtop.core.results import queries
    from batchtop.core.results.raw_lines import RAW_COLUMNS, RawLines
    from batchtop.core.results.sql import INPUT_JOIN, ROW
    from batchtop.core.sqlite_util import Columns

    results = results_of(store)
    results.ingest_results("b1", write_jsonl(tmp_path / "r.jsonl", mixed_results(12)))
    page = results.query_results(["b1"], ALL, 0, 20)
    for at in (1, len(ROW) // 2, len(ROW) - 1):
        wider = Columns(*ROW.pairs[:at], ("added", "'a new column'"), *ROW.pairs[at:])
        rows = (
            store._conn()
            .execute(
                f"SELECT {wider.sql}, {RAW_COLUMNS} FROM results r{INPUT_JOIN}"
                " WHERE r.batch_id = 'b1' ORDER BY r.custom_id"
            )
            .fetchall()
        )
        assert [queries.to_row(r, wider.at) for r in rows] == page.rows
        with RawLines(store._conn()) as raw_lines:
            raws = raw_lines.texts(rows, len(wider))
        assert raws == [
            results.result_detail("b1", row.custom_id)[1]  # type: ignore[index]
            for row in page.rows
        ]
    assert set(ROW.names) == {f.name for f in fields(ResultRow)}


def test_ingest_binds_only_values_sqlite3_takes_as_they_are(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ingest binds exact ints, floats, strs and bytearrays only: the sqlite3 module runs
    any other value (None, bytes) through its adapter lookup, which on CPython 3.11 raises
    and discards an AttributeError per value (a fifth of the ingest's CPU at 100k rows).
    A missing value still lands as NULL, a text '0' stays '0', the raw line is text."""
    import sqlite3

    adapted: list[object] = []

    def note(value: object) -> object:
        adapted.append(value)
        return value

    lines = [
        succeeded("a-priced", "hi"),
        succeeded("b-unpriced", "x", model="model-without-a-price"),
        succeeded(
            "c-tool",
            "",
            stop_reason="tool_use",
            content=[{"type": "tool_use", "id": "t1", "name": "calc", "input": {"x": 1}}],
        ),
        errored("d-zero", "0", "0"),
        ended("e-canceled", "canceled"),
    ]
    path = write_jsonl(tmp_path / "r.jsonl", lines)
    for kind in (type(None), bytes):  # the registry the module consults first
        monkeypatch.setitem(sqlite3.adapters, (kind, sqlite3.PrepareProtocol), note)
    assert results_of(store).ingest_results("b1", path) == 5
    monkeypatch.undo()
    assert adapted == []
    got = {
        row[0]: row[1:]
        for row in store._conn().execute(
            "SELECT custom_id, stop_reason, model, error_type, error_message, cost_usd,"
            " tool_names, stop_details, typeof(raw) FROM results WHERE batch_id = 'b1'"
        )
    }
    priced = got["a-priced"]
    assert priced[:4] == ("end_turn", MODEL, None, None)
    assert isinstance(priced[4], float)
    assert priced[5:] == (None, None, "text")
    assert got["b-unpriced"][:5] == ("end_turn", "model-without-a-price", None, None, None)
    assert got["c-tool"][5] == "calc"
    assert got["d-zero"] == (None, None, "0", "0", None, None, None, "text")
    assert got["e-canceled"] == (None, None, None, None, None, None, None, "text")
    raws = [results_of(store).result_detail("b1", cid)[1] for cid in sorted(got)]  # type: ignore[index]
    assert [orjson.loads(r) for r in raws] == lines
