"""Fixtures for the dashboard tests: a real service on the emulator, a seeded workspace.

Batches are created through `BatchService.submit_requests` against the emulator (seed fixed,
ManualClock), so ids, times and counters are the same on every run. The app is built with
`poll=False`: tests drive refreshes themselves, and nothing runs on a timer they don't see.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from batchtop.core import store as store_module
from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.service import BatchService
from batchtop.tui.app import BatchtopApp
from dashboard_support import (
    OPENAI_SETTINGS,
    SETTINGS,
    Workspace,
    close_service,
    make_service,
    seed_workspace,
)
from service_support import ServiceFactory
from textual.widgets import Input


@pytest.fixture(autouse=True)
def _no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor makes screenshots differ from run to run."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)


@pytest.fixture
async def service(emulator: EmulatorHandle, tmp_path: Path) -> AsyncIterator[BatchService]:
    svc = make_service(tmp_path / "store.sqlite3", emulator)
    yield svc
    await close_service(svc)


@pytest.fixture
def openai_service(make_openai_service: ServiceFactory) -> BatchService:
    """An OpenAI service on the OpenAI emulator (the official `openai` SDK) for a dashboard
    test: `OPENAI_SETTINGS`, real sleeps, a fresh store; closed after the test."""
    return make_openai_service(settings=OPENAI_SETTINGS, sleep=asyncio.sleep)


@pytest.fixture
async def workspace(service: BatchService, emulator: EmulatorHandle) -> Workspace:
    return await seed_workspace(service, emulator)


@pytest.fixture
def make_app(service: BatchService, emulator: EmulatorHandle) -> Callable[..., BatchtopApp]:
    def build(settings: Settings = SETTINGS, **kw: Any) -> BatchtopApp:
        kw.setdefault("poll", False)
        kw.setdefault("now", emulator.clock.now)
        return BatchtopApp(service, settings, **kw)

    return build


@pytest.fixture
def seeded_store(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Workspace]:
    """For sync snapshot tests: a store seeded in its own loop, closed before the app opens it.

    Job ids are random in the store; here they come from a counter so screenshots that show
    them (or sort by them) are the same on every run.
    """
    path = tmp_path / "seeded.sqlite3"
    counter = itertools.count(1)
    fake_uuid = SimpleNamespace(uuid4=lambda: uuid.UUID(int=next(counter) << 96))
    monkeypatch.setattr(store_module, "uuid", fake_uuid)

    async def seed() -> Workspace:
        svc = make_service(path, emulator)
        try:
            return await seed_workspace(svc, emulator)
        finally:
            await close_service(svc)

    return path, asyncio.run(seed())
