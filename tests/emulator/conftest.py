"""Fixtures for the emulator's own tests: SDK clients and emulators with custom configs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from batchtop.core.api import BatchApi
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.errors import ApiError

__all__ = ["api_status", "failure_of", "make_request", "make_requests"]


@contextmanager
def api_status(status: int, match: str | None = None) -> Iterator[pytest.ExceptionInfo[Any]]:
    """The SDK call fails with this HTTP status (and message).

    Asserts what the server answered, not which exception class one SDK release maps it to.
    """
    import anthropic

    with pytest.raises(anthropic.APIStatusError, match=match) as info:
        yield info
    assert info.value.status_code == status


def failure_of(exc: BaseException) -> ApiError:
    """How batchtop's own classifier sees an SDK/transport failure (kind, sent, message)."""
    return BatchApi(api_key="k", base_url="http://127.0.0.1:1").classify(exc)


def make_request(custom_id: str, text: str = "Hello, world", **params: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "claude-opus-5-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": text}],
    }
    body.update(params)
    return {"custom_id": custom_id, "params": body}


def make_requests(n: int, prefix: str = "req") -> list[dict[str, Any]]:
    return [make_request(f"{prefix}-{i}", f"Question number {i} about the sea") for i in range(n)]


def sdk(handle: EmulatorHandle, *, max_retries: int = 0, api_key: str = "test-key") -> Any:
    from anthropic import Anthropic

    return Anthropic(api_key=api_key, base_url=handle.base_url, max_retries=max_retries)


def async_sdk(handle: EmulatorHandle, *, max_retries: int = 0) -> Any:
    from anthropic import AsyncAnthropic

    return AsyncAnthropic(api_key="test-key", base_url=handle.base_url, max_retries=max_retries)


@pytest.fixture
def client(emulator: EmulatorHandle) -> Iterator[Any]:
    with sdk(emulator) as c:
        yield c


@pytest.fixture
async def aclient(emulator: EmulatorHandle) -> AsyncIterator[Any]:
    async with async_sdk(emulator) as c:
        yield c


def text_of(message: Any) -> str:
    """The text of a message's text blocks (today's replies often start with thinking)."""
    return "".join(b.text for b in message.content if b.type == "text")


@pytest.fixture
def oai(openai_emulator: EmulatorHandle) -> Iterator[Any]:
    """The official `openai` SDK (sync) pointed at the OpenAI emulator."""
    from .openai_support import sdk as openai_sdk

    with openai_sdk(openai_emulator) as c:
        yield c


@pytest.fixture
async def aoai(openai_emulator: EmulatorHandle) -> AsyncIterator[Any]:
    """The official `openai` SDK (async) pointed at the OpenAI emulator."""
    from .openai_support import async_sdk as openai_async_sdk

    async with openai_async_sdk(openai_emulator) as c:
        yield c
