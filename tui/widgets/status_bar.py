"""The bottom status line: refresh cadence, last/next refresh, API calls, pause, errors, the
first listing's progress and how many batches the workspace has."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from batchtop.core.models import ListingProgress, RefreshDone, RefreshFailed, provider_name
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
    # every provider's standing failure (several providers shown: one each), `error` last
    errors: tuple[RefreshFailed, ...] = ()
    listing: ListingProgress | None = None  # the first listing, while it runs
    total: int | None = None  # batches of the workspace known locally
    listing_complete: bool = True
    where: str = ""  # the endpoint and workspace shown (WorkspaceInfo.label, each provider's)
    where_short: str = ""  # what `where` becomes on a narrow line ("" : it stays whole)


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
            errors=(),
            busy=False,
            listing=None,
            total=event.total,
            listing_complete=event.listing_complete,
        )

    def listed(self, event: ListingProgress) -> None:
        """A page of the first listing was stored."""
        self.set_state(listing=None if event.complete else event, total=event.total)

    def failed(self, event: RefreshFailed) -> None:
        others = tuple(
            e for e in self.state.errors if e.provider is not None and e.provider != event.provider
        )
        self.set_state(error=event, error_at=self._now(), busy=False, errors=(*others, event))

    def tick(self) -> None:
        self.refresh()

    def render(self) -> Text:
        return fit_parts(self._parts(), self.content_size.width)

    def _parts(self) -> list[Part]:
        """What the line says, each part with how much it matters when the line is too narrow
        (see `fit_parts`): the workspace and an error are never dropped."""
        s = self.state
        now = self._now()
        parts = [Part(Text(f"every {duration(s.interval_s)}"), 1)]
        parts.append(
            Part(Text(f"last {clock(s.last_at)}"), 5)
            if s.last_at
            else Part(Text("never refreshed"), 5)
        )
        if s.busy:
            parts.append(Part(Text("refreshing…", style="bold"), 6))
        elif s.paused:
            parts.append(Part(Text("⏸ PAUSED", style="reverse"), 8))
        elif s.next_at is not None:
            left = duration(seconds_until(s.next_at, now))
            idle = "idle (nothing active), next" if s.idle else "next"
            parts.append(Part(Text(f"{idle} in {left}"), 4, Text(f"next in {left}")))
        parts.append(Part(Text(quantity(s.api_calls, "API call")), 2))
        parts.append(Part(Text(f"{s.active:,} active"), 3))
        if s.listing is not None:
            text = f"first sync: {s.listing.total:,} batches listed…"
            parts.append(Part(Text(text, style="bold"), 7))
        elif s.total is not None and not s.listing_complete:
            parts.append(Part(Text(f"at least {s.total:,} batches (listing unfinished)"), 7))
        if s.where:
            short = Text(clean(s.where_short, keep_newlines=False)) if s.where_short else None
            parts.append(Part(Text(clean(s.where, keep_newlines=False)), KEEP, short))
        if len(s.errors) > 1:  # several providers failing: each named, briefly
            parts.append(Part(_several(s.errors), KEEP))
        elif s.error is not None:
            title = ERROR_TITLES.get(s.error.kind, "error")
            if s.error.kind == "auth" and s.error.message.startswith("No API key"):
                title = "no API key"
            out = Text()
            out.append(f"⚠ {title}", style="bold reverse")
            if s.error.retry_in_s is not None and s.error_at is not None:
                retry_at = s.error_at + timedelta(seconds=s.error.retry_in_s)
                out.append(f" — retrying in {duration(seconds_until(retry_at, now))}")
            out.append(f": {clean(s.error.message, keep_newlines=False)}")
            parts.append(Part(out, KEEP))
        return parts


def _title(error: RefreshFailed) -> str:
    if error.kind == "auth" and "No API key" in error.message:
        return "no API key"
    return ERROR_TITLES.get(error.kind, "error")


def _several(errors: tuple[RefreshFailed, ...]) -> Text:
    """`⚠ API key rejected: Anthropic, OpenAI` (one title when they agree, else each's)."""
    errors = tuple(sorted(errors, key=lambda e: e.provider or ""))  # the same order each time
    titles = {_title(e) for e in errors}
    out = Text()
    if len(titles) == 1:
        out.append(f"⚠ {titles.pop()}", style="bold reverse")
        out.append(": " + ", ".join(provider_name(e.provider or "") for e in errors))
        return out
    out.append("⚠", style="bold reverse")
    out.append(" " + ", ".join(f"{provider_name(e.provider or '')} {_title(e)}" for e in errors))
    return out


#: a part with this weight is never dropped (the workspace, an error)
KEEP = 100
_SEPARATOR = " · "
_PREFIX = "⟳ "


@dataclass(frozen=True, slots=True)
class Part:
    """One part of the status line; `weight`: the lower, the sooner it makes room; `short`:
    what it says before it goes altogether."""

    text: Text
    weight: int
    short: Text | None = None


def fit_parts(parts: list[Part], width: int) -> Text:
    """The parts joined by ` · ` within `width` cells (0: unknown, everything): the lightest
    part is shortened (if it has a short form) or dropped, then the next, until the line fits;
    what still does not fit (a long error) ends with an ellipsis."""
    shown: list[Text | None] = [p.text for p in parts]

    def line() -> Text:
        out = Text(_PREFIX, no_wrap=True, overflow="ellipsis", end="")
        out.append_text(Text(_SEPARATOR).join(t for t in shown if t is not None))
        return out

    order = sorted(range(len(parts)), key=lambda i: parts[i].weight)
    steps = [(i, parts[i].short) for i in order if parts[i].short is not None]
    steps += [(i, None) for i in order if parts[i].weight < KEEP]
    steps.sort(key=lambda step: (parts[step[0]].weight, step[1] is None))
    for i, replacement in steps:
        if width <= 0 or line().cell_len <= width:
            break
        shown[i] = replacement
    # A part shortened late (the workspaces' short form) can leave room for parts dropped
    # before it: they come back, the most important first, whole or short, where they fit.
    for i in sorted(range(len(parts)), key=lambda i: -parts[i].weight):
        if width <= 0 or shown[i] is not None:
            continue
        for candidate in (parts[i].text, parts[i].short):
            if candidate is None:
                continue
            shown[i] = candidate
            if line().cell_len <= width:
                break
            shown[i] = None
    out = line()
    if width > 0 and out.cell_len > width:
        out.truncate(width, overflow="ellipsis")
    return out
