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
