"""Turning batches and jobs into dashboard table cells (pure functions, cached per batch).

Cells are built once per version of a batch (`BatchView` is frozen, so a changed batch is a
new object); only the two time cells are recomputed as the clock moves, and they too are the
same objects while their text is unchanged. The table draws only the rows on screen and
reuses a drawn line while its cells are the same objects, so this identity is its cache key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from batchtop.core.costs import batch_cost, total_cost
from batchtop.core.models import BatchView, Job, RequestCounts, provider_name
from batchtop.core.providers.ids import shown_id, shown_id_chars
from rich.text import Text
from textual.cache import LRUCache

from ..format import (
    age,
    bar,
    cost_text,
    count_fraction,
    label_cell,
    status_label,
    time_left,
)
from ..safe_text import safe_text
from ..widgets.batches_table import Column
from ..words import quantity

View = Literal["all", "active", "ended", "errors", "jobs"]
VIEWS: dict[View, str] = {
    "all": "All",
    "active": "Active",
    "ended": "Ended",
    "errors": "With errors",
    "jobs": "Jobs",
}
SHORT_VIEWS: dict[View, str] = {**VIEWS, "errors": "Errors"}  # for narrow terminals

ID_CHARS = shown_id_chars()
"""The ID column's widest on a wide table: the default provider's ids as shown (core's
`providers.ids` says what of an id is shown); `columns` widens it to the widest shown id of
the providers on screen, so no shown id is cut."""
COLUMNS: tuple[Column, ...] = (
    # `hide`: on a narrow terminal the highest goes first (label, status, progress stay);
    # even ranks, so that a column shown only sometimes (`PROVIDER_COLUMN`) fits between
    Column("label", "Label", 18, grow="fill"),
    Column("id", "ID", 12, hide=12, grow="full", max_width=ID_CHARS, cut="middle"),
    Column("status", "Status", 11),
    Column("progress", "Progress", 15, grow=""),
    Column("processing", "Proc", 7, "right", hide=16),
    Column("succeeded", "OK", 7, "right", hide=10),
    Column("errored", "Err", 7, "right", hide=2),
    Column("canceled", "Canc", 7, "right", hide=20),
    Column("expired", "Exp", 7, "right", hide=18),
    Column("total", "Total", 7, "right", hide=8),
    Column("created", "Age", 7, "right", hide=14),
    Column("expires", "Left", 7, "right", hide=4),
    Column("cost", "Cost", 9, "right", hide=6),
)

PROVIDER_COLUMN = Column("provider", "Provider", 9, hide=11, grow="")
"""Shown when the dashboard holds more than one provider's batches: it goes after the
time columns and the ID (the detail panel shows the id) and before the counts; on an
80-column terminal it is hidden (the status line names the providers, `P` filters)."""


def columns(*, provider: bool, providers: tuple[str, ...] = ()) -> tuple[Column, ...]:
    """The dashboard's columns; with `provider`, whose batch a row is, after its label.

    The ID column grows on a wide table up to the longest id of `providers`' batches."""
    id_chars = shown_id_chars(providers)
    base = COLUMNS
    if id_chars != ID_CHARS:
        base = tuple(replace(c, max_width=id_chars) if c.key == "id" else c for c in COLUMNS)
    return (base[0], PROVIDER_COLUMN, *base[1:]) if provider else base


JOB_PREFIX = "job:"
PROVIDER_FILTER = "provider:"

CACHED_ROWS = 128
"""Batches whose cells are kept: a few screens (scrolling through 10,000 batches must not
keep 10,000 rows of cells alive, which the garbage collector would walk on every pass)."""


@dataclass(frozen=True, slots=True)
class Styles:
    """Rich styles derived from the current theme (cells are Text, not CSS)."""

    running: str = "bold"
    warning: str = "yellow"
    success: str = "green"
    error: str = "red"
    muted: str = "dim"

    @classmethod
    def from_theme(cls, theme: Any) -> Styles:
        def pick(name: str, fallback: str) -> str:
            value = getattr(theme, name, None)
            return str(value) if value else fallback

        return cls(
            running=f"bold {pick('accent', 'cyan')}",
            warning=pick("warning", "yellow"),
            success=pick("success", "green"),
            error=pick("error", "red"),
        )


