"""Both keys rejected: the empty table says the key was refused, per provider (not "n
compose…"), and the status line names both providers at 80 columns, after the poller's
refreshes and after `r`. In a `--provider openai` session `P` says the session was started
that way, though ANTHROPIC_API_KEY is set.

The real `run_app` against both emulators (each accepting only another key), headless at
80x24, looked at once every provider's refresh has failed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.tui import app as app_module
from batchtop.tui.app import BatchtopApp
from textual.pilot import Pilot

pytest.importorskip("openai")

Look = Callable[[BatchtopApp, Pilot[Any]], Any]


def screen_text(app: Any) -> str:
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


@pytest.fixture
def run_with(
    monkeypatch: pytest.MonkeyPatch, emulator: EmulatorHandle, openai_emulator: EmulatorHandle
) -> Callable[[Look, str | None], None]:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", emulator.base_url)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_emulator.base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "a-wrong-key")
    monkeypatch.setenv("OPENAI_API_KEY", "o-wrong-key")
    for handle in (emulator, openai_emulator):
        handle.call(lambda h=handle: setattr(h.config, "api_keys", frozenset({"goodkey"})))
    run_async = BatchtopApp.run_async

    def run(look: Look, provider: str | None) -> None:
        async def headless(self: BatchtopApp, **kw: Any) -> int | None:
            async def auto(pilot: Pilot[Any]) -> None:
                try:
                    await look(self, pilot)
                finally:
                    self.exit(0)

            return await run_async(self, headless=True, size=(80, 24), auto_pilot=auto)

        monkeypatch.setattr(BatchtopApp, "run_async", headless)
        assert app_module.run_app(provider=provider) == 0

    return run


async def until(pilot: Pilot[Any], predicate: Callable[[], bool], tries: int = 600) -> bool:
    for _ in range(tries):
        if predicate():
            return True
        await pilot.pause(0.05)
    return False


def both_named(app: BatchtopApp) -> bool:
    """Both providers' failures are on the status line (what the test then checks)."""
    text = str(app.dashboard.status.render())
    return "Anthropic" in text.split("⚠", 1)[-1] and "OpenAI" in text.split("⚠", 1)[-1]


def test_both_keys_rejected_are_said_per_provider(run_with: Any) -> None:
    seen: dict[str, str] = {}

    async def look(app: BatchtopApp, pilot: Pilot[Any]) -> None:
        status = app.dashboard.status
        assert await until(pilot, lambda: app.fleet.api_calls >= 2 and status.state.error)
        await until(pilot, lambda: both_named(app), 100)  # both failures in (or not, then)
        await pilot.pause()
        seen["table"] = screen_text(app)
        seen["status"] = str(status.render())
        calls = app.fleet.api_calls
        await pilot.press("r")
        assert await until(pilot, lambda: not status.state.busy and app.fleet.api_calls > calls)
        await pilot.pause()
        seen["after r"] = str(status.render())

    run_with(look, None)
    table = seen["table"]
    assert "compose a batch by hand" not in table, table
    assert "the API refused the key" in table, table
    assert "Anthropic: The API key was rejected (401)" in table, table
    assert "OpenAI: The API key was rejected (401)" in table, table
    for when in ("status", "after r"):
        assert "API key rejected: Anthropic, OpenAI" in seen[when], (when, seen[when])


def test_p_in_a_provider_session_says_how_it_was_started(run_with: Any) -> None:
    said: list[str] = []

    async def look(app: BatchtopApp, pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press("P")
        await pilot.pause()
        said.extend(str(n.message) for n in app._notifications)

    run_with(look, "openai")
    assert any(
        "Only OpenAI batches are shown (this session was started with --provider openai)" in s
        for s in said
    ), said
