"""The retry dialog on an OpenAI batch (Pilot, the OpenAI emulator through the `openai` SDK):
the chat answers cut at max_completion_tokens are offered (m) and resent with the new
budget in max_completion_tokens."""

from __future__ import annotations

import orjson
import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.service import BatchService
from screens_data import openai_cuts, retry_dialog, screen_text, wait_for
from textual.widgets import Input

pytest.importorskip("openai")
pytest.importorskip("batchtop.core.emulator.openai_api")


async def test_retry_dialog_resends_openai_cuts_with_a_new_budget(
    openai_live: BatchService, openai_emulator: EmulatorHandle
) -> None:
    from openai import OpenAI

    budgets = [("cut-1", 3), ("cut-2", 3), ("whole", 500)]
    batch_id = await openai_cuts(openai_live, openai_emulator, budgets)
    async with retry_dialog(openai_live, batch_id, "cuts") as (app, pilot):
        assert "Also resend the 2 max_completion_tokens cuts (m)" in screen_text(app)
        await pilot.press("m")
        app.screen.query_one("#retry-max-tokens", Input).value = "400"
        await wait_for(pilot, lambda: "Resend 2 requests" in screen_text(app), limit_s=20)
        await pilot.click("#yes")  # the focus is in the new max_tokens field
        await wait_for(
            pilot,
            lambda: any("Resent 2 requests" in str(n.message) for n in app._notifications),
            limit_s=20,
        )
    (child,) = [b for b in openai_live.batches() if b.parent_batch_id == batch_id]
    client = OpenAI(api_key="test-key", base_url=openai_emulator.base_url, max_retries=0)
    batch = client.batches.retrieve(child.id)
    lines = [
        orjson.loads(x) for x in client.files.content(batch.input_file_id).content.splitlines()
    ]
    assert {x["custom_id"]: x["body"]["max_completion_tokens"] for x in lines} == {
        "cut-1": 400,
        "cut-2": 400,
    }
    assert all("max_tokens" not in x["body"] for x in lines)