def in_view(batch: BatchView, view: View) -> bool:
    if view == "active":
        return batch.remote.is_active and not batch.deleted
    if view == "ended":
        return not batch.remote.is_active
    if view == "errors":
        return batch.remote.has_errors
    return True


def split_filter(text: str) -> tuple[str | None, str]:
    """A filter box's text → (the provider of a `provider:<name>` word, the rest), both
    casefolded; the last such word wins."""
    provider: str | None = None
    rest: list[str] = []
    for word in text.casefold().split():
        if word.startswith(PROVIDER_FILTER):
            provider = word.removeprefix(PROVIDER_FILTER) or None
        else:
            rest.append(word)
    return provider, " ".join(rest)


def matches(batch: BatchView, needle: str, job: Job | None = None) -> bool:
    if not needle:
        return True
    if needle == batch.remote.provider:  # "openai" finds OpenAI's batches (the whole name)
        return True
    hay = [
        batch.id,
        batch.label or "",
        batch.model or "",
        job.name if job else "",
        batch.remote.provider_status or "",  # "validating", "finalizing"
    ]
    return any(needle in h.casefold() for h in hay)


# --- sorting -------------------------------------------------------------------------------

SORTS: tuple[tuple[str, str], ...] = (
    ("created", "Age"),
    ("label", "Label"),
    ("status", "Status"),
    ("progress", "Progress"),
    ("total", "Total"),
    ("errored", "Err"),
    ("expires", "Left"),
    ("cost", "Cost"),
)


def sort_key(name: str) -> Callable[[BatchView], Any]:
    keys: dict[str, Callable[[BatchView], Any]] = {
        "created": lambda b: (b.remote.created_at, b.id),
        "label": lambda b: ((b.label or "").casefold(), b.id),
        "status": lambda b: (status_label(b), b.id),
        "progress": lambda b: (_fraction(b.remote.request_counts), b.id),
        "total": lambda b: (b.remote.request_counts.total, b.id),
        "errored": lambda b: (b.remote.request_counts.errored, b.id),
        "expires": lambda b: (b.remote.expires_at, b.id),
        "cost": lambda b: (_cost(b) or 0.0, b.id),
    }
    return keys[name]


def default_descending(name: str) -> bool:
    """Newest, biggest, most errored first; labels and time left ascending."""
    return name not in ("label", "expires", "status")


# --- cells -------------------------------------------------------------------------------


def _fraction(c: RequestCounts) -> float:
    return count_fraction(c.done, c.total)


def _cost(b: BatchView) -> float | None:
    return batch_cost(b).usd


def _num(value: int, style: str = "") -> Text:
    return Text(f"{value:,}" if value else "·", style=style if value else "dim")


def status_style(label: str, styles: Styles) -> str:
    return {
        "in progress": styles.running,
        "validating": styles.running,  # OpenAI's own words (`format.PROVIDER_WORDS`)
        "finalizing": styles.running,
        "failed": styles.error,
        "canceling": styles.warning,
        "ended": styles.success,
        "canceled": styles.warning,
        "expired": styles.error,
        "deleted": "dim strike",
    }.get(label, "")


def _counts_cells(c: RequestCounts, styles: Styles) -> tuple[Text, ...]:
    return (
        _num(c.processing),
        _num(c.succeeded, styles.success),
        _num(c.errored, styles.error),
        _num(c.canceled, styles.warning),
        _num(c.expired, styles.error),
        _num(c.total),
    )


