"""The first refresh learns which workspace the key is in and switches to that workspace's
store (the first start's store is closed, moved and opened there). What a screen draws
meanwhile on the event loop (the status line, when the other provider's events arrive)
must not read the closed store: the dashboard crashed on `The store is closed.`"""

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


async def test_what_a_screen_draws_during_a_store_switch_reads_no_closed_store(
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
        # meanwhile: the status line's label, while the first store is closed
        with pytest.raises(UserError, match="closed"):
            first.list_batches(limit=1)
        assert service.scope().workspace_id is None
        go.set()
        await refresh
    finally:
        go.set()
        monkeypatch.undo()
    try:
        assert service.store is not first
        assert WS_A in str(service.store.path)
        assert service.scope().workspace_id == WS_A
    finally:
        await service.close()
