"""The dashboard's desktop notifications: a batch (here a one-batch job) ends while batchtop
runs, and the terminal receives the OSC 777 notification core worded, besides the toast."""

from __future__ import annotations

from batchtop.core.desktop_notify import Notifier
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.service import BatchService
from dashboard_support import AppFactory, Workspace, until


async def test_a_batch_ending_reaches_the_terminal(
    make_app: AppFactory, workspace: Workspace, service: BatchService, emulator: EmulatorHandle
) -> None:
    terminal: list[str] = []
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        assert app.notifier is None  # headless: nothing is sent unless a test asks
        app.notifier = Notifier(write=terminal.append, env={"TERM_PROGRAM": "WezTerm"})
        emulator.clock.advance(60)
        await service.refresh()
        assert await until(pilot, lambda: bool(terminal))
        await app.workers.wait_for_complete()
    [sequence] = terminal
    assert sequence.startswith("\x1b]777;notify;Job ended;eval run: 1,000 succeeded")
    assert sequence.endswith("\x07")
