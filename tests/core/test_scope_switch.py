"""The first refresh learns which workspace the key is in and switches to that workspace's
store (the first start's store is closed, moved and opened there). What the front ends read
on the event loop meanwhile — the status line's label, and every provider's batches, which
the dashboard reloads when one provider's events arrive — must never meet the closed store:
the dashboard crashed on `The store is closed.` when the other provider was switching."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.errors import UserError
from batchtop.core.service import BatchService

WS_A = "wrkspc_01AAAAAAAAAAAAAAAAAAAAAA"


async def test_what_the_loop_reads_during_a_store_switch_never_meets_a_closed_store(
    emulator_factory: Callable[..., EmulatorHandle], monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = emulator_factory(key_workspaces={"key-a": WS_A})
    monkeypatch.setenv("ANTHROPIC_API_KEY", "key-a")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", emulator.base_url)
    service = await BatchService.open(now=emulator.clock.now, sleep=asyncio.sleep)
    first = service.store
    assert service.scope().workspace_id is None  # not named by the API yet
    errors: list[str] = []
    reads = 0
    switched = asyncio.Event()

    async def draw_meanwhile() -> None:  # what the dashboard reads, each turn of the loop
        nonlocal reads
        while not switched.is_set():
            try:
                service.scope()
                service.batches("all")
                reads += 1
            except UserError as exc:
                errors.append(str(exc))
            await asyncio.sleep(0)

    drawing = asyncio.create_task(draw_meanwhile())
    try:
        await service.refresh()
    finally:
        switched.set()
        await drawing
    try:
        assert service.store is not first
        assert WS_A in str(service.store.path)
        assert service.scope().workspace_id == WS_A
        assert reads > 0
        assert errors == []
        with pytest.raises(UserError, match="closed"):
            first.list_batches(limit=1)
    finally:
        await service.close()
