"""Server-side helpers for the service/poller/submit/results tests (not a test
module; the service itself comes from the `make_service` fixture, see service_support.py)."""

from __future__ import annotations

import asyncio

from batchtop.core.emulator import EmulatorHandle
from batchtop.core.service import BatchService
from data_factory import requests


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
