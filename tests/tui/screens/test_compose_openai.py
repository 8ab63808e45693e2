"""Compose for OpenAI (Pilot, the OpenAI emulator through the official `openai` SDK): the
endpoint choice, the body each endpoint takes, OpenAI's checks, and a submit that goes
through the journal and the input-file upload as an import's parts do."""

from __future__ import annotations

import orjson
import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import IntentState
from batchtop.core.service import BatchService
from batchtop.tui.screens.compose import ComposeScreen
from screens_data import ScreenHost, screen_text, submit_confirmed, wait_for
from textual.widgets import Input, Select, TextArea

pytest.importorskip("openai")
pytest.importorskip("batchtop.core.emulator.openai_api")


async def test_compose_responses_requests_and_submit(
    openai_live: BatchService, openai_emulator: EmulatorHandle
) -> None:
    from openai import OpenAI

    app = ScreenHost(lambda: ComposeScreen(openai_live))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, ComposeScreen)
        await pilot.pause()
        assert not screen.query("#compose-betas")  # Anthropic's header is not offered
        await pilot.press(*"Say hello")
        # No model typed: the default, OpenAI's cheapest current model (chosen from the
        # model and price data, openai_models.default_model), shown as the placeholder.
        model = screen.query_one("#compose-model", Input)
        assert model.placeholder == "gpt-6-luna"
        await wait_for(
            pilot, lambda: [r["params"]["model"] for r in screen.requests] == ["gpt-6-luna"]
        )
        await wait_for(pilot, lambda: not screen.issues)
        screen.query_one("#compose-endpoint", Select).value = "/v1/embeddings"
        await wait_for(pilot, lambda: model.placeholder == "")  # no text model for embeddings
        screen.query_one("#compose-endpoint", Select).value = "/v1/responses"
        screen.query_one("#compose-model", Input).value = "gpt-4o-mini"
        screen.query_one("#compose-max-tokens", Input).value = "64"
        screen.query_one("#compose-system", TextArea).text = "Be brief."
        expected = [
            {
                "custom_id": "request-1",
                "params": {
                    "model": "gpt-4o-mini",
                    "input": "Say hello",
                    "instructions": "Be brief.",
                    "max_output_tokens": 64,
                },
            }
        ]
        await wait_for(pilot, lambda: screen.requests == expected)
        await wait_for(pilot, lambda: not screen.issues)
        text = screen_text(app)
        assert '"url": "/v1/responses"' in text  # the preview is the input file's line
        assert "1 request, no problems found." in text

        outcome = await submit_confirmed(pilot, app)
    (batch_id,) = outcome.batch_ids
    # The journal: an intent written before the create, resolved by it.
    assert [i.state for i in openai_live.store.intents(outcome.job_id)] == [IntentState.SUBMITTED]
    view = openai_live.batch(batch_id)
    assert view is not None
    assert view.remote.submission_id is not None  # in the batch's metadata, for reconcile
    client = OpenAI(api_key="test-key", base_url=openai_emulator.base_url, max_retries=0)
    batch = client.batches.retrieve(batch_id)
    assert batch.endpoint == "/v1/responses"
    (line,) = client.files.content(batch.input_file_id).content.splitlines()
    assert orjson.loads(line) == {
        "custom_id": "request-1",
        "method": "POST",
        "url": "/v1/responses",
        "body": expected[0]["params"],
    }


async def test_compose_embeddings_checks_the_input(openai_live: BatchService) -> None:
    app = ScreenHost(lambda: ComposeScreen(openai_live, endpoint="/v1/embeddings"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, ComposeScreen)
        await pilot.pause()
        screen.query_one("#compose-model", Input).value = "text-embedding-3-small"
        await pilot.press("ctrl+n")  # a second request, left empty
        await pilot.press(*"the sea")
        await wait_for(  # every key typed has reached the form, then its check ran
            pilot,
            lambda: (
                len(screen.requests) > 1
                and screen.requests[1]["params"].get("input") == "the sea"
                and [(i.line, i.field) for i in screen.issues] == [(1, "body.input")]
            ),
        )
        assert screen.requests[1]["params"] == {
            "model": "text-embedding-3-small",
            "input": "the sea",
        }
        assert "is an empty string" in screen_text(app)
        assert not screen.can_submit


async def test_an_embeddings_compose_without_a_model_says_so(openai_live: BatchService) -> None:
    """Embeddings have no default model: the estimate said `no price for:` with nothing
    after it. It names what is missing instead (the model to type)."""
    app = ScreenHost(lambda: ComposeScreen(openai_live, endpoint="/v1/embeddings"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, ComposeScreen)
        await pilot.pause()
        assert screen.query_one("#compose-model", Input).placeholder == ""
        await pilot.press(*"the sea")
        await wait_for(pilot, lambda: bool(screen.requests))
        await pilot.pause()
        text = screen_text(app)
        assert "Cost estimate unknown  ·  no model given" in text
        assert "no price for:" not in text
