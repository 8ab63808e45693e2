"""A data directory every user can read: the app says so when it starts (issue 13.14)."""

from __future__ import annotations

from pathlib import Path

from batchtop.core.emulator import EmulatorHandle
from batchtop.tui.app import BatchtopApp
from dashboard_support import SETTINGS, close_service, make_service


async def test_world_readable_store_dir_is_announced(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    service = make_service(shared / "store.sqlite3", emulator)
    app = BatchtopApp(service, SETTINGS, poll=False, now=emulator.clock.now)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            shown = [n.message for n in app._notifications]
            assert any("readable by every user" in m and str(shared) in m for m in shown), shown
    finally:
        await close_service(service)
    assert shared.stat().st_mode & 0o777 == 0o755  # told, not changed