class RowBuilder:
    """Builds and caches the cells of each batch; see the module docstring."""

    def __init__(self, styles: Styles, *, provider: bool = False) -> None:
        self.styles = styles
        self.provider = provider  # a provider cell after the label (`columns`)
        self._cache: LRUCache[tuple[str, str], tuple[BatchView, Job | None, tuple[Text, ...]]] = (
            LRUCache(CACHED_ROWS)
        )
        self._times: LRUCache[tuple[str, str], Text] = LRUCache(2 * CACHED_ROWS)
        self._jobs: dict[str, tuple[tuple[object, ...], tuple[Text, ...]]] = {}

    def batch_cells(
        self, b: BatchView, now: datetime, *, indent: str = "", job: Job | None = None
    ) -> tuple[Text, ...]:
        key = b.id
        cached = self._cache.get((key, indent))
        if cached is None or cached[0] is not b or cached[1] is not job:
            cached = (b, job, self._static_cells(b, indent, job))
            self._cache[(key, indent)] = cached
        cells = cached[2]
        r = b.remote
        left = time_left(r.expires_at, now) if r.is_active else "—"
        return (
            *cells[:-1],
            self._time_cell(key, "age", age(r.created_at, now)),
            self._time_cell(key, "left", left),
            cells[-1],
        )

    def _time_cell(self, key: str, which: str, text: str) -> Text:
        cached = self._times.get((key, which))
        if cached is None or cached.plain != text:
            cached = Text(text, style="dim" if text == "—" else "")
            self._times[(key, which)] = cached
        return cached

    def _static_cells(self, b: BatchView, indent: str, job: Job | None) -> tuple[Text, ...]:
        s = self.styles
        label = status_label(b)
        name = label_cell(b, job, in_job_row=bool(indent))
        if indent:
            name = Text(indent, style="dim") + name
        c = b.remote.request_counts
        cost = batch_cost(b)
        return (
            name,
            *((Text(provider_name(b.remote.provider), style="dim"),) if self.provider else ()),
            Text(shown_id(b.id, b.remote.provider)),  # the table cuts it in the middle
            Text(label, style=status_style(label, s)),
            bar(_fraction(c), 8, s.success),
            *_counts_cells(c, s),
            Text(cost_text(cost)),
        )

    def job_cells(self, job: Job, batches: Sequence[BatchView], now: datetime) -> tuple[Text, ...]:
        """A job's aggregate row; the same objects while the job, its batches and times are."""
        active = [b for b in batches if b.remote.is_active]
        left = min((b.remote.expires_at for b in active), default=None)
        times = (age(job.created_at, now), time_left(left, now) if left else "—")
        version = (job, *batches, *times)
        cached = self._jobs.get(job.id)
        if cached is not None and cached[0] == version:  # tuples compare items by identity first
            return cached[1]
        s = self.styles
        counts = aggregate(b.remote.request_counts for b in batches)
        label = f"{len(active):,} active" if active else "ended"
        style = s.running if active else s.success
        if job.part_count:  # a partly submitted job says so (u resumes it)
            made = {b.job_part for b in batches} & set(range(1, job.part_count + 1))
            if len(made) < job.part_count:
                label, style = f"{len(made)}/{job.part_count} parts", s.warning
        cost = total_cost(batch_cost(b) for b in batches)
        providers = sorted({provider_name(b.remote.provider) for b in batches})
        cells = (
            safe_text(job.name, "bold", literal=True),
            *((Text(", ".join(providers), style="dim"),) if self.provider else ()),
            Text(quantity(len(batches), "batch", "batches"), style="dim"),
            Text(label, style=style),
            bar(_fraction(counts), 8, s.success),
            *_counts_cells(counts, s),
            Text(times[0]),
            Text(times[1]),
            Text(cost_text(cost)),
        )
        self._jobs[job.id] = (version, cells)
        return cells


def aggregate(counts: Iterable[RequestCounts]) -> RequestCounts:
    p = s = e = c = x = 0
    for rc in counts:
        p += rc.processing
        s += rc.succeeded
        e += rc.errored
        c += rc.canceled
        x += rc.expired
    return RequestCounts(p, s, e, c, x)
