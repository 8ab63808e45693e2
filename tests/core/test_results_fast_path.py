"""The ingest reads the usual results lines with msgspec (`ingest.fast_row`) and every other
line with orjson (`ingest.parse_line_json`): for any line the fast reader takes, the row must
be the one the general reader builds, and every shape the API returns must be taken by it
(else the speed-up is gone without a test noticing)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import ResultFilter
from batchtop.core.results.ingest import fast_row, parse_line, parse_line_json
from batchtop.core.store import Store
from data_factory import T0, remote
from hypothesis import given, settings
from hypothesis import strategies as st
from results_support import results_of
from service_support import ServiceFactory

ENDS = (7, 11, 13)  # a row's place in its file, as a file's ingest gives it
EXPIRED = b'{"custom_id":"ok","result":{"type":"expired"}}'


def _both(raw: bytes) -> tuple[tuple[Any, ...] | None, tuple[Any, ...] | None]:
    return fast_row(raw, {}, ENDS), parse_line_json(raw, {}, ENDS)


def _ingest_between(raw: bytes, good: bytes, tmp_path: Path) -> tuple[int, int]:
    """(rows, malformed) of a file ingest of `raw` between two good lines (`good` with its
    custom_id "ok", and again as "ok2")."""
    path = tmp_path / "r.jsonl"
    path.write_bytes(good + b"\n" + raw + b"\n" + good.replace(b'"ok"', b'"ok2"') + b"\n")
    with Store.open(tmp_path / "s.db") as store:
        store.upsert_remote([remote("b1")], T0)
        stats = results_of(store).ingest_results_stats("b1", path)
    return stats.rows, stats.malformed


# --- every shape the emulator produces goes through the fast reader ----------------------

TOOL = {
    "name": "lookup_order",
    "input_schema": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
    },
}
SCHEMA = {
    "type": "object",
    "properties": {"category": {"type": "string", "enum": ["billing", "other"]}},
    "required": ["category"],
}


def _req(cid: str, text: str, **params: object) -> dict[str, object]:
    body: dict[str, object] = {"model": "claude-haiku-5-5", "max_tokens": 512, **params}
    body["messages"] = [{"role": "user", "content": text}]
    return {"custom_id": cid, "params": body}


async def test_every_api_shape_is_read_by_the_fast_reader(
    make_service: ServiceFactory, emulator: EmulatorHandle
) -> None:
    requests = [
        _req("plain", "Summarise: the parcel came late", thinking={"type": "disabled"}),
        _req("thinking", "Summarise: the parcel came late"),
        _req("tool", "Please call lookup_order for A17", tools=[TOOL]),
        _req("search", "Latest lighthouse news",
             tools=[{"type": "web_search_20250305", "name": "web_search"}]),
        _req("refusal", "ANTHROPIC_MAGIC_STRING_TRIGGER_REFUSAL_1FAEFB6177B4672DEE07F9"),
        _req("json", "Classify: my card was charged twice",
             output_config={"format": {"type": "json_schema", "schema": SCHEMA}}),
        _req("stop", "Tell me about whales and dolphins", stop_sequences=["dolphins"]),
        _req("short", "Write a long essay about tides", max_tokens=5),
        _req("errored", "hello", not_a_parameter=1),
    ]  # fmt: skip
    service = make_service()
    (bid,) = (await service.submit_requests(requests, name="shapes")).batch_ids
    emulator.advance(60)
    await service.refresh()
    assert (await service.download_results(bid)).rows == len(requests)

    path = results_of(service.store).results_file(bid)
    assert path is not None
    lines = path.read_bytes().splitlines()
    kinds = set()
    for raw in lines:
        fast, general = _both(raw)
        assert fast is not None, raw
        assert fast == general
        kinds.add((fast[1], fast[2]))
    # the batch really holds the shapes named above (and the index agrees with the lines)
    assert {("succeeded", "end_turn"), ("succeeded", "tool_use"), ("succeeded", "refusal")} <= kinds
    assert {("succeeded", "stop_sequence"), ("succeeded", "max_tokens"), ("errored", 0)} <= kinds
    rows = {r.custom_id: r for r in service.results_page([bid], ResultFilter(), 0, 50).rows}
    assert rows["thinking"].thinking is True
    plain = rows["plain"]  # the usual answer: one text block, nothing more kept of it
    assert (plain.thinking, plain.tool_calls, plain.tool_names, plain.citations) == (
        False,
        0,
        None,
        0,
    )
    assert plain.stop_details is None
    assert plain.text


# --- any line: the fast reader is the general reader, or steps aside ----------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
small_counts = st.integers(min_value=0, max_value=5000)
token_counts = st.one_of(
    small_counts,  # mostly well-typed: the fast reader's lines
    small_counts,
    small_counts,
    st.integers(),  # negative and beyond 64 bits
    st.sampled_from([2**62 - 1, 2**62, 2**63]),
    scalars,
)
blocks = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("text"), "text": st.one_of(st.text(), scalars)},
        optional={"citations": st.one_of(st.none(), st.just([]), json_values)},
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["thinking", "redacted_thinking"]), "thinking": st.text()},
        optional={"signature": st.text()},
    ),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["tool_use", "server_tool_use"]),
            "name": st.one_of(st.text(max_size=8), scalars),
            "input": json_values,
        }
    ),
    json_values,
)
usages = st.fixed_dictionaries(
    {},
    optional={
        "input_tokens": token_counts,
        "output_tokens": token_counts,
        "cache_creation_input_tokens": token_counts,
        "cache_read_input_tokens": token_counts,
        "cache_creation": st.one_of(
            st.fixed_dictionaries(
                {}, optional={"ephemeral_1h_input_tokens": token_counts, "x": json_values}
            ),
            json_values,
        ),
        "service_tier": st.text(max_size=5),
    },
)
messages = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=6),
        "model": st.one_of(st.sampled_from(["claude-haiku-5-5", "claude-sonnet-4-5"]), scalars),
        "content": st.one_of(st.lists(blocks, max_size=3), json_values),
        "stop_reason": st.one_of(st.sampled_from(["end_turn", "refusal"]), scalars),
        "stop_details": st.one_of(st.none(), json_values),
        "usage": st.one_of(usages, json_values),
    },
)
errors = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.one_of(st.just("error"), scalars),
            "message": scalars,
            "error": st.one_of(
                st.fixed_dictionaries(
                    {}, optional={"type": scalars, "message": scalars, "details": json_values}
                ),
                json_values,
            ),
        },
    ),
    json_values,
)
results = st.one_of(
    st.fixed_dictionaries({"type": st.just("succeeded"), "message": st.one_of(messages, scalars)}),
    st.fixed_dictionaries({"type": st.just("errored")}, optional={"error": errors}),
    st.fixed_dictionaries({"type": st.sampled_from(["canceled", "expired", "other", ""])}),
    json_values,
)
lines = st.fixed_dictionaries(
    {"custom_id": st.one_of(st.text(max_size=8), scalars), "result": results},
    optional={"extra": json_values},
)


@settings(max_examples=600, deadline=None)
@given(obj=lines)
def test_the_fast_reader_builds_the_general_readers_row(obj: dict[str, Any]) -> None:
    raw = json.dumps(obj).encode()
    fast, general = _both(raw)
    if fast is not None:
        assert fast == general
    assert parse_line(raw, {}, ENDS) == general


def test_the_hypothesis_lines_reach_the_fast_reader() -> None:
    """The property above is not vacuous: well-typed lines of each kind are taken."""
    usage = {"input_tokens": 3, "output_tokens": 5, "cache_creation": {}, "x": {"y": 1}}
    taken = [
        {"custom_id": "a", "result": {"type": "succeeded", "message": {"usage": usage}}},
        {
            "custom_id": "a2",
            "result": {
                "type": "succeeded",
                "message": {
                    "model": "claude-haiku-5-5",
                    "content": [{"type": "text", "text": "hi", "citations": None}],
                    "stop_details": None,
                    "usage": {  # more 1-hour writes than writes: counted as all writes
                        "input_tokens": 3,
                        "cache_creation_input_tokens": 10,
                        "cache_creation": {"ephemeral_1h_input_tokens": 50},
                    },
                },
            },
        },
        {"custom_id": "b", "result": {"type": "errored", "error": {"error": {"type": "x"}}}},
        {"custom_id": "c", "result": {"type": "expired"}},
        {"custom_id": "d", "result": {"type": "canceled"}},
    ]
    for obj in taken:
        fast, general = _both(json.dumps(obj).encode())
        assert fast is not None
        assert fast == general
    odd_usages = [[], {"input_tokens": 2.0}, {"output_tokens": -1}, {"input_tokens": 2**62}]
    stepped_aside = [
        {"custom_id": "e", "result": {"type": "succeeded", "message": {"model": 5}}},
        *(
            {"custom_id": "f", "result": {"type": "succeeded", "message": {"usage": odd}}}
            for odd in odd_usages
        ),
    ]
    for obj in stepped_aside:  # and the general reader has the rule for them
        raw = json.dumps(obj).encode()
        assert fast_row(raw, {}, ENDS) is None
        assert parse_line(raw, {}, ENDS) == parse_line_json(raw, {}, ENDS) is not None


@pytest.mark.parametrize(
    "raw",
    [
        b"\xef\xbb\xbf" + b'{"custom_id":"a","result":{"type":"expired"}}',
        b'{"custom_id":"a","result":{"type":"expired"}} trailing',
        b'{"custom_id":"a","result":{"type":"expired"},"x":NaN}',
        b'{"custom_id":"a","result":{"type":"succeeded","message":{"content":"\xff"}}}',
        b'{"custom_id":"a","result":{"type":"succeeded","message":{"content":"\\ud800"}}}',
        b'{"custom_id":"","result":{"type":"expired"}}',
        b"[]",
    ],
)
def test_malformed_lines_are_malformed_for_both(raw: bytes) -> None:
    assert _both(raw) == (None, None)
    assert parse_line(raw, {}, ENDS) is None


def test_a_broken_field_no_column_holds_does_not_lose_the_result(tmp_path: Path) -> None:
    """The known difference: msgspec skips a field it does not read without checking it, so a
    line whose unread field holds invalid UTF-8 is indexed (orjson alone called it malformed).
    Its result is kept, its bytes go out of an export unchanged, and reading it never fails."""
    good = b'{"custom_id":"ok","result":{"type":"expired"}}'
    odd = b'{"custom_id":"odd","result":{"type":"expired"},"note":"caf\xe9"}'
    assert fast_row(odd, {}, ENDS) is not None
    assert parse_line_json(odd, {}, ENDS) is None
    path = tmp_path / "r.jsonl"
    path.write_bytes(good + b"\n" + odd + b"\n")
    with Store.open(tmp_path / "s.db") as store:
        store.upsert_remote([remote("b1")], T0)
        assert results_of(store).ingest_results("b1", path) == 2
        page = results_of(store).query_results(["b1"], ResultFilter(), 0, 10)
        assert sorted(r.custom_id for r in page.rows) == ["odd", "ok"]
        out = tmp_path / "out.jsonl"
        from batchtop.core.export import export_results

        export_results(results_of(store).iter_results(["b1"]), "jsonl", out)
        assert sorted(out.read_bytes().splitlines()) == sorted([good, odd])


@pytest.mark.parametrize("depth", [1000, 1023, 1024, 100_000])
@pytest.mark.parametrize(
    "where",
    [
        b'{"custom_id":"deep","x":%s,"result":{"type":"expired"}}',
        b'{"custom_id":"deep","result":{"type":"succeeded","message":{"content":%s}}}',
        b'{"custom_id":"deep","result":{"type":"succeeded","message":{"stop_details":%s}}}',
        b'{"custom_id":"deep","result":{"type":"errored","error":{"error":{"d":%s}}}}',
    ],
)
def test_deep_nesting_is_read_as_the_general_reader_reads_it(
    where: bytes, depth: int, tmp_path: Path
) -> None:
    """msgspec raises RecursionError (not a DecodeError) for nesting near Python's recursion
    limit, orjson reads up to 1024 levels and calls deeper lines malformed: the fast reader
    steps aside, and one such line never fails the ingest of the others."""
    raw = where % (b"[" * depth + b"]" * depth)
    fast, general = _both(raw)
    if fast is not None:
        assert fast == general
    assert parse_line(raw, {}, ENDS) == general
    expected = (3, 0) if general else (2, 1)
    assert _ingest_between(raw, EXPIRED, tmp_path) == expected


@pytest.mark.parametrize("depth", [254, 300, 1000])
@pytest.mark.parametrize(
    "where",
    [
        b'{"custom_id":"deep","result":{"type":"succeeded","message":'
        b'{"content":[{"type":"tool_use","name":"t","input":%s}]}}}',
        b'{"custom_id":"deep","result":{"type":"succeeded","message":{"stop_details":{"a":%s}}}}',
    ],
)
def test_a_value_too_deep_to_write_back_does_not_fail_the_ingest(
    where: bytes, depth: int, tmp_path: Path
) -> None:
    """A tool call's input and `stop_details` are written back as JSON (orjson.dumps, which
    stops at 255 levels while orjson.loads reads 1024): such a line is counted malformed,
    by both readers, and the other lines of the file are indexed."""
    raw = where % (b"[" * depth + b"]" * depth)
    assert _both(raw) == (None, None)
    assert parse_line(raw, {}, ENDS) is None
    assert _ingest_between(raw, EXPIRED, tmp_path) == (2, 1)


_OK_BODY = b'"object":"chat.completion","model":"gpt-5","choices":[{"message":{"content":"x"}}]'


@pytest.mark.parametrize(
    "raw",
    [
        b'{"custom_id":"odd","response":{"status_code":200,"body":{%s,"usage":[1]}}}' % _OK_BODY,
        b'{"custom_id":"odd","response":{"status_code":200,"body":{%s,"usage":"x"}}}' % _OK_BODY,
        b'{"custom_id":"odd","response":{"status_code":200,"body":'
        b'{"object":"chat.completion","choices":{"a":1}}}}',
        b'{"custom_id":"odd","response":{"status_code":200,"body":'
        b'{"object":"chat.completion","choices":[{"message":{"tool_calls":[5]}}]}}}',
        b'{"custom_id":"odd","response":{"status_code":200,"body":{"object":"list","data":7}}}',
        b'{"custom_id":"odd","response":{"status_code":200,"body":'
        b'{"object":"response","output":[null]}}}',
        b'{"custom_id":"odd","error":{"code":%s}}' % (b'{"a":' * 1000 + b"1" + b"}" * 1000),
    ],
    ids=[
        "usage-list",
        "usage-str",
        "choices-dict",
        "tool-call-int",
        "data-int",
        "output-null",
        "code-too-deep",
    ],
)
def test_an_openai_line_of_an_odd_shape_does_not_fail_the_ingest(
    raw: bytes, tmp_path: Path
) -> None:
    """The OpenAI reader (`neutral_result`) walks the line expecting OpenAI's types: a value
    of another type where it walks in (a list as `usage`, a number as a tool call, a code
    too deep to print) raised out of the reader and failed the whole ingest. Such a line is
    malformed (OpenAI never writes one), and the other lines are indexed."""
    assert _both(raw) == (None, None)
    good = b'{"custom_id":"ok","response":{"status_code":200,"body":{%s}}}' % _OK_BODY
    assert parse_line(good, {}, ENDS) is not None
    assert _ingest_between(raw, good, tmp_path) == (2, 1)


def test_the_usual_answer_is_read_without_parsing_its_content_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The plain answer (one text block, as the API writes it) takes the quickest path: its
    block decoded once into a struct, no dict built; a thinking-first answer never tries it
    (the speed of the ingest rests on both; the rows are equal either way)."""
    from batchtop.core.results import ingest

    calls: list[bytes] = []
    decode = ingest._decode_plain

    def counted(raw: object) -> object:
        calls.append(bytes(memoryview(raw)))  # type: ignore[arg-type]
        return decode(raw)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest, "_decode_plain", counted)
    plain = {"type": "succeeded", "message": {"content": [{"type": "text", "text": "hi"}]}}
    thinking = {
        "type": "succeeded",
        "message": {
            "content": [{"type": "thinking", "thinking": "hm"}, {"type": "text", "text": "hi"}]
        },
    }
    for result in (plain, thinking):
        raw = orjson.dumps({"custom_id": "a", "result": result})
        fast, general = _both(raw)
        assert fast is not None
        assert fast == general
    assert calls == [b'[{"type":"text","text":"hi"}]']
