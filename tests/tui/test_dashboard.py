"""Pilot tests of the dashboard against the emulator (see conftest for the workspace)."""

from __future__ import annotations

from batchtop.core.service import BatchService
from batchtop.tui.screens.dashboard import DashboardScreen
from batchtop.tui.widgets.batches_table import BatchesTable
from dashboard_support import AppFactory, Workspace


def table_of(app: object) -> BatchesTable:
    return app.dashboard.table  # type: ignore[attr-defined, no-any-return]


def cell(table: BatchesTable, key: str, column: str) -> str:
    return table.get_cell(key, column).plain


async def test_shows_store_before_any_network(
    make_app: AppFactory, workspace: Workspace, service: BatchService
) -> None:
    calls = service.api_calls
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        table = table_of(app)
        assert set(table.keys) == {
            workspace.done,
            workspace.errors,
            workspace.running,
            workspace.hostile,
        }
        assert cell(table, workspace.running, "succeeded") == "300"
        assert cell(table, workspace.done, "status") == "ended"
    assert service.api_calls == calls
