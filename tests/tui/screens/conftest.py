"""Fixtures of the screen tests (results, export, import, compose)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # screens_data, imported by the test modules

from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.service import BatchService
from service_support import new_service


@pytest.fixture
async def live_service(emulator: EmulatorHandle, tmp_path: Path) -> AsyncIterator[BatchService]:
    """The real service on a fresh store, talking to the emulator through the SDK."""
    service = new_service(
        emulator, tmp_path / "live.sqlite3", settings=Settings(), sleep=asyncio.sleep
    )
    service.auto_download = False
    yield service
    await service.close()  # and its store


@pytest.fixture
async def openai_live(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> AsyncIterator[BatchService]:
    """An OpenAI service on a fresh store, talking to the OpenAI emulator through the
    official `openai` SDK."""
    from batchtop.core.store import Store

    service = BatchService(
        Store.open(tmp_path / "openai.sqlite3"),
        Settings(max_retries=0, request_timeout_s=10.0),
        api_key="test-key",
        base_url=openai_emulator.base_url,
        now=openai_emulator.clock.now,
        sleep=asyncio.sleep,
        provider="openai",
    )
    service._owns_store = True
    service.auto_download = False
    yield service
    await service.close()
