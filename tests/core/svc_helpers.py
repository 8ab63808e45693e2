"""Shared bits for the service/poller/submit/results tests (not a test module)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.service import BatchService
from batchtop.core.store import Store


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


def requests(
    n: int, *, prefix: str = "req", model: str = "claude-haiku-4-5"
) -> list[dict[str, Any]]:
    return [
        {
            "custom_id": f"{prefix}-{i:05d}",
            "params": {
                "model": model,
                "max_tokens": 64,
                "messages": [{"role": "user", "content": f"Say hello number {i}"}],
            },
        }
        for i in range(n)
    ]


def make_service(
    emulator: EmulatorHandle,
    tmp_path: Path,
    *,
    sleep: FakeSleep | None = None,
    **settings: Any,
) -> BatchService:
    settings.setdefault("max_retries", 0)
    settings.setdefault("request_timeout_s", 10.0)
    store = Store.open(tmp_path / "store.sqlite3")
    service = BatchService(
        store,
        Settings(**settings),
        api_key="test-key",
        base_url=emulator.base_url,
        now=emulator.clock.now,
        sleep=sleep or FakeSleep(),
    )
    service._owns_store = True  # close() closes the store too
    return service


async def create_remote_batches(service: BatchService, n: int, size: int = 1) -> list[str]:
    """Create `n` batches directly on the server (as another tool would), `size` requests each."""
    api = service._api
    ids: list[str] = []
    for start in range(0, n, 50):
        chunk = await asyncio.gather(
            *(api.create(requests(size, prefix=f"x{i}")) for i in range(start, min(n, start + 50)))
        )
        ids.extend(b.id for b in chunk)
    return ids


def server_batch_count(emulator: EmulatorHandle) -> int:
    """How many batches exist on the emulator (via its own HTTP API, sync SDK)."""
    import anthropic

    client = anthropic.Anthropic(api_key="test-key", base_url=emulator.base_url, max_retries=0)
    try:
        return len(client.messages.batches.list(limit=1000).data)
    finally:
        client.close()
