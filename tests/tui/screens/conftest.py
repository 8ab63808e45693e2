"""Fixtures of the screen tests (results, export, import, compose)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # screens_data, imported by the test modules

from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.service import BatchService
from batchtop.core.store import Store


@pytest.fixture
async def live_service(emulator: EmulatorHandle, tmp_path: Path) -> AsyncIterator[BatchService]:
    """The real service on a fresh store, talking to the emulator through the SDK."""
    store = Store.open(tmp_path / "live.sqlite3")
    service = BatchService(
        store,
        Settings(),
        api_key="test-key",
        base_url=emulator.base_url,
        now=emulator.clock.now,
    )
    service.auto_download = False
    try:
        yield service
    finally:
        await service.close()
        store.close()
