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
from service_support import ServiceFactory, new_service


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
def openai_live(make_openai_service: ServiceFactory) -> BatchService:
    """An OpenAI service on a fresh store, talking to the OpenAI emulator through the
    official `openai` SDK (real sleeps, no automatic downloads; closed after the test)."""
    service = make_openai_service(sleep=asyncio.sleep)
    service.auto_download = False
    return service
