"""The first refresh learns which workspace the key is in and switches to that workspace's
store. What runs meanwhile on the event loop (a screen drawing the status line, the other
provider's events) or in a worker thread must never meet a closed store: the dashboard
crashed on `The store is closed.` when one provider's events arrived while the other
provider's service was switching."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.errors import UserError
from batchtop.core.service import BatchService
from batchtop.core.store import Store
from waiting import async_wait

WS_A = "wrkspc_01AAAAAAAAAAAAAAAAAAAAAA"


async def test_a_store_switch_never_shows_a_closed_store(
    emulator_factory: Callable[..., EmulatorHandle], monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = emulator_factory(key_workspaces={"key-a": WS_A})
    monkeypatch.setenv("ANTHROPIC_API_KEY", "key-a")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", emulator.base_url)
    service = await BatchService.open(now=emulator.clock.now, sleep=asyncio.sleep)
    first = service.store
    assert service.scope().workspace_id is None  # not named by the API yet
    opening, go = threading.Event(), threading.Event()
    real_open = Store.open

    def held_open(path: Path | None = None, **kw: Any) -> Store:
        if WS_A in str(path):  # the workspace's store: held while the test looks
            opening.set()
            go.wait(60)
        return real_open(path, **kw)

    monkeypatch.setattr(Store, "open", held_open)
    try:
        refresh = asyncio.create_task(service.refresh())
        await async_wait(opening.is_set, 60, "the workspace's store being opened")
        # meanwhile: the status line's label and a read for a screen
        assert service.scope().workspace_id is None
        assert service.store is first
        assert await asyncio.to_thread(first.list_batches, limit=1) == []
        go.set()
        await refresh
    finally:
        go.set()
        monkeypatch.undo()
    try:
        assert service.store is not first
        assert WS_A in str(service.store.path)
        assert service.scope().workspace_id == WS_A
        with pytest.raises(UserError, match="closed"):
            first.list_batches(limit=1)  # the first store is closed once it was replaced
    finally:
        await service.close()
