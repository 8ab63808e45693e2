"""Compose flow against the emulator: two requests, live preview, validation, submit."""

from __future__ import annotations

import json

from batchtop.core.service import BatchService
from batchtop.tui.screens.compose import ComposeScreen, RequestEditor
from batchtop.tui.screens.confirm import ConfirmScreen
from screens_data import ScreenHost, screen_text, submit_confirmed, wait_for
from textual.widgets import Input, TextArea


async def test_compose_two_requests_preview_and_submit(live_service: BatchService) -> None:
    app = ScreenHost(lambda: ComposeScreen(live_service))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, ComposeScreen)
        await pilot.pause()
        await pilot.press(*"Say hello")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: len(screen.query(RequestEditor)) == 2)
        await pilot.pause()
        await pilot.press(*"Say bye")
        screen.query_one("#compose-max-tokens", Input).value = "32"
        screen.query_one("#compose-system", TextArea).text = "Be brief."
        await wait_for(
            pilot, lambda: screen.requests[-1]["params"]["messages"][0]["content"] == "Say bye"
        )
        await wait_for(pilot, lambda: screen.requests[0]["params"]["max_tokens"] == 32)
        await wait_for(pilot, lambda: screen.requests[0]["params"].get("system") == "Be brief.")
        expected = [
            {
                "custom_id": f"request-{n}",
                "params": {
                    "model": live_service.settings.resolved_default_model,
                    "max_tokens": 32,
                    "system": "Be brief.",
                    "messages": [{"role": "user", "content": text}],
                },
            }
            for n, text in ((1, "Say hello"), (2, "Say bye"))
        ]
        assert screen.requests == expected
        text = screen_text(app)
        assert '"custom_id": "request-2"' in text
        assert "2 requests, no problems found." in text
        screen.query_one("#compose-betas", Input).value = "files-api-2025-04-14"

        outcome = await submit_confirmed(pilot, app)
        [batch_id] = outcome.batch_ids
        await live_service.refresh()  # a list call: the emulator knows the batch
        view = live_service.batch(batch_id)
        assert view is not None
        assert view.remote.request_counts.total == 2
        assert view.betas == ("files-api-2025-04-14",)  # the job was created with them


async def test_invalid_extra_json_and_duplicate_ids_block_submit(
    live_service: BatchService,
) -> None:
    app = ScreenHost(lambda: ComposeScreen(live_service))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, ComposeScreen)
        await pilot.pause()
        await pilot.press(*"Hi")
        screen.query_one("#compose-extra", TextArea).text = '{"temperature": '
        await wait_for(pilot, lambda: bool(screen.form_errors))
        await pilot.pause()
        assert "not valid JSON" in screen_text(app)
        assert not screen.can_submit
        screen.query_one("#compose-extra", TextArea).text = '{"temperature": 0.2}'
        await wait_for(pilot, lambda: not screen.form_errors)
        assert screen.requests[0]["params"]["temperature"] == 0.2
        assert screen.can_submit
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: len(screen.query(RequestEditor)) == 2)
        second = list(screen.query(RequestEditor))[1]
        second.query_one(".request-id", Input).value = "request-1"
        second.query_one(".request-message", TextArea).text = "Hello again"
        await wait_for(pilot, lambda: any("used twice" in i.message for i in screen.issues))
        await pilot.pause()
        assert not screen.can_submit
        assert "used twice" in screen_text(app)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        body = json.loads(json.dumps({"requests": screen.requests}))
        assert len(body["requests"]) == 2


async def test_compose_at_80_columns_leaves_the_preview_room(live_service: BatchService) -> None:
    """At 80 columns the form's 72 left the validation and cost preview 4 columns wide
    ('Vali / dati / on'); the form now yields room below 110 columns, and takes its 72 above."""
    app = ScreenHost(lambda: ComposeScreen(live_service))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await pilot.pause()
        side = screen.query_one("#compose-side")
        form = screen.query_one("#compose-form")
        assert side.size.width >= 26
        assert form.size.width >= 40
        assert form.region.right <= side.region.x
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        assert form.outer_size.width == 72
