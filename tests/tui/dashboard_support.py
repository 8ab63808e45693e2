"""Seeding helpers for the dashboard tests (imported by conftest and by the tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle, Rule
from batchtop.core.service import BatchService
from data_factory import request
from service_support import new_service
from textual.pilot import Pilot

SETTINGS = Settings(notify_bell=False)
OPENAI_SETTINGS = Settings(
    notify_bell=False, desktop_notify=False, max_retries=0, request_timeout_s=10.0
)
"""The OpenAI dashboard tests' settings: their app's and their service's (`openai_service`)."""
HOSTILE_LABEL = "[bold red]x[/] \x1b[31mred\x1b[0m"


@dataclass
class Workspace:
    """Ids of the seeded batches, by role."""

    done: str  # ended, all succeeded
    errors: str  # ended, 4 of 10 errored
    running: str  # in progress, 300 of 1000 done
    hostile: str  # in progress, label full of markup and escape codes


def make_service(
    store_path: Path, emulator: EmulatorHandle, settings: Settings = SETTINGS
) -> BatchService:
    """The dashboard's service: its settings, real sleeps, no automatic downloads."""
    service = new_service(emulator, store_path, settings=settings, sleep=asyncio.sleep)
    service.auto_download = False  # downloads would race the assertions
    return service


async def close_service(service: BatchService) -> None:
    await service.close()  # and its store


async def seed_workspace(service: BatchService, emulator: EmulatorHandle) -> Workspace:
    """Four batches in different states; the emulator processes 100 requests/emulated s."""
    emulator.set_rules(
        [
            Rule(
                pattern="^bad-",
                outcome="errored",
                error_type="api_error",
                error_message="Internal server error",
            )
        ]
    )
    done = await service.submit_requests(
        [request(f"art-{i:03d}") for i in range(20)], name="summaries", label="nightly summaries"
    )
    errors = await service.submit_requests(
        [request(f"bad-{i}") for i in range(4)] + [request(f"ok-{i}") for i in range(6)],
        name="classify",
        label="classify tickets",
    )
    emulator.clock.advance(60)
    running = await service.submit_requests(
        [request(f"eval-{i:04d}") for i in range(1000)], name="eval", label="eval run"
    )
    hostile = await service.submit_requests([request("h-1"), request("h-2")], name="hostile")
    # into the store directly: set_label refuses control characters, but a store kept from
    # before may hold them, and the dashboard shows them inert
    service.store.set_label(hostile.batch_ids[0], HOSTILE_LABEL)
    for _ in range(3):  # three refreshes a second apart: a history for sparkline and ETA
        emulator.clock.advance(1)
        await service.refresh()
    return Workspace(
        done=done.batch_ids[0],
        errors=errors.batch_ids[0],
        running=running.batch_ids[0],
        hostile=hostile.batch_ids[0],
    )


AppFactory = Callable[..., Any]


async def until(pilot: Pilot[Any], condition: Callable[[], bool], tries: int = 100) -> bool:
    """Wait for a condition by pausing the app between checks (bounded, no fixed sleep)."""
    for _ in range(tries):
        if condition():
            return True
        await pilot.pause(0.05)
    return condition()


async def type_at_once(pilot: Pilot[Any], *keys: str) -> None:
    """Queue every key before the app handles the first, as a fast typist or a paste does
    (`pilot.press` lets the app settle after each key, which hides focus races)."""
    from textual import events

    for key in keys:
        char = key if len(key) == 1 else None
        pilot.app.post_message(events.Key(key, char))
    await pilot.pause()
