"""SVG snapshots of `batchtop --demo` with both providers: the Provider column, the status
line naming both, fitted to common terminal sizes.

Deterministic by construction: the demo's clock stands still at a fixed instant (seeding
still moves its offset), both emulators' ids come from their fixed seed, nothing polls.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from batchtop.core import store as store_module
from batchtop.core.config import Settings
from batchtop.core.demo import Demo, DemoClock, open_demo
from batchtop.tui.app import BatchtopApp

pytest.importorskip("openai")

FROZEN = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
SETTINGS = Settings(notify_bell=False, desktop_notify=False)


@pytest.fixture
def mixed_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Demo]:
    """A started demo on a clock that does not move; closed after the test."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    counter = itertools.count(1)
    fake_uuid = SimpleNamespace(uuid4=lambda: uuid.UUID(int=next(counter) << 96))
    monkeypatch.setattr(store_module, "uuid", fake_uuid)  # job ids, as in seeded_store

    async def start() -> Demo:
        demo = await open_demo(SETTINGS, DemoClock(base=lambda: FROZEN))
        await demo.start()
        for service in demo.fleet.services:  # its downloads' API calls are counted on screen
            await service.wait_background()
        return demo

    loop = asyncio.new_event_loop()  # the demo's clients are closed on the loop they use
    try:
        demo = loop.run_until_complete(start())
        yield demo
        loop.run_until_complete(demo.close())
    finally:
        loop.close()


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (250, 70)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_mixed_demo_at_size(snap_compare: Any, mixed_demo: Demo, size: tuple[int, int]) -> None:
    app = BatchtopApp(mixed_demo.fleet, SETTINGS, poll=False, now=mixed_demo.now, demo=True)
    assert snap_compare(app, terminal_size=size)
