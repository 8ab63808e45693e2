"""The import screen in an OpenAI session: an endpoint choice, OpenAI's rules, the batch
created for the chosen endpoint (OpenAI emulator, official `openai` SDK)."""

from __future__ import annotations

from pathlib import Path

import pytest
from batchtop.core.service import BatchService
from batchtop.tui.screens.importer import ImportScreen
from screens_data import ScreenHost, import_form, submit_confirmed, wait_for
from textual.widgets import Input, Select

pytest.importorskip("openai")


async def test_openai_import_with_an_endpoint_choice(
    openai_live: BatchService, tmp_path: Path
) -> None:
    path = tmp_path / "words.txt"
    path.write_text("the sea\nthe mountain\nthe river\n")
    service = openai_live
    async with import_form(service) as (app, pilot, screen):
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
        outcome = await submit_confirmed(pilot, app)
        (batch_id,) = outcome.batch_ids
        view = service.batch(batch_id)
        assert view is not None
        assert view.remote.endpoint == "/v1/embeddings"


async def test_anthropic_import_has_no_endpoint_choice(tmp_path: Path) -> None:
    from screens_data import offline_service

    service = offline_service(tmp_path)
    app = ScreenHost(lambda: ImportScreen(service))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert not list(app.screen.query("#import-endpoint"))
