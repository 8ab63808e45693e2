"""The status bar's words, rendered from the events the service emits (no app needed)."""

from __future__ import annotations

from datetime import UTC, datetime

from batchtop.core.models import RefreshDone
from batchtop.tui.widgets.status_bar import StatusBar

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def _bar() -> StatusBar:
    return StatusBar(30.0, lambda: NOW)


def test_idle_shows_when_the_next_refresh_comes() -> None:
    bar = _bar()
    bar.done(
        RefreshDone(
            at=NOW, api_calls_total=1, api_calls_last=1, active=0, next_in_s=120.0, idle=True
        )
    )
    text = bar.render().plain
    assert "idle (nothing active), next in 2m00s" in text


def test_active_shows_the_active_countdown() -> None:
    bar = _bar()
    bar.done(RefreshDone(at=NOW, api_calls_total=2, api_calls_last=1, active=3, next_in_s=30.0))
    text = bar.render().plain
    assert "next in 30s" in text
    assert "idle" not in text


WORKSPACE = "127.0.0.1 · wrkspc_01x9WuKu3K5eqR14QyB9Aza4"


async def test_the_workspace_is_not_cut_at_80_columns() -> None:
    """An idle dashboard at 80 columns: the line is too long for everything, so the least
    useful parts make room (the cadence, the call count, the active count, then the idle
    wording), and the workspace stays whole at the end."""
    from textual.app import App, ComposeResult

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield StatusBar(30.0, lambda: NOW, id="status")

    app = Host()
    async with app.run_test(size=(80, 5)) as pilot:
        bar = app.query_one(StatusBar)
        bar.done(
            RefreshDone(
                at=NOW, api_calls_total=10, api_calls_last=1, active=0, next_in_s=120.0, idle=True
            )
        )
        bar.set_state(where=WORKSPACE)
        await pilot.pause()
        text = bar.render().plain
        assert text.endswith(WORKSPACE), text
        assert len(text) <= 78  # 80 columns less the bar's padding
        assert "last 12:00:00" in text
        assert "next in 2m00s" in text
        wide = bar.render()
    async with Host().run_test(size=(200, 5)) as pilot:
        bar = pilot.app.query_one(StatusBar)
        bar.done(
            RefreshDone(
                at=NOW, api_calls_total=10, api_calls_last=1, active=0, next_in_s=120.0, idle=True
            )
        )
        bar.set_state(where=WORKSPACE)
        await pilot.pause()
        text = bar.render().plain  # room for everything: everything is said
        assert "every 30s" in text
        assert "10 API calls" in text
        assert "idle (nothing active), next in 2m00s" in text
        assert text.endswith(WORKSPACE)
    assert wide.plain != text


def test_a_long_error_ends_with_an_ellipsis_after_the_workspace() -> None:
    from batchtop.tui.widgets.status_bar import KEEP, Part, fit_parts
    from rich.text import Text

    parts = [
        Part(Text("every 30s"), 1),
        Part(Text(WORKSPACE), KEEP),
        Part(Text("⚠ API error: " + "overloaded " * 10), KEEP),
    ]
    text = fit_parts(parts, 70).plain
    assert "every 30s" not in text
    assert WORKSPACE in text
    assert text.endswith("…")
    assert len(text) == 70


def test_parts_come_back_when_the_workspaces_short_form_leaves_room() -> None:
    """Two providers at 80 columns: the workspaces' long form does not fit, its short form
    ("Anthropic + OpenAI") does; the refresh parts dropped on the way come back (the line
    read only "⟳ Anthropic + OpenAI" before), the most important first."""
    from batchtop.tui.widgets.status_bar import KEEP, Part, fit_parts
    from rich.text import Text

    both = "Anthropic 127.0.0.1 · wrkspc_013DAPVeg2SG2y5gziJwnaab + OpenAI 127.0.0.1 · proj_6oxb"
    parts = [
        Part(Text("every 5s"), 1),
        Part(Text("last 14:58:20"), 5),
        Part(Text("next in 4s"), 4),
        Part(Text("4 API calls"), 2),
        Part(Text("6 active"), 3),
        Part(Text(both), KEEP, Text("Anthropic + OpenAI")),
    ]
    text = fit_parts(parts, 78).plain
    assert text.endswith("Anthropic + OpenAI")
    assert "last 14:58:20 · next in 4s · 4 API calls · 6 active" in text
    assert len(text) <= 78
    narrow = fit_parts(parts, 50).plain  # less room: the least important stay out
    assert narrow.endswith("Anthropic + OpenAI")
    assert "last 14:58:20" in narrow
    assert "every 5s" not in narrow
    assert len(narrow) <= 50
