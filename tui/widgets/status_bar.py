"""The bottom status line: refresh cadence, last/next refresh, API calls, pause, errors, the
first listing's progress and how many batches the workspace has."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from batchtop.core.models import ListingProgress, RefreshDone, RefreshFailed
from rich.text import Text
from textual.widget import Widget

from ..format import clock, duration, seconds_until
from ..safe_text import clean
from ..words import quantity

ERROR_TITLES = {
    "auth": "API key rejected",
    "offline": "offline",
    "rate_limited": "rate limited",
    "server": "API error",
    "other": "refresh failed",
}


@dataclass(frozen=True, slots=True)
class RefreshState:
    interval_s: float
    last_at: datetime | None = None
    next_at: datetime | None = None
    idle: bool = False  # nothing active: the next refresh comes at the idle interval
    api_calls: int = 0
    active: int = 0
    paused: bool = False
    busy: bool = False
    error: RefreshFailed | None = None
    error_at: datetime | None = None
    listing: ListingProgress | None = None  # the first listing, while it runs
    total: int | None = None  # batches of the workspace known locally
    listing_complete: bool = True
    where: str = ""  # the endpoint and workspace shown (WorkspaceInfo.label)


class StatusBar(Widget):
    """Renders a `RefreshState`; `tick()` once a second keeps the countdowns moving."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    """

    def __init__(
        self, interval_s: float, now: Callable[[], datetime], *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self._now = now
        self.state = RefreshState(interval_s=interval_s)

    def set_state(self, **changes: object) -> None:
        self.state = replace(self.state, **changes)  # type: ignore[arg-type]
        self.refresh()

    def done(self, event: RefreshDone) -> None:
        next_at = event.at + timedelta(seconds=event.next_in_s) if event.next_in_s else None
        self.set_state(
            last_at=event.at,
            next_at=next_at,
            idle=event.idle,
            api_calls=event.api_calls_total,
            active=event.active,
            error=None,
            error_at=None,
            busy=False,
            listing=None,
            total=event.total,
            listing_complete=event.listing_complete,
        )

    def listed(self, event: ListingProgress) -> None:
        """A page of the first listing was stored."""
        self.set_state(listing=None if event.complete else event, total=event.total)

    def failed(self, event: RefreshFailed) -> None:
        self.set_state(error=event, error_at=self._now(), busy=False)

    def tick(self) -> None:
        self.refresh()

    def render(self) -> Text:
        s = self.state
        now = self._now()
        out = Text(no_wrap=True, overflow="ellipsis", end="")
        out.append(f"⟳ every {duration(s.interval_s)}")
        out.append(f" · last {clock(s.last_at)}" if s.last_at else " · never refreshed")
        if s.busy:
            out.append(" · refreshing…", style="bold")
        elif s.paused:
            out.append(" · ")
            out.append("⏸ PAUSED", style="reverse")
        elif s.next_at is not None:
            idle = " · idle (nothing active), next" if s.idle else " · next"
            out.append(f"{idle} in {duration(seconds_until(s.next_at, now))}")
        out.append(f" · {quantity(s.api_calls, 'API call')}")
        out.append(f" · {s.active:,} active")
        if s.listing is not None:
            out.append(f" · first sync: {s.listing.total:,} batches listed…", style="bold")
        elif s.total is not None and not s.listing_complete:
            out.append(f" · at least {s.total:,} batches (listing unfinished)")
        if s.where:
            out.append(f" · {clean(s.where, keep_newlines=False)}")
        if s.error is not None:
            out.append(" · ")
            title = ERROR_TITLES.get(s.error.kind, "error")
            if s.error.kind == "auth" and s.error.message.startswith("No API key"):
                title = "no API key"
            out.append(f"⚠ {title}", style="bold reverse")
            if s.error.retry_in_s is not None and s.error_at is not None:
                retry_at = s.error_at + timedelta(seconds=s.error.retry_in_s)
                out.append(f" — retrying in {duration(seconds_until(retry_at, now))}")
            out.append(f": {clean(s.error.message, keep_newlines=False)}")
        return out
