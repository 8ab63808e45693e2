"""A `BatchService` for tests: the real service on the emulator through the official SDK.

`new_service` builds one (the `make_service` fixture of conftest.py builds them for a test
and closes them after it); `FakeSleep` stands in for the service's sleeps so retry and
backoff delays are recorded instead of waited for. Not a test module.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.service import BatchService
from batchtop.core.store import Store

STORE_FILE = "store.sqlite3"
OPENAI_STORE_FILE = "openai.sqlite3"  # beside an Anthropic service's store in one home


class FakeSleep:
    """Records requested delays and returns at once; `on_sleep` lets a test act in between."""

    def __init__(self, on_sleep: Callable[[float], None] | None = None) -> None:
        self.delays: list[float] = []
        self.on_sleep = on_sleep

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if self.on_sleep is not None:
            self.on_sleep(delay)
        await asyncio.sleep(0)


def new_service(
    emulator: EmulatorHandle,
    store_path: Path,
    *,
    settings: Settings | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    provider: str = "anthropic",
    **overrides: Any,
) -> BatchService:
    """A service on the emulator with its own store at `store_path` (closed with it).

    `settings` (default: no retries, 10 s timeouts) with `overrides` applied; `sleep`
    defaults to a `FakeSleep`; `provider="openai"` on the OpenAI emulator."""
    if settings is None:
        overrides.setdefault("max_retries", 0)
        overrides.setdefault("request_timeout_s", 10.0)
        settings = Settings(**overrides)
    elif overrides:
        settings = dataclasses.replace(settings, **overrides)
    service = BatchService(
        Store.open(store_path),
        settings,
        api_key="test-key",
        base_url=emulator.base_url,
        now=emulator.clock.now,
        sleep=sleep or FakeSleep(),
        provider=provider,
    )
    service._owns_store = True  # close() closes the store too
    return service


class ServiceFactory(Protocol):
    """The `make_service` fixture: `make_service(max_requests_per_batch=10)`."""

    def __call__(
        self,
        *,
        home: Path | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        **settings: Any,
    ) -> BatchService: ...
