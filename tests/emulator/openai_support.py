"""Helpers for the OpenAI emulator's conformance tests (driven through the `openai` SDK)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from batchtop.core.emulator import EmulatorHandle

CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"
EMBEDDINGS = "/v1/embeddings"
MODEL = "gpt-4o-mini"


def chat_line(custom_id: str, text: str = "Hello, world", **body: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": text}]}
    params.update(body)
    return {"custom_id": custom_id, "method": "POST", "url": CHAT, "body": params}


def chat_lines(n: int, prefix: str = "req") -> list[dict[str, Any]]:
    return [chat_line(f"{prefix}-{i}", f"Question number {i} about the sea") for i in range(n)]


def jsonl(lines: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


def upload(client: Any, lines: Iterable[dict[str, Any]] | bytes, name: str = "in.jsonl") -> Any:
    data = lines if isinstance(lines, bytes) else jsonl(lines)
    return client.files.create(file=(name, data), purpose="batch")


def submit(
    client: Any, lines: Iterable[dict[str, Any]] | bytes, endpoint: str = CHAT, **kw: Any
) -> Any:
    """Upload the lines and create a batch over them."""
    file = upload(client, lines)
    return client.batches.create(
        input_file_id=file.id, endpoint=endpoint, completion_window="24h", **kw
    )


def read_lines(client: Any, file_id: str | None) -> list[dict[str, Any]]:
    assert file_id is not None
    return [orjson.loads(line) for line in client.files.content(file_id).content.splitlines()]


def sdk(handle: EmulatorHandle, *, max_retries: int = 0, api_key: str = "test-key") -> Any:
    from openai import OpenAI

    return OpenAI(api_key=api_key, base_url=handle.base_url, max_retries=max_retries)


def async_sdk(handle: EmulatorHandle, *, max_retries: int = 0) -> Any:
    from openai import AsyncOpenAI

    return AsyncOpenAI(api_key="test-key", base_url=handle.base_url, max_retries=max_retries)


@contextmanager
def api_status(status: int, match: str | None = None) -> Iterator[pytest.ExceptionInfo[Any]]:
    """The SDK call fails with this HTTP status (and message), whatever class the SDK maps
    it to; the body is OpenAI's error envelope."""
    import openai

    with pytest.raises(openai.APIStatusError, match=match) as info:
        yield info
    assert info.value.status_code == status
    body = info.value.response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
