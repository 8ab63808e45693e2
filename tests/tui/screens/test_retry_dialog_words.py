"""The retry dialog on an OpenAI batch whose answers were cut and none failed: it says what
the CLI says (core's one sentence: the batch has no failed requests), and the new budget's
field is wide enough to show what is typed, on a narrow and a wide terminal."""

from __future__ import annotations

import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.service import BatchService
from screens_data import openai_cuts, retry_dialog, screen_text, wait_for
from textual.widgets import Input

pytest.importorskip("openai")
pytest.importorskip("batchtop.core.emulator.openai_api")


@pytest.mark.parametrize("size", [(80, 24), (250, 70)])
async def test_retry_dialog_of_cuts_without_failures(
    openai_live: BatchService, openai_emulator: EmulatorHandle, size: tuple[int, int]
) -> None:
    batch_id = await openai_cuts(openai_live, openai_emulator, [("cut-1", 3), ("whole", 500)])
    async with retry_dialog(openai_live, batch_id, "cuts", size) as (app, pilot):
        text = screen_text(app)
        assert "has no failed requests" in " ".join(text.split()), text
        assert "None of the failed requests" not in text
        await pilot.press("m")
        field = app.screen.query_one("#retry-max-tokens", Input)
        field.value = "123456"
        await wait_for(pilot, lambda: "Resend 1 request" in screen_text(app), limit_s=20)
        await pilot.pause()
        assert field.content_region.width >= len("123456") + 2, field.content_region
        assert "123456" in screen_text(app)
