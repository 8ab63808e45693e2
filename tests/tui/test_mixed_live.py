"""`batchtop` (live) shows every provider whose key is set; `--provider` restricts it to one.

The real `run_app` against both emulators (keys and base URLs from the environment), the
app run headless until its dashboard has refreshed once."""

from __future__ import annotations

from typing import Any

import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.tui import app as app_module
from batchtop.tui.app import BatchtopApp
from textual.pilot import Pilot

pytest.importorskip("openai")


@pytest.fixture
def shown(
    monkeypatch: pytest.MonkeyPatch, emulator: EmulatorHandle, openai_emulator: EmulatorHandle
) -> list[tuple[tuple[str, ...], str]]:
    """(providers shown, the status line's `where`) of each app `run_app` ran."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", emulator.base_url)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_emulator.base_url)
    seen: list[tuple[tuple[str, ...], str]] = []
    run_async = BatchtopApp.run_async

    async def headless(self: BatchtopApp, **kw: Any) -> int | None:
        async def look(pilot: Pilot[Any]) -> None:
            status = self.dashboard.status
            for _ in range(400):  # until the first refresh of every provider is in
                if status.state.last_at is not None and self.fleet.api_calls >= 2:
                    break
                await pilot.pause(0.05)
            seen.append((self.fleet.providers, status.state.where))
            self.exit(0)

        return await run_async(self, headless=True, size=(120, 40), auto_pilot=look)

    monkeypatch.setattr(BatchtopApp, "run_async", headless)
    return seen


def test_every_provider_with_a_key(
    monkeypatch: pytest.MonkeyPatch, shown: list[tuple[tuple[str, ...], str]]
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "a-key")
    monkeypatch.setenv("OPENAI_API_KEY", "o-key")
    assert app_module.run_app() == 0
    ((providers, where),) = shown
    assert providers == ("anthropic", "openai")
    assert where.startswith("Anthropic 127.0.0.1")
    assert " + OpenAI 127.0.0.1" in where


def test_provider_option_restricts_to_one(
    monkeypatch: pytest.MonkeyPatch, shown: list[tuple[tuple[str, ...], str]]
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "a-key")
    monkeypatch.setenv("OPENAI_API_KEY", "o-key")
    assert app_module.run_app(provider="openai") == 0
    assert app_module.run_app(provider="anthropic") == 0
    assert [providers for providers, _ in shown] == [("openai",), ("anthropic",)]
    assert all("OpenAI" not in where and "Anthropic" not in where for _, where in shown)


def test_an_openai_key_alone_shows_openai(
    monkeypatch: pytest.MonkeyPatch, shown: list[tuple[tuple[str, ...], str]]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "o-key")
    assert app_module.run_app() == 0
    assert [providers for providers, _ in shown] == [("openai",)]
