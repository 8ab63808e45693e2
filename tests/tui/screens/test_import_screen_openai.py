"""The import screen in an OpenAI session: an endpoint choice, OpenAI's rules, the batch
created for the chosen endpoint (OpenAI emulator, official `openai` SDK)."""

from __future__ import annotations

from pathlib import Path

import pytest
from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import SubmitOutcome
from batchtop.core.service import BatchService
from batchtop.core.store import Store
from batchtop.tui.screens.confirm import ConfirmScreen
from batchtop.tui.screens.importer import ImportScreen
from screens_data import ScreenHost, wait_for
from textual.widgets import Input, Select

pytest.importorskip("openai")


async def test_openai_import_with_an_endpoint_choice(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    path = tmp_path / "words.txt"
    path.write_text("the sea\nthe mountain\nthe river\n")
    service = BatchService(
        Store.open(tmp_path / "s.sqlite3"),
        Settings(max_retries=0, request_timeout_s=10.0),
        api_key="test-key",
        base_url=openai_emulator.base_url,
        now=openai_emulator.clock.now,
        provider="openai",
    )
    service._owns_store = True
    app = ScreenHost(lambda: ImportScreen(service))
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            screen = app.screen
            assert isinstance(screen, ImportScreen)
            endpoint = screen.query_one("#import-endpoint", Select)
            assert endpoint.value == "/v1/chat/completions"
            endpoint.value = "/v1/embeddings"
            screen.query_one("#import-path", Input).value = str(path)
            screen.query_one("#import-model", Input).value = "text-embedding-3-small"
            await pilot.pause()
            previous = screen.report
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: screen.report is not previous and not screen.busy)
            report = screen.report
            assert report is not None
            assert report.ok, report.issues
            assert report.request_count == 3
            assert report.preview[0]["params"] == {
                "model": "text-embedding-3-small",
                "input": "the sea",
            }
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await wait_for(pilot, lambda: bool(app.dismissed), limit_s=20)
            outcome = app.dismissed[0]
            assert isinstance(outcome, SubmitOutcome)
            (batch_id,) = outcome.batch_ids
            view = service.batch(batch_id)
            assert view is not None
            assert view.remote.endpoint == "/v1/embeddings"
    finally:
        await service.close()


async def test_anthropic_import_has_no_endpoint_choice(tmp_path: Path) -> None:
    from screens_data import offline_service

    service = offline_service(tmp_path)
    app = ScreenHost(lambda: ImportScreen(service))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert not list(app.screen.query("#import-endpoint"))
