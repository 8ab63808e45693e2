"""The title counts what the table shows as what it is: in the jobs view, its job rows and
its batch rows apart (the sum of both read as a number of batches: '74 shown' for 42)."""

from __future__ import annotations

import io

from dashboard_support import AppFactory, Workspace
from rich.console import Console


def title(app: object) -> str:
    console = Console(width=300, file=io.StringIO(), record=True)
    console.print(app.screen.query_one("#title-bar").content)  # type: ignore[attr-defined]
    return console.export_text()


async def test_jobs_view_counts_jobs_and_batches(
    make_app: AppFactory, workspace: Workspace
) -> None:
    app = make_app()
    async with app.run_test(size=(250, 40)) as pilot:
        await pilot.pause()
        assert "4 shown" in title(app)  # four batches
        await pilot.press("5")
        await pilot.pause()
        assert "4 jobs · 4 batches shown" in title(app), title(app)
        assert "8 shown" not in title(app)
