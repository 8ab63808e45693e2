"""OpenAI requests are checked before anything is sent, per endpoint, each problem with its
line (`core/openai_checks.py` through `BatchService.analyse`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import ImportOptions

pytest.importorskip("openai")
pytest.importorskip("batchtop.core.emulator.openai_api")

from test_openai_service import openai_service

CHAT = "/v1/chat/completions"
MODEL = "gpt-4o-mini"


def line(cid: Any, body: Any, url: str = CHAT, **extra: Any) -> dict[str, Any]:
    out = {"custom_id": cid, "method": "POST", "url": url, "body": body}
    out.update(extra)
    return out


def chat(*messages: dict[str, Any], **body: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": list(messages), **body}


USER = {"role": "user", "content": "Hello"}


def write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    return path


async def test_chat_file_problems_are_reported_with_their_lines(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    lines = [
        line("ok-1", chat(USER)),  # 1
        line("r-1", chat({"role": "robot", "content": "x"})),  # 2
        line("s-1", chat({"role": "system"}, USER)),  # 3
        line("t-1", chat(USER, {"role": "tool", "content": "42"})),  # 4
        line("m-1", chat(USER, max_completion_tokens=0)),  # 5
        {"custom_id": "u-1", "method": "POST", "body": chat(USER)},  # 6: no url
        {"custom_id": "p-1", "url": CHAT, "body": chat(USER)},  # 7: no method
        line("e-1", {"model": "text-embedding-3-small", "input": "x"}, "/v1/embeddings"),  # 8
        line("", chat(USER)),  # 9
        line("k-1", chat(USER), bdy={"model": MODEL}),  # 10: unknown key (a warning)
        line("g-1", {"model": "gpt-4.1", "messages": [USER]}),  # 11: a second model
        line("ok-1", chat(USER)),  # 12: custom_id used on line 1
        line("n-1", {"messages": [USER]}),  # 13: no model
    ]
    service = openai_service(openai_emulator, tmp_path)
    try:
        report = await service.analyse(write(tmp_path / "in.jsonl", lines), ImportOptions())
    finally:
        await service.close()
    found = [(i.line, i.severity, i.field) for i in report.issues]
    assert found == [
        (2, "error", "body.messages.0"),
        (3, "error", "body.messages.0"),
        (4, "error", "body.messages.1"),
        (5, "error", "body.max_completion_tokens"),
        (6, "error", "url"),
        (7, "error", "method"),
        (8, "error", "url"),
        (9, "error", "custom_id"),
        (10, "warning", "bdy"),
        (11, "error", "body.model"),
        (12, "error", "custom_id"),
        (13, "error", "body.model"),
    ]
    by_line = {i.line: i.message for i in report.issues}
    assert "'robot'" in by_line[2]
    assert "tool_call_id" in by_line[4]
    assert "/v1/embeddings" in by_line[8]
    assert "line 1" in by_line[11]
    assert report.request_count == 2  # lines 1 and 10
    assert report.invalid_requests == 11
    assert report.can_submit_valid


async def test_responses_and_embeddings_bodies(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emb = "/v1/embeddings"
    resp = "/v1/responses"
    model = "text-embedding-3-small"
    embeddings = [
        line("a", {"model": model, "input": "fine"}, emb),
        line("b", {"model": model, "input": ""}, emb),
        line("c", {"model": model, "input": []}, emb),
        line("d", {"model": model}, emb),
        line("e", {"model": model, "input": ["x", ""]}, emb),
        line("f", {"model": model, "input": ["w"] * 2049}, emb),
        line("g", {"model": model, "input": [[1, 2], [3]]}, emb),
    ]
    responses = [
        line("a", {"model": "gpt-5-mini", "input": "fine"}, resp),
        line("b", {"model": "gpt-5-mini"}, resp),
        line("c", {"model": "gpt-5-mini", "input": ""}, resp),
        line("d", {"model": "gpt-5-mini", "input": 3}, resp),
        line("e", {"model": "gpt-5-mini", "input": "x", "max_output_tokens": 2.5}, resp),
    ]
    service = openai_service(openai_emulator, tmp_path)
    try:
        one = await service.analyse(write(tmp_path / "e.jsonl", embeddings), ImportOptions())
        two = await service.analyse(write(tmp_path / "r.jsonl", responses), ImportOptions())
    finally:
        await service.close()
    assert [(i.line, i.field) for i in one.issues] == [
        (2, "body.input"),
        (3, "body.input"),
        (4, "body.input"),
        (5, "body.input.1"),
        (6, "body.input"),
    ]
    assert one.request_count == 2
    assert [(i.line, i.field) for i in two.issues] == [
        (2, "body.input"),
        (3, "body.input"),
        (4, "body.input"),
        (5, "body.max_output_tokens"),
    ]


async def test_chosen_endpoint_is_every_lines_url(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """With an endpoint chosen (`--endpoint`), a line for another endpoint is an error even
    when it is the first line."""
    service = openai_service(openai_emulator, tmp_path, endpoint="/v1/responses")
    try:
        report = await service.analyse(
            write(tmp_path / "in.jsonl", [line("a", chat(USER))]), ImportOptions()
        )
    finally:
        await service.close()
    assert [(i.line, i.field) for i in report.errors] == [(1, "url")]


async def test_embeddings_split_at_50000_inputs(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """An embeddings batch holds at most 50,000 inputs in all: 30 requests of 2,000 inputs
    are two batches (25 + 5), though far below 50,000 requests and 200 MB."""
    model = "text-embedding-3-small"
    lines = [
        line(f"e-{i}", {"model": model, "input": ["w"] * 2000}, "/v1/embeddings") for i in range(30)
    ]
    service = openai_service(openai_emulator, tmp_path)
    try:
        report = await service.analyse(write(tmp_path / "in.jsonl", lines), ImportOptions())
    finally:
        await service.close()
    assert report.ok, report.issues
    assert [p.request_count for p in report.parts] == [25, 5]
