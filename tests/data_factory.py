"""Test data, built in one place for every test: requests (what a user submits), result
lines (what the API returns) and remote batches. No tests here.

Result lines follow the exact shapes of the API reference, section 6.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from batchtop.core.models import ProcessingStatus, RemoteBatch, RequestCounts

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MODEL = "claude-haiku-4-5-20251001"

HOSTILE_TEXTS = {
    "markup": "[bold red]alert[/] [link=https://evil.example]click[/link] [/]",
    "ansi": "\x1b[31mred\x1b[0m \x1b]8;;https://evil.example\x07osc\x1b]8;;\x07 \x1b[2J",
    "newlines": "line one\nline two\r\nline three\n\n",
    "rtl": "abc \u202edlrow\u202c \u200bzero\u200dwidth\ufeff שלום مرحبا",
    "formula": '=HYPERLINK("http://evil.example","x")',
    "quotes": "he said \"hi\", then 'bye'; AND OR NOT * - ^ :",
}


def request(
    custom_id: str,
    text: str = "Summarise this article.",
    *,
    model: str = "claude-haiku-4-5",
    max_tokens: int = 64,
) -> dict[str, Any]:
    """One native batch request (`{custom_id, params}`)."""
    return {
        "custom_id": custom_id,
        "params": {
            "model": model,
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": text}],
        },
    }


def requests(
    n: int, *, prefix: str = "req", model: str = "claude-haiku-4-5"
) -> list[dict[str, Any]]:
    """`n` requests `<prefix>-00000` … saying hello with their number."""
    return [request(f"{prefix}-{i:05d}", f"Say hello number {i}", model=model) for i in range(n)]


def succeeded(
    custom_id: str,
    text: str,
    *,
    input_tokens: int = 16,
    output_tokens: int = 5,
    model: str = MODEL,
    stop_reason: str = "end_turn",
    content: list[dict[str, Any]] | None = None,
    full_usage: bool = True,
) -> dict[str, Any]:
    usage: dict[str, Any] = {"input_tokens": input_tokens, "output_tokens": output_tokens}
    if full_usage:
        usage = {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
            "output_tokens": output_tokens,
            "service_tier": "batch",
            "inference_geo": "not_available",
        }
    return {
        "custom_id": custom_id,
        "result": {
            "type": "succeeded",
            "message": {
                "id": "msg_01FqfsLoHwgeFbguDgpz48m7",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content if content is not None else [{"type": "text", "text": text}],
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": usage,
            },
        },
    }


def errored(custom_id: str, error_type: str, message: str, *, full: bool = True) -> dict[str, Any]:
    """An errored line; `full=False` leaves out the optional details and request id."""
    error: dict[str, Any] = {"type": error_type, "message": message}
    if not full:
        return {
            "custom_id": custom_id,
            "result": {"type": "errored", "error": {"type": "error", "error": error}},
        }
    return {
        "custom_id": custom_id,
        "result": {
            "type": "errored",
            "error": {
                "type": "error",
                "error": {"details": {"error_visibility": "user_facing"}, **error},
                "request_id": None,
            },
        },
    }


def ended(custom_id: str, kind: str) -> dict[str, Any]:
    """A canceled or expired line."""
    return {"custom_id": custom_id, "result": {"type": kind}}


def openai_chat(
    custom_id: str, content: str, *, model: str = "gpt-4o-mini", **body: Any
) -> dict[str, Any]:
    """One line of an OpenAI-format batch input file: a chat completion request."""
    params: dict[str, Any] = {"model": model, **body}
    params["messages"] = [{"role": "user", "content": content}]
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": params}


def line(obj: dict[str, Any]) -> bytes:
    return orjson.dumps(obj) + b"\n"


def write_jsonl(path: Path, objs: Iterable[dict[str, Any]]) -> Path:
    with open(path, "wb") as fh:
        for obj in objs:
            fh.write(line(obj))
    return path


def mixed_results(n: int, *, text_size: int = 200) -> Iterable[dict[str, Any]]:
    """n lines: ~90% succeeded, then errored (two types), canceled and expired."""
    filler = ("The quick brown fox jumps over the lazy dog. " * (text_size // 45 + 1))[:text_size]
    for i in range(n):
        cid = f"req-{i:06d}"
        bucket = i % 20
        if bucket < 17 or (bucket == 19 and i % 40 == 19):
            yield succeeded(cid, f"answer {i}: {filler}", input_tokens=100 + i % 50)
        elif bucket == 17:
            if i % 40 == 17:
                yield errored(cid, "invalid_request_error", f"max_tokens: too large ({i})")
            else:
                yield errored(cid, "overloaded_error", "Overloaded")
        elif bucket == 18:
            yield ended(cid, "expired")
        else:
            yield ended(cid, "canceled")


def remote(
    batch_id: str,
    *,
    created: datetime = T0,
    status: ProcessingStatus = ProcessingStatus.ENDED,
    counts: RequestCounts | None = None,
    **kw: Any,
) -> RemoteBatch:
    return RemoteBatch(
        id=batch_id,
        processing_status=status,
        request_counts=counts or RequestCounts(succeeded=1),
        created_at=created,
        expires_at=created + timedelta(days=1),
        **kw,
    )
