"""OpenAI emulator, Batches API: create, retrieve, list, cancel and the create-time and
file validation, through the official `openai` SDK on a real port."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.emulator.openai_api.validate import Limits

from .openai_support import CHAT, api_status, chat_line, chat_lines, read_lines, submit, upload


def test_create_answers_validating_then_completes(
    oai: Any, openai_emulator: EmulatorHandle
) -> None:
    batch = submit(oai, chat_lines(3), metadata={"job": "nightly"})
    assert batch.id.startswith("batch_")
    assert batch.object == "batch"
    assert batch.status == "validating"
    assert batch.endpoint == CHAT
    assert batch.completion_window == "24h"
    assert batch.expires_at == batch.created_at + 86_400
    assert batch.metadata == {"job": "nightly"}
    assert batch.in_progress_at is None
    assert batch.request_counts.total == 0  # not counted until validated
    openai_emulator.advance(60)
    done = oai.batches.retrieve(batch.id)
    assert done.status == "completed"
    assert done.request_counts.model_dump() == {"total": 3, "completed": 3, "failed": 0}
    assert done.model == "gpt-4o-mini"
    assert done.error_file_id is None
    lines = read_lines(oai, done.output_file_id)
    assert sorted(line["custom_id"] for line in lines) == ["req-0", "req-1", "req-2"]
    for line in lines:
        assert line["id"].startswith("batch_req_")
        assert line["error"] is None
        assert line["response"]["status_code"] == 200
        assert line["response"]["body"]["object"] == "chat.completion"
    out = oai.files.retrieve(done.output_file_id)
    assert out.purpose == "batch_output"
    assert out.filename == f"{batch.id}_output.jsonl"
    assert done.usage is not None
    assert done.usage.total_tokens > 0


def test_list_pages_with_cursor(oai: Any, openai_emulator: EmulatorHandle) -> None:
    n, limit = 7, 3
    file = upload(oai, chat_lines(1))
    ids = [
        oai.batches.create(input_file_id=file.id, endpoint=CHAT, completion_window="24h").id
        for _ in range(n)
    ]
    openai_emulator.stats.reset()
    first = oai.batches.list(limit=limit)
    assert [b.id for b in first.data] == ids[::-1][:limit]
    assert first.has_more is True
    raw = first.model_dump()  # the page carries first_id/last_id as the API sends them
    assert raw.get("first_id", ids[-1]) == ids[-1]
    walked = [b.id for b in oai.batches.list(limit=limit)]
    assert walked == ids[::-1]
    # one call for `first`, then ceil(N/limit) pages for the walk
    assert openai_emulator.stats.count("list", 200) == 1 + math.ceil(n / limit)
    assert [b.id for b in oai.batches.list(after=ids[3]).data] == ids[:3][::-1]


def test_list_response_fields(openai_emulator: EmulatorHandle, oai: Any) -> None:
    submit(oai, chat_lines(1))
    body = oai.batches.with_raw_response.list(limit=1).http_response.json()
    assert set(body) == {"object", "data", "first_id", "last_id", "has_more"}
    assert body["object"] == "list"
    assert body["first_id"] == body["last_id"] == body["data"][0]["id"]


def test_retrieve_unknown_batch_is_404(oai: Any) -> None:
    with api_status(404, match="batch_nope"):
        oai.batches.retrieve("batch_nope")


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"endpoint": "/v1/nowhere"}, "endpoint"),
        ({"endpoint": "/v1/images/edits"}, "endpoint"),  # real, but not emulated: said so
        ({"completion_window": "48h"}, "completion_window"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"metadata": {"k": "v" * 513}}, "metadata.k"),
        ({"input_file_id": "file-missing"}, "input_file_id"),
    ],
)
def test_create_refusals(oai: Any, change: dict[str, Any], param: str) -> None:
    file = upload(oai, chat_lines(1))
    args: dict[str, Any] = {
        "input_file_id": file.id,
        "endpoint": CHAT,
        "completion_window": "24h",
    }
    args.update(change)
    status = 404 if param == "input_file_id" else 400
    with api_status(status) as info:
        oai.batches.create(**args)
    assert info.value.response.json()["error"]["param"] == param


def test_create_needs_a_batch_purpose_file(oai: Any) -> None:
    other = oai.files.create(file=("x.jsonl", b"{}\n"), purpose="user_data")
    with api_status(400, match="purpose 'batch'"):
        oai.batches.create(input_file_id=other.id, endpoint=CHAT, completion_window="24h")


def test_metadata_sixteen_pairs_are_accepted(oai: Any) -> None:
    meta = {f"k{i}": "v" * 512 for i in range(16)}
    assert submit(oai, chat_lines(1), metadata=meta).metadata == meta


def _failed(oai: Any, openai_emulator: EmulatorHandle, data: Any) -> list[dict[str, Any]]:
    batch = submit(oai, data)
    assert batch.status == "validating"
    openai_emulator.advance(1)
    failed = oai.batches.retrieve(batch.id)
    assert failed.status == "failed"
    assert failed.failed_at is not None
    assert failed.in_progress_at is None
    assert failed.output_file_id is None
    assert failed.error_file_id is None
    assert failed.errors is not None
    assert failed.errors.object == "list"
    return [e.model_dump() for e in failed.errors.data]


def test_file_validation_fails_the_batch(oai: Any, openai_emulator: EmulatorHandle) -> None:
    good = chat_line("a")
    bad_url = {**chat_line("b"), "url": "/v1/responses"}
    dup = chat_line("a")
    other_model = chat_line("c", model="gpt-4o")
    bad_method = {**chat_line("d"), "method": "GET"}
    data = b"\n".join(orjson.dumps(x) for x in (good, bad_url, dup, other_model, bad_method))
    data += b"\n{not json\n"
    errors = _failed(oai, openai_emulator, data)
    assert [(e["code"], e["line"]) for e in errors] == [
        ("mismatched_endpoint", 2),
        ("duplicate_custom_id", 3),
        ("mismatched_model", 4),
        ("invalid_method", 5),
        ("invalid_json_line", 6),
    ]
    assert all(e["message"] for e in errors)


def test_empty_file_fails(oai: Any, openai_emulator: EmulatorHandle) -> None:
    errors = _failed(oai, openai_emulator, b"\n")
    assert [e["code"] for e in errors] == ["empty_file"]


def test_limits_fail_the_batch(oai: Any, openai_emulator: EmulatorHandle) -> None:
    openai_emulator.call(lambda: setattr(openai_emulator.server, "limits", Limits(max_requests=2)))
    assert [e["code"] for e in _failed(oai, openai_emulator, chat_lines(3))] == [
        "too_many_requests"
    ]
    openai_emulator.call(
        lambda: setattr(openai_emulator.server, "limits", Limits(max_file_bytes=100))
    )
    assert [e["code"] for e in _failed(oai, openai_emulator, chat_lines(3))] == ["file_too_large"]


def test_real_limits_are_the_documented_ones() -> None:
    assert (Limits().max_requests, Limits().max_file_bytes) == (50_000, 200 * 1024 * 1024)


def test_cancel(oai: Any, openai_emulator: EmulatorHandle) -> None:
    openai_emulator.call(lambda: setattr(openai_emulator.config, "rate", 1.0))
    batch = submit(oai, chat_lines(10))
    openai_emulator.advance(3.5)  # three requests done
    cancelling = oai.batches.cancel(batch.id)
    assert cancelling.status == "cancelling"
    assert cancelling.cancelling_at is not None
    openai_emulator.advance(openai_emulator.config.cancel_delay_s)
    cancelled = oai.batches.retrieve(batch.id)
    assert cancelled.status == "cancelled"
    assert cancelled.cancelled_at == cancelled.cancelling_at + 5
    assert cancelled.request_counts.model_dump() == {"total": 10, "completed": 3, "failed": 0}
    assert len(read_lines(oai, cancelled.output_file_id)) == 3
    with api_status(409, match="cancelled"):
        oai.batches.cancel(batch.id)


async def test_async_client_batches(aoai: Any, openai_emulator: EmulatorHandle) -> None:
    from .openai_support import jsonl

    f = await aoai.files.create(file=("a.jsonl", jsonl(chat_lines(4))), purpose="batch")
    created = await aoai.batches.create(input_file_id=f.id, endpoint=CHAT, completion_window="24h")
    openai_emulator.advance(10)
    done = await aoai.batches.retrieve(created.id)
    assert done.status == "completed"
    content = await aoai.files.content(done.output_file_id)
    assert len(content.content.splitlines()) == 4
    assert [b.id async for b in aoai.batches.list(limit=1)] == [created.id]
    with api_status(409):
        await aoai.batches.cancel(created.id)


def test_seed_history_pages_at_one_hundred(oai: Any, openai_emulator: EmulatorHandle) -> None:
    """Many batches at once (benchmarks, refresh tests): N batches list in ceil(N/100) calls
    at OpenAI's largest page."""
    n = 250
    ids = openai_emulator.seed_history(n, active=frozenset({n - 1}))
    assert len(set(ids)) == n
    openai_emulator.stats.reset()
    listed = list(oai.batches.list(limit=100))
    assert [b.id for b in listed] == ids[::-1]
    assert openai_emulator.stats.count("list", 200) == math.ceil(n / 100)
    assert listed[0].status == "in_progress"
    assert {b.status for b in listed[1:]} == {"completed"}
    assert len(read_lines(oai, listed[1].output_file_id)) == 1
    with api_status(400):
        oai.batches.list(limit=101)
