"""The home screen: every batch of the workspace, live, with a detail panel.

It renders from an in-memory copy of the store's batches (loaded once, store-only), which
service events then patch; the table is synced by keyed diffs, never cleared. Network work
(cancel, delete, retry) runs in workers and reports failures as notifications.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, TypeVar

from batchtop.core.models import (
    BatchChanged,
    BatchEnded,
    BatchView,
    Event,
    Job,
    RefreshDone,
    RefreshFailed,
    ResultsReady,
)
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static

from ..keys import DASHBOARD_KEYS, bindings
from ..safe_text import safe_text
from ..widgets.banner import DemoBanner
from ..widgets.batch_detail import BatchDetail, DetailInfo
from ..widgets.batches_table import BatchesTable, Row
from ..widgets.status_bar import StatusBar
from .batch_actions import BatchActions
from .rows import (
    COLUMNS,
    JOB_PREFIX,
    MAX_ROWS,
    SORTS,
    VIEWS,
    RowBuilder,
    Styles,
    View,
    default_descending,
    in_view,
    matches,
    sort_key,
)

if TYPE_CHECKING:
    from batchtop.core.service import BatchService

T = TypeVar("T")
DEBOUNCE_ABOVE = 1000  # batches; below this, filtering on every keystroke is instant


class DashboardScreen(BatchActions):
    HELP_TITLE = "Dashboard"
    BINDINGS: ClassVar[list[BindingType]] = [
        *bindings(DASHBOARD_KEYS),
        Binding("escape", "back", "Back", show=False, id="back"),
    ]

    def __init__(
        self,
        service: BatchService,
        *,
        now: Callable[[], datetime],
        refresh_interval_s: float,
        demo: bool = False,
    ) -> None:
        super().__init__(id="dashboard")
        self.service = service
        self._now = now
        self._interval = refresh_interval_s
        self._demo = demo
        self.view: View = "all"
        self.sort_by = "created"
        self.descending = True
        self.filter_text = ""
        self._batches: dict[str, BatchView] = {}
        self._jobs: dict[str, Job] = {}
        self._render_pending = False
        self._matching = 0
        self._filter_timer: Timer | None = None
        self._builder = RowBuilder(Styles())

    # --- layout & loading ----------------------------------------------------------------

    def compose(self) -> ComposeResult:
        if self._demo:
            yield DemoBanner()
        yield Static(id="title-bar")
        yield Input(placeholder="filter by label or id · enter keeps · esc clears", id="filter")
        yield BatchesTable(COLUMNS, id="batches")
        yield BatchDetail(id="detail")
        yield StatusBar(self._interval, self._now, id="status")
        yield Footer()

    def on_mount(self) -> None:
        self._builder = RowBuilder(Styles.from_theme(self.app.current_theme))
        self.watch(self.app, "theme", self._theme_changed, init=False)
        self.query_one("#filter", Input).display = False
        self.reload()
        self.table.focus()
        self.set_interval(1.0, self._tick)

    def _theme_changed(self) -> None:
        """Cells are rich Text with theme colours baked in: rebuild them."""
        self._builder = RowBuilder(Styles.from_theme(self.app.current_theme))
        self.render_rows()

    @property
    def table(self) -> BatchesTable:
        return self.query_one("#batches", BatchesTable)

    @property
    def status(self) -> StatusBar:
        return self.query_one("#status", StatusBar)

    def reload(self) -> None:
        """Re-read batches and jobs from the store (no network) and re-render."""
        self._batches = {b.id: b for b in self.service.batches("all")}
        self._reload_jobs()
        self.render_rows()
        if self.status.state.last_at is None and self._batches:
            # Until the first refresh, say how fresh the stored state is.
            self.status.set_state(
                last_at=max(b.seen_at for b in self._batches.values()),
                active=sum(1 for b in self._batches.values() if b.remote.is_active),
                api_calls=self.service.api_calls,
                paused=self.service.paused,
            )

    def _reload_jobs(self) -> None:
        self._jobs = {j.id: j for j in self.service.jobs()}

    def _tick(self) -> None:
        """Once a second: countdowns, and the time cells of the rows on screen.

        Rows off screen get their times at the next full render (every refresh), so a tick
        costs the same with 10 batches or 10,000.
        """
        self.status.tick()
        now = self._now()
        table = self.table
        for key in table.visible_keys():
            batch = self._batches.get(key)
            if batch is not None:
                table.patch(key, self._builder.time_cells(batch, now))

    # --- service events --------------------------------------------------------------------

    def apply_event(self, event: Event) -> None:
        if isinstance(event, BatchChanged | BatchEnded):
            batch = event.batch
            self._batches[batch.id] = batch
            if batch.job_id and batch.job_id not in self._jobs:
                self._reload_jobs()
            self._schedule_render()
        elif isinstance(event, RefreshDone):
            self.status.done(event)
            self._schedule_render()
        elif isinstance(event, RefreshFailed):
            self.status.failed(event)
        elif isinstance(event, ResultsReady):
            # Results were indexed: the actual cost and the results count are now known.
            fresh = self.service.batch(event.batch_id)
            if fresh is not None:
                self._batches[fresh.id] = fresh
                self._schedule_render()

    def _schedule_render(self) -> None:
        """Coalesce a burst of events (one refresh can change hundreds of batches)."""
        if not self._render_pending:
            self._render_pending = True
            self.call_later(self._flush)

    def _flush(self) -> None:
        self._render_pending = False
        self.render_rows()

    # --- rendering -------------------------------------------------------------------------

    def render_rows(self) -> None:
        now = self._now()
        needle = self.filter_text.casefold()
        if self.view == "jobs":
            rows, self._matching = self._job_rows(now, needle)
        else:
            shown = [
                b
                for b in self._batches.values()
                if in_view(b, self.view) and matches(b, needle, self._jobs.get(b.job_id or ""))
            ]
            shown.sort(key=sort_key(self.sort_by), reverse=self.descending)
            rows = [self._builder.batch_row(b, now) for b in shown[:MAX_ROWS]]
            self._matching = len(shown)
        self.table.sync(rows)
        self._update_headers()
        self._update_title(len(rows))
        self.update_detail()

    def _job_rows(self, now: datetime, needle: str) -> tuple[list[Row], int]:
        """Job rows each followed by their batches, then batches without a job.

        Returns the rows (at most MAX_ROWS are built) and how many would match in all."""
        by_job: dict[str, list[BatchView]] = {}
        loose: list[BatchView] = []
        for b in self._batches.values():
            if b.job_id and b.job_id in self._jobs:
                by_job.setdefault(b.job_id, []).append(b)
            else:
                loose.append(b)
        jobs = sorted(
            self._jobs.values(), key=lambda j: (j.created_at, j.id), reverse=self.descending
        )
        rows: list[Row] = []
        matching = 0
        for job in jobs:
            members = sorted(by_job.get(job.id, []), key=lambda b: (b.job_part or 0, b.id))
            if not members:
                continue
            hit = not needle or needle in job.name.casefold()
            if not hit and not any(matches(b, needle) for b in members):
                continue
            matching += 1 + len(members)
            if len(rows) < MAX_ROWS:
                rows.append(self._builder.job_row(job, members, now))
                rows.extend(self._builder.batch_row(b, now, indent="  └ ") for b in members)
        loose = [b for b in loose if matches(b, needle)]
        loose.sort(key=sort_key(self.sort_by), reverse=self.descending)
        matching += len(loose)
        room = max(MAX_ROWS - len(rows), 0)
        rows.extend(self._builder.batch_row(b, now) for b in loose[:room])
        return rows[:MAX_ROWS], matching

    def _update_headers(self) -> None:
        arrow = " ▼" if self.descending else " ▲"
        labels = dict(SORTS)
        for col in COLUMNS:
            label = col.label
            if col.key == self.sort_by and self.view != "jobs":
                label = labels.get(col.key, label) + arrow
            self.table.set_header(col.key, label)

    def _update_title(self, shown: int) -> None:
        active = sum(1 for b in self._batches.values() if b.remote.is_active)
        title = Text(no_wrap=True, overflow="ellipsis", end="")
        title.append("batchtop", style="bold")
        title.append(f"  {len(self._batches)} batches · {active} active  │  view ")
        for i, (name, label) in enumerate(VIEWS.items(), start=1):
            style = "reverse bold" if name == self.view else "dim"
            title.append(f" {i} {label} ", style=style)
        if shown < self._matching:
            title.append(f"  │  {shown:,} of {self._matching:,} shown: / filters, s sorts")
        else:
            title.append(f"  │  {shown:,} shown")
        if self.filter_text:
            title.append("  │  filter: ")
            title.append_text(safe_text(self.filter_text, one_line=True, limit=30))
        self.query_one("#title-bar", Static).update(title)

    def update_detail(self) -> None:
        detail = self.query_one(BatchDetail)
        if not detail.display:
            return
        key = self.table.selected_key
        if key is None:
            detail.show(None)
            return
        if key.startswith(JOB_PREFIX):
            job = self._jobs.get(key.removeprefix(JOB_PREFIX))
            members = [b for b in self._batches.values() if job and b.job_id == job.id]
            detail.show_job(job, members, self._now())
            return
        batch = self._batches.get(key)
        if batch is None:
            detail.show(None)
            return
        detail.show(self._detail_info(batch))

    def _detail_info(self, batch: BatchView) -> DetailInfo:
        by_count, by_time = _safely(lambda: self.service.progress(batch.id), (0.0, 0.0))
        return DetailInfo(
            batch=batch,
            now=self._now(),
            by_count=by_count,
            by_time=by_time,
            eta=_safely(lambda: self.service.eta(batch.id), None),
            snapshots=_safely(lambda: self.service.snapshots(batch.id), []),
            job=self._jobs.get(batch.job_id or ""),
            children=[b for b in self._batches.values() if b.parent_batch_id == batch.id],
        )

    @on(DataTable.RowHighlighted, "#batches")
    def _row_highlighted(self) -> None:
        self.update_detail()

    @on(DataTable.RowSelected, "#batches")
    def _row_selected(self) -> None:
        self.action_open_results()

    # --- views, filter, sort, cursor ---------------------------------------------------------

    def action_view(self, name: str) -> None:
        if name in VIEWS:
            self.view = name  # type: ignore[assignment,unused-ignore]
            self.render_rows()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
        if len(self._batches) < DEBOUNCE_ABOVE:
            self.render_rows()
        else:  # thousands of batches: wait for a pause in typing
            self._filter_timer = self.set_timer(0.15, self.render_rows)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.table.focus()

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display or self.filter_text:
            box.value = ""
            box.display = False
            self.filter_text = ""
            self.render_rows()
            self.table.focus()

    def action_sort(self) -> None:
        names = [name for name, _ in SORTS]
        self.sort_by = names[(names.index(self.sort_by) + 1) % len(names)]
        self.descending = default_descending(self.sort_by)
        self.render_rows()

    def action_sort_invert(self) -> None:
        self.descending = not self.descending
        self.render_rows()

    def action_toggle_detail(self) -> None:
        detail = self.query_one(BatchDetail)
        detail.display = not detail.display
        self.update_detail()

    def action_cursor_down(self) -> None:
        self.table.action_cursor_down()

    def action_cursor_up(self) -> None:
        self.table.action_cursor_up()

    def action_cursor_top(self) -> None:
        self.table.move_cursor(row=0)

    def action_cursor_bottom(self) -> None:
        self.table.move_cursor(row=max(self.table.row_count - 1, 0))


def _safely(call: Callable[[], T], default: T) -> T:
    """Detail-panel reads are nice-to-have: a failure must not break the dashboard."""
    try:
        return call()
    except Exception:
        return default
