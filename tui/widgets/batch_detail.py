"""The detail panel: everything known about the selected batch (or job).

It is updated on every cursor move, so every part has a height that does not depend on its
text (the panel's own height is fixed): an update then repaints the panel without a layout
pass over the whole screen. The left and right columns are one text each that fills its
column; the middle one stacks three bar rows (never wrapped), a title and the sparkline.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from batchtop.core.costs import batch_cost, total_cost
from batchtop.core.models import BatchView, CountSnapshot, Job, JobProgress
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

from ..format import (
    age,
    bar,
    cost_text,
    duration,
    label_cell,
    money,
    seconds_until,
    short_id,
    short_when,
    stamp,
    status_label,
    when,
)
from ..safe_text import literal_line, safe_text
from ..words import numbered, quantity


@dataclass(frozen=True, slots=True)
class DetailInfo:
    """What the dashboard gathered from the service for one batch."""

    batch: BatchView
    now: datetime
    by_count: float
    by_time: float
    eta: datetime | None = None
    snapshots: Sequence[CountSnapshot] = ()
    job: Job | None = None
    children: Sequence[BatchView] = field(default_factory=tuple)
    # an adopted batch whose results do not look like its part's (core's words)
    results_warning: str | None = None


def completions(snapshots: Sequence[CountSnapshot]) -> list[float]:
    """Requests finished between consecutive snapshots (the sparkline's data)."""
    # Start from zero at creation so the first interval counts too.
    done = [0, *(s.counts.done for s in snapshots)]
    return [float(max(b - a, 0)) for a, b in itertools.pairwise(done)]


BAR_ROWS = 3
NARROW_BELOW = 140
WIDE_FROM = 200


class BatchDetail(Horizontal):
    """Three columns under the table: identity and counts | progress | cost and links."""

    DEFAULT_CSS = f"""
    BatchDetail {{
        & #detail-left {{ width: 1fr; }}
        & #detail-mid {{ width: 40; padding: 0 1; }}
        & #detail-right {{ width: 42; padding-left: 2; }}
        & #detail-head {{ height: 1fr; }}
        & #detail-bars {{ height: {BAR_ROWS}; }}
        & #detail-spark-title {{ height: 1; color: $text-muted; }}
        & #detail-spark {{ height: 3; margin-right: 2; }}
        & #detail-spark > .sparkline--max-color {{ color: $success; }}
        & #detail-spark > .sparkline--min-color {{ color: $primary 50%; }}
        & #detail-cost {{ height: 1fr; }}
        &.-narrow #detail-right {{ display: none; }}
        &.-narrow #detail-mid {{ width: 36; }}
        &.-wide #detail-mid {{ width: 56; }}
        &.-wide #detail-right {{ width: 60; }}
    }}
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._info: DetailInfo | None = None
        self._job: tuple[Job, Sequence[BatchView], JobProgress | None, str] | None = None
        self.narrow = False  # the right column is hidden: its cost goes in the left one

    def set_width(self, width: int) -> None:
        """Narrow terminals (< NARROW_BELOW) lose the right column, not the left one; wide
        ones give the middle and right columns more room (the -narrow/-wide rules above)."""
        narrow = width < NARROW_BELOW
        self.set_class(narrow, "-narrow")
        self.set_class(width >= WIDE_FROM, "-wide")
        if narrow != self.narrow:
            self.narrow = narrow
            if self._info is not None:
                self.show(self._info)

    def compose(self) -> ComposeResult:
        with Vertical(id="detail-left"):
            yield Static(id="detail-head")
        with Vertical(id="detail-mid"):
            yield Static(id="detail-bars")
            yield Static("completions over time", id="detail-spark-title", markup=False)
            yield Sparkline([], id="detail-spark")
        with Vertical(id="detail-right"):
            yield Static(id="detail-cost")

    def _put(self, static_id: str, content: Table | Text | str) -> None:
        # Heights are fixed by the CSS above: no layout pass (see the module docstring).
        self.query_one(static_id, Static).update(content, layout=False)

    def show_job(
        self,
        job: Job | None,
        batches: Sequence[BatchView],
        now: datetime,
        progress: JobProgress | None = None,
        abandon_key: str = "",
    ) -> None:
        """A job row is selected: its aggregate, and its batches one per line; its parts
        whose create is unresolved (`progress`), with the key that abandons them."""
        if job is None:
            self.show(None)
            return
        self._info, self._job = None, (job, batches, progress, abandon_key)
        grid = _grid()
        grid.add_row("job", safe_text(job.name, literal=True))
        grid.add_row("id", Text(job.id))
        if progress is not None and progress.open:
            until = progress.settles_by
            grid.add_row(
                "unresolved",
                Text.assemble(
                    f"{numbered('part', progress.open)}: a batch may still appear",
                    f" until {when(until, now)}" if until else "",
                    f" · {abandon_key} abandons" if abandon_key else "",
                ),
                style="bold yellow",
            )
        grid.add_row("created", Text(f"{stamp(job.created_at)} ({age(job.created_at, now)} ago)"))
        if job.source:
            grid.add_row("source", safe_text(job.source, one_line=True))
        for b in batches:
            c = b.remote.request_counts
            grid.add_row(
                f"part {b.job_part}" if b.job_part is not None else "batch",
                Text(
                    f"{short_id(b.id, b.remote.provider)} {status_label(b)}"
                    f" · {c.done:,}/{c.total:,} done"
                ),
            )
        self._put("#detail-head", grid)
        total = sum(b.remote.request_counts.total for b in batches)
        done = sum(b.remote.request_counts.done for b in batches)
        active = sum(1 for b in batches if b.remote.is_active)
        bars = _grid(wrap=False)
        bars.add_row("by count", bar(done / total if total else 0.0, 20))
        bars.add_row("requests", Text(f"{done:,} of {total:,} done"))
        bars.add_row("batches", Text(f"{len(batches):,} · {active:,} active"))
        self._put("#detail-bars", bars)
        self._spark([])
        cost = total_cost(batch_cost(b) for b in batches)
        self._put(
            "#detail-cost",
            Text(f"cost {cost_text(cost)}" if cost.usd is not None or cost.unpriced else ""),
        )

    def show(self, info: DetailInfo | None) -> None:
        self._info, self._job = info, None
        if info is None:
            self._put("#detail-head", Text("No batch selected.", style="dim"))
            self._put("#detail-bars", "")
            self._put("#detail-cost", "")
            self._spark([])
            return
        self._put("#detail-head", _head(info, narrow=self.narrow))
        self._put("#detail-bars", _bars(info))
        self._spark(completions(info.snapshots))
        self._put("#detail-cost", _cost_and_links(info))

    def tick(self, now: datetime) -> None:
        """Once a second: "12s ago", "in 23h59m" and the ETA move on with the clock (the
        dashboard re-shows a batch only when it changes, and ended batches never do)."""
        if self._info is not None:
            info = replace(self._info, now=now)
            self._info = info
            self._put("#detail-head", _head(info, narrow=self.narrow))
            self._put("#detail-bars", _bars(info))
        elif self._job is not None:
            job, batches, progress, key = self._job
            self.show_job(job, batches, now, progress, key)

    def _spark(self, data: list[float]) -> None:
        """A sparkline needs two points and a completion; say so instead of drawing bars
        for nothing."""
        enough = len(data) >= 2 and any(data)
        spark = self.query_one(Sparkline)
        spark.display = enough
        spark.data = data if enough else [0.0]
        if enough:
            title = "completions over time"
        elif len(data) >= 2:
            title = "completions over time: none yet"
        else:
            title = "completions over time: no history yet"
        self._put("#detail-spark-title", title)


def _grid(*, wrap: bool = True) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    if wrap:
        table.add_column(overflow="fold")
    else:  # one line per row, so the rows are the height
        table.add_column(no_wrap=True, overflow="ellipsis")
    return table


def _head(info: DetailInfo, *, narrow: bool = False) -> Table:
    """Identity, times and counts; on a narrow terminal also the cost and the job (the
    right column is hidden there), and not when it was last seen. Narrow, it fits the 9
    lines of an 80×24 terminal: what the middle column or the table already says is left
    out (when it ended; the job when the label row says its name), the times are short and
    expiry shares the created line, and the counts are the ones that are not zero."""
    b, r, now = info.batch, info.batch.remote, info.now
    c = r.request_counts
    grid = _grid()
    grid.add_row("label", label_cell(b, info.job))
    grid.add_row("id", Text(r.id))
    grid.add_row("status", Text(status_label(b)))
    if r.provider != "anthropic":  # another provider's batch says whose it is and its endpoint
        where = f"{r.provider} {r.endpoint}" if r.endpoint else r.provider
        grid.add_row("provider", safe_text(where, one_line=True))
    if r.failure is not None:  # the provider failed the whole batch: why
        grid.add_row("failed", safe_text(r.failure, one_line=True), style="bold red")
    if info.results_warning is not None:  # adopted, and its results look like another's
        grid.add_row("results?", safe_text(info.results_warning), style="bold red")
    if b.model:
        grid.add_row("model", safe_text(b.model, one_line=True))
    if narrow:
        created = short_when(r.created_at, now)
        if r.is_active:
            created += f" · expires in {duration(seconds_until(r.expires_at, now))}"
        else:
            created += f" ({age(r.created_at, now)} ago)"
        grid.add_row("created", Text(created))
        if r.ended_at is None and r.cancel_initiated_at:
            grid.add_row("cancel asked", Text(short_when(r.cancel_initiated_at, now)))
    else:
        grid.add_row("created", Text(f"{stamp(r.created_at)} ({age(r.created_at, now)} ago)"))
        if r.ended_at:
            grid.add_row("ended", Text(stamp(r.ended_at)))
        elif r.cancel_initiated_at:
            grid.add_row("cancel asked", Text(stamp(r.cancel_initiated_at)))
        if r.is_active:
            expires = f"in {duration(seconds_until(r.expires_at, now))}"
            grid.add_row("expires", Text(f"{stamp(r.expires_at)} ({expires})"))
        grid.add_row("seen", Text(stamp(b.seen_at)))
    counts = [
        (c.processing, "processing"),
        (c.succeeded, "succeeded"),
        (c.errored, "errored"),
        (c.canceled, "canceled"),
        (c.expired, "expired"),
    ]
    if narrow:  # the counts that are not zero (they add up to the total)
        counts = [(n, what) for n, what in counts if n]
    if not narrow or not counts:
        counts = [(c.total, "total"), *counts]
    grid.add_row("requests", Text(" · ".join(f"{n:,} {what}" for n, what in counts)))
    if narrow:
        cost = batch_cost(b)
        if cost.usd is not None or cost.unpriced:
            note = " estimated" if cost.is_estimate and cost.usd is not None else ""
            grid.add_row("cost", Text(f"{cost_text(cost)}{note}"))
        if info.job is not None and b.label not in (None, "", info.job.name):
            grid.add_row("job", safe_text(info.job.name, literal=True))
        if b.betas:
            grid.add_row("betas", safe_text(", ".join(b.betas), one_line=True))
    return grid


def _bars(info: DetailInfo) -> Table:
    """BAR_ROWS rows: progress by count and by time and the ETA while it runs; once it has
    ended, when and how long it took (the time bar of a finished batch meant nothing)."""
    grid = _grid(wrap=False)
    grid.add_row("by count", bar(info.by_count, 20))
    r = info.batch.remote
    if not r.is_active:
        grid.add_row(
            "ended",
            Text(when(r.ended_at, info.now)) if r.ended_at else Text("—", style="dim"),
        )
    else:
        grid.add_row("by time", bar(info.by_time, 20))
    if info.eta is not None and r.is_active:
        grid.add_row(
            "ETA",
            Text(f"{when(info.eta, info.now)} (in {duration(seconds_until(info.eta, info.now))})"),
        )
    elif r.is_active:
        grid.add_row("ETA", Text("not enough data yet", style="dim"))
    elif r.ended_at is not None:
        grid.add_row("took", Text(duration((r.ended_at - r.created_at).total_seconds())))
    else:
        grid.add_row("took", Text("—", style="dim"))
    return grid


def _cost_and_links(info: DetailInfo) -> Table:
    b = info.batch
    grid = _grid()
    cost = batch_cost(b)
    grid.add_row(
        "estimate" if cost.is_estimate and not cost.unpriced else "cost",
        Text(cost_text(cost)),
    )
    if cost.standard_usd is not None and cost.savings_usd:
        standard = money(cost.standard_usd, approx=cost.is_estimate, floor=cost.floor)
        grid.add_row("standard", Text(standard))
        grid.add_row(
            "saved",
            Text(
                f"{money(cost.savings_usd, approx=cost.is_estimate, floor=cost.floor)}"
                " with the batch discount"
            ),
        )
    grid.add_row("prices", Text(cost.price_source, style="dim"))
    if info.job is not None:
        part = f" part {b.job_part}" if b.job_part is not None else ""
        count = len(info.job.batch_ids)
        batches = quantity(count, "batch", "batches")
        grid.add_row("job", safe_text(f"{literal_line(info.job.name)}{part} ({batches})"))
    if b.betas:  # the anthropic-beta values it was created with
        grid.add_row("betas", safe_text(", ".join(b.betas)))
    if b.parent_batch_id:
        grid.add_row("retry of", Text(short_id(b.parent_batch_id, b.remote.provider, 20)))
    for child in info.children:
        grid.add_row("retried as", Text(short_id(child.id, child.remote.provider, 20)))
    if not b.has_manifest:
        grid.add_row("inputs", Text("not known locally (created elsewhere)", style="dim"))
    if b.results_downloaded:
        grid.add_row("results", Text(f"{b.results_indexed:,} downloaded · enter to browse"))
    elif not b.remote.is_active:
        grid.add_row("results", Text("not downloaded yet", style="dim"))
    return grid
