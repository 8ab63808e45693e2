"""Fixtures for the emulator's own tests: SDK clients bound to the running emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from batchtop.core.emulator import EmulatorHandle


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


@pytest.fixture
def client(emulator: EmulatorHandle) -> Iterator[Any]:
    from anthropic import Anthropic

    with Anthropic(api_key="test-key", base_url=emulator.base_url, max_retries=0) as c:
        yield c


@pytest.fixture
async def aclient(emulator: EmulatorHandle) -> AsyncIterator[Any]:
    from anthropic import AsyncAnthropic

    async with AsyncAnthropic(api_key="test-key", base_url=emulator.base_url, max_retries=0) as c:
        yield c
