"""The home screen: every batch of the workspace, live, with a detail panel.

It renders from an in-memory copy of the store's batches (loaded once, store-only), which
service events then patch. A view, filter or sort is a Python sort of keys handed to the
windowed table, which builds cells only for the rows on screen (`_cells`), so the cost does
not grow with the number of batches. Network work (cancel, delete, retry) runs in workers
and reports failures as notifications.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, TypeVar

from batchtop.core.models import (
    BatchChanged,
    BatchEnded,
    BatchView,
    Event,
    Job,
    ListingProgress,
    RefreshDone,
    RefreshFailed,
    ResultsReady,
    ScopeChanged,
    provider_name,
)
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.reactive import var
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, Static

from ..format import gap
from ..keys import DASHBOARD_KEYS, bindings
from ..messages import ServiceEvent
from ..safe_text import clean, safe_text
from ..widgets.banner import DemoBanner
from ..widgets.batch_detail import BatchDetail, DetailInfo
from ..widgets.batches_table import BatchesTable
from ..widgets.key_footer import KeyFooter
from ..widgets.status_bar import StatusBar
from ..words import quantity
from .batch_actions import BatchActions
from .rows import (
    JOB_PREFIX,
    SHORT_VIEWS,
    SORTS,
    VIEWS,
    RowBuilder,
    Styles,
    View,
    columns,
    default_descending,
    in_view,
    matches,
    sort_key,
    split_filter,
)

if TYPE_CHECKING:
    from batchtop.core.fleet import Fleet
    from batchtop.core.service import BatchService

T = TypeVar("T")
TITLE_LEVELS: tuple[frozenset[str], ...] = tuple(
    frozenset(level.split())
    for level in (
        "brand counts views provider filter shown sort",
        "brand counts views provider filter shown",
        "brand counts views provider filter",
        "brand counts short provider filter",
        "counts short provider filter",
        "counts short provider filtered",
        "counts short provider",
        "short provider filtered",
        "short provider",
        "short",
    )
)
"""What the title line shows, most first; the first level that fits the width is drawn. The
provider filter (`P`) outlasts the counts: a dashboard showing one provider says so, and how
many it shows (`filtered`: the count when a filter is on), at 80 columns, where the Provider
column is hidden."""


def _hint(key: str, text: str, *more: tuple[str, str]) -> Text:
    line = Text()
    line.append(key, style="bold")
    gap(line, "  ")
    line.append(text)
    for part, style in more:
        text = part.lstrip(" ")
        if len(text) < len(part):  # leading spaces as a gap (see format.GAP)
            gap(line, part[: len(part) - len(text)])
        line.append(text, style=style)
    return line


EMPTY_WORKSPACE = [
    Text("No batches in this workspace yet. To start:", style="bold"),
    Text(),
    _hint("n", "compose a batch by hand"),
    _hint("i", "import a JSONL or CSV file (checked, split, estimated)"),
    _hint("$", "", ("batchtop submit requests.jsonl", "bold"), (" from a shell", "")),
    Text(),
    Text("Batches created elsewhere appear here at the next refresh.", style="dim"),
]
"""What the table says when the workspace has no batch at all (issue 14.17)."""
DEMO_SEEDING = [Text("The demo's sample workspace is being made: its batches appear in a moment.")]
"""What the table says while the demo starts (not how to start: the user did nothing wrong)."""
SHORT_BELOW = 30  # rows: a shorter detail panel leaves the table more room
DEBOUNCE_ABOVE = 1000  # batches; below this, filtering on every keystroke is instant


@dataclass(slots=True)
class Derived:
    """Facts over every batch for one version of them (see `DashboardScreen._derive`)."""

    values: list[BatchView]
    active: int
    children: dict[str, list[BatchView]]  # retries by the batch they retry
    sort: tuple[str, bool] | None = None
    ordered: list[BatchView] = field(default_factory=list)  # every batch in that sort
    views: dict[str, list[str]] = field(default_factory=dict)  # keys per view, that sort

    @classmethod
    def of(cls, values: list[BatchView]) -> Derived:
        children: dict[str, list[BatchView]] = {}
        for b in values:
            if b.parent_batch_id:
                children.setdefault(b.parent_batch_id, []).append(b)
        return cls(values, sum(1 for b in values if b.remote.is_active), children)


class DashboardScreen(BatchActions, Screen[None]):
    HELP_TITLE = "Dashboard"
    # The table, never the filter box: keys typed while batchtop starts (they reach the
    # screen before its `on_mount`) act on the dashboard instead of typing a filter.
    AUTO_FOCUS = "#batches"
    BINDINGS: ClassVar[list[BindingType]] = bindings(DASHBOARD_KEYS)

    DEFAULT_CSS = """
    DashboardScreen {
        & #title-bar { height: 1; padding: 0 1; background: $boost; }
        & #filter { height: 3; margin: 0 1; border: tall $accent; }
        & #batches { height: 1fr; scrollbar-size-vertical: 1; }
        & #detail { height: 12; border-top: solid $primary; background: $panel; padding: 0 1; }
        &.-short #detail { height: 10; }
    }
    """

    # What the table shows: setting any of these re-renders it (`watch_*`). `var`, not
    # `reactive`: a reactive also repaints the whole screen on every change.
    view: var[View] = var("all", init=False)
    sort: var[tuple[str, bool]] = var(("created", True), init=False)
    """(column, descending)."""
    filter_text: var[str] = var("", init=False)
    """The committed filter (typing is debounced into it above `DEBOUNCE_ABOVE` batches)."""
    provider_filter: var[str | None] = var(None, init=False)
    """Only this provider's batches (`P` cycles through the providers shown)."""

    def __init__(
        self,
        service: BatchService | Fleet,
        *,
        now: Callable[[], datetime],
        refresh_interval_s: float,
        demo: bool = False,
        starting: bool = False,
    ) -> None:
        """`starting`: the demo's workspace is still being started (its banner says so)."""
        from batchtop.core.fleet import Fleet  # (the service is open: core is loaded)

        super().__init__(id="dashboard")
        # Every provider's batches; what acts on one goes to the service that owns it.
        self.fleet = Fleet.of(service)
        self.service = self.fleet.primary
        self._columns = columns(provider=self.fleet.mixed, providers=self.fleet.providers)
        self._now = now
        self._interval = refresh_interval_s
        self._demo = demo
        self._starting = starting
        self._batches: dict[str, BatchView] = {}
        self._jobs: dict[str, Job] = {}
        self._members: dict[str, list[BatchView]] = {}  # jobs view: job id -> its batches
        self._derived: Derived | None = None
        self._totals: tuple[int, int] | None = None  # (batches, active) while not all read
        self._detail_of: tuple[object, ...] = ()  # what the detail panel shows
        self._render_pending = False
        self._filter_timer: Timer | None = None
        self._filter_box: Input | None = None  # mounted when `/` first opens it
        self._builder = RowBuilder(Styles(), provider=self.fleet.mixed)
        self._title_counts: tuple[str, int, int] | None = None  # (shown, total, active)

    # --- layout & loading ----------------------------------------------------------------

    def demo_started(self) -> None:
        """The demo's workspace is seeded: the banner and the table say so."""
        self._starting = False
        self.query_one(DemoBanner).starting = False
        self.reload()

    def compose(self) -> ComposeResult:
        if self._demo:
            yield DemoBanner(
                tuple(provider_name(p) for p in self.fleet.providers), starting=self._starting
            )
        yield Static(id="title-bar")
        # the filter box is mounted below the title when `/` first opens it (`action_filter`)
        yield BatchesTable(self._columns, self._cells, id="batches")
        yield BatchDetail(id="detail")
        yield StatusBar(self._interval, self._now, id="status")
        yield KeyFooter()

    def on_mount(self) -> None:
        # What exists now (modules, the app, its widgets) and the batches read after the
        # first frame (`_after_first_frame`) live as long as the app: out of reach of the
        # cyclic GC's full passes, which otherwise walk all of them (a 20 ms pause while
        # drawing the first frame, 40-160 ms pauses during keypresses at 10,000 batches).
        gc.freeze()
        # Sized now, before the first frame (a screen is the terminal's size): the resize
        # event comes after that frame, which would show the detail laid out for no width.
        self._fit(*self.app.size)
        self._builder = self._new_builder()
        self.watch(self.app, "theme", self._theme_changed, init=False)
        self._show_newest()
        self.table.focus()
        self.set_interval(1.0, self._tick)
        # Textual draws nothing while the app starts (one batch update, during which
        # `call_after_refresh` does not wait for a repaint); the app's own queue is only
        # read after it. So: once started, repaint, and read the rest after that frame.
        self.app.call_later(self._after_start)

    def _after_start(self) -> None:
        self.refresh()
        self.call_after_refresh(self._after_first_frame)

    def _after_first_frame(self) -> None:
        if self._totals is not None:
            self.reload()  # every batch
        gc.freeze()  # see on_mount
        gc.enable()  # `batchtop` starts with the GC off (see cli.cmd_tui)

    def on_unmount(self) -> None:
        gc.unfreeze()  # a closed app's objects can be collected again (tests run many)

    def _theme_changed(self) -> None:
        """Cells are rich Text with theme colours baked in: rebuild them."""
        self._builder = self._new_builder()
        self.table.refresh_rows()

    def _new_builder(self) -> RowBuilder:
        return RowBuilder(Styles.from_theme(self.app.current_theme), provider=self.fleet.mixed)

    @property
    def table(self) -> BatchesTable:
        return self.query_one("#batches", BatchesTable)

    @property
    def status(self) -> StatusBar:
        return self.query_one("#status", StatusBar)

    @property
    def sort_by(self) -> str:
        return self.sort[0]

    @property
    def descending(self) -> bool:
        return self.sort[1]

    def watch_view(self) -> None:
        self._reshaped()

    def watch_sort(self) -> None:
        self._reshaped()

    def watch_filter_text(self) -> None:
        self._reshaped()

    def watch_provider_filter(self) -> None:
        self._reshaped()

    def _reshaped(self) -> None:
        """The user changed what the table shows: the highlighted batch is now their choice,
        which the cursor follows through this change and back."""
        self.table.keep_selection()
        self.render_rows()

    def _show_newest(self) -> None:
        """The first frame, without reading every batch (10,000 take ~100 ms): the newest
        ones, which are the top of the default view (as many as the terminal has lines: more
        than the table shows), and the counts of all of them."""
        newest, total, active, seen = self.fleet.newest_batches(max(self.app.size.height, 1))
        self._batches = {b.id: b for b in newest}
        self._totals = (total, active) if total > len(newest) else None
        self._reload_jobs()
        self.render_rows()
        self._stored_state(seen, active)
        self._show_where()

    def _show_where(self) -> None:
        """The status line says what is shown: the endpoint and workspace (of each provider)."""
        short = self.fleet.short_label if self.fleet.mixed else ""
        self.status.set_state(where=self.fleet.label, where_short=short)

    def reload(self) -> None:
        """Re-read batches and jobs from the store (no network) and re-render."""
        self._batches = {b.id: b for b in self.fleet.batches("all")}
        self._totals = None
        self._reload_jobs()
        self.render_rows()
        if self._batches:
            self._stored_state(
                max(b.seen_at for b in self._batches.values()), self._derive().active
            )

    def _stored_state(self, seen: datetime | None, active: int) -> None:
        """Until the first refresh, say how fresh the stored state is."""
        if self.status.state.last_at is None and seen is not None:
            self.status.set_state(
                last_at=seen,
                active=active,
                api_calls=self.fleet.api_calls,
                paused=self.fleet.paused,
            )

    def _reload_jobs(self) -> None:
        self._jobs = {j.id: j for j in self.fleet.jobs()}

    def _tick(self) -> None:
        """Once a second: countdowns, and the rows on screen whose times moved.

        Rows off screen are built with the current time when they scroll into view, so a
        tick costs the same with 10 batches or 10,000.
        """
        self.status.tick()
        self.table.refresh_changed()
        detail = self.query_one(BatchDetail)
        if detail.display:
            detail.tick(self._now())

    # --- service events --------------------------------------------------------------------

    def on_service_event(self, message: ServiceEvent) -> None:
        self.apply_event(message.event)

    def apply_event(self, event: Event) -> None:
        if isinstance(event, BatchChanged | BatchEnded):
            batch = event.batch
            if batch.deleted:  # deleted (by another process, say): gone, as after a reload
                self._batches.pop(batch.id, None)
                self._schedule_render()
                return
            self._batches[batch.id] = batch
            if batch.job_id and batch.job_id not in self._jobs:
                self._reload_jobs()
            self._schedule_render()
        elif isinstance(event, RefreshDone):
            self.status.done(event)
            self._show_where()
            self._schedule_render()
        elif isinstance(event, ScopeChanged):  # another workspace's store: read it all
            self._show_where()
            self.reload()
        elif isinstance(event, RefreshFailed):
            self.status.failed(event)
            self._schedule_render()  # an empty table says why
        elif isinstance(event, ListingProgress):
            self.status.listed(event)
        elif isinstance(event, ResultsReady):
            # Results were indexed: the actual cost and the results count are now known.
            fresh = self.fleet.batch(event.batch_id)
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
        """Filter and sort the keys of the current view; the table draws what is on screen."""
        provider, needle = self._filters()
        view = self.view  # read once: a var's read is a descriptor call, this loops 10,000 times
        if view == "jobs":
            keys = self._job_keys(needle, provider)
        elif needle or provider:
            jobs = self._jobs
            keys = [
                b.id
                for b in self._ordered()
                if in_view(b, view)
                and (provider is None or b.remote.provider == provider)
                and matches(b, needle, jobs.get(b.job_id or ""))
            ]
        else:
            keys = self._view_keys()
        total, active = self._totals or (len(self._batches), self._derive().active)
        if self._totals is not None:  # the newest batches only: the rest are read next
            keys = keys + [""] * (total - len(keys))  # (blank: scrolled to only after that)
        self.table.set_rows(keys)
        self.table.set_placeholder(self._placeholder(total, keys))
        self._update_headers()
        self._update_title(self._shown_words(keys), total, active)
        self.update_detail()

    def _shown_words(self, keys: list[str]) -> str:
        """What the table shows, counted as what it is: `42 shown` (batches), and in the jobs
        view its job rows and batch rows apart (`12 jobs · 42 batches shown`, not the sum)."""
        if self.view != "jobs":
            return f"{len(keys):,} shown"
        jobs = sum(1 for k in keys if k.startswith(JOB_PREFIX))
        batches = sum(1 for k in keys if k and not k.startswith(JOB_PREFIX))
        return f"{quantity(jobs, 'job')} · {quantity(batches, 'batch', 'batches')} shown"

    def _filters(self) -> tuple[str | None, str]:
        """(the provider shown alone, or None; the filter's needle), casefolded: a
        `provider:<name>` word in the filter box wins over `P`'s choice."""
        provider, needle = split_filter(self.filter_text)
        return provider or self.provider_filter, needle

    def _placeholder(self, total: int, keys: list[str]) -> list[Text]:
        """What an empty table says: how to start, or why nothing is shown."""
        if keys:
            return []
        if not total:
            if self._starting:
                return DEMO_SEEDING
            return self._key_refused() or EMPTY_WORKSPACE
        if self.filter_text:
            return [Text("No batch matches the filter (esc clears it).", style="dim")]
        if self.provider_filter:
            name = provider_name(self.provider_filter)
            return [Text(f"No {name} batch in this view: P shows other providers.", style="dim")]
        return [Text(f"No batch in this view ({VIEWS[self.view]}): 1 shows all.", style="dim")]

    def _key_refused(self) -> list[Text]:
        """An empty table whose refreshes were refused for the key (each provider's): say
        so, not how to compose a batch that could not be sent."""
        state = self.status.state
        failures = state.errors or ((state.error,) if state.error is not None else ())
        refused = [f for f in failures if f.kind == "auth"]
        if not refused:
            return []
        lines = [Text("No batches shown: the API refused the key.", style="bold"), Text()]
        for failure in refused:
            named = failure.provider is not None or self.fleet.mixed
            who = "" if named else f"{provider_name(self.fleet.primary.provider)}: "
            lines.append(Text(who + clean(failure.message, keep_newlines=False)))
        lines += [Text(), Text("Set a valid key and start batchtop again.", style="dim")]
        return lines

    def _derive(self) -> Derived:
        """What is computed over every batch, computed again only when a batch changed."""
        values = list(self._batches.values())
        # List equality checks identity first: unchanged batches cost a pointer compare.
        if self._derived is None or self._derived.values != values:
            self._derived = Derived.of(values)
        return self._derived

    def _ordered(self) -> list[BatchView]:
        """Every batch in the current sort order: a filter only filters this list (sorting
        10,000 batches takes ~10 ms)."""
        derived = self._derive()
        spec = (self.sort_by, self.descending)
        if derived.sort != spec:
            derived.ordered = sorted(
                derived.values, key=sort_key(self.sort_by), reverse=self.descending
            )
            derived.sort = spec
            derived.views = {}
        return derived.ordered

    def _view_keys(self) -> list[str]:
        """The keys of the current view (no filter) in the current sort, kept until a batch
        or the sort changes: switching views back and forth costs a list lookup."""
        ordered = self._ordered()
        views = self._derive().views
        view = self.view  # read once (see render_rows)
        if view not in views:
            views[view] = [b.id for b in ordered if in_view(b, view)]
        return views[view]

    def _job_keys(self, needle: str, provider: str | None = None) -> list[str]:
        """Job rows each followed by their batches, then batches without a job."""
        by_job: dict[str, list[BatchView]] = {}
        loose: list[BatchView] = []
        for b in self._batches.values():
            if provider is not None and b.remote.provider != provider:
                continue
            if b.job_id and b.job_id in self._jobs:
                by_job.setdefault(b.job_id, []).append(b)
            else:
                loose.append(b)
        keys: list[str] = []
        self._members = {}
        jobs = sorted(
            self._jobs.values(), key=lambda j: (j.created_at, j.id), reverse=self.descending
        )
        for job in jobs:
            members = sorted(by_job.get(job.id, []), key=lambda b: (b.job_part or 0, b.id))
            if not members and not self._unsent_job(job, provider):
                continue
            hit = not needle or needle in job.name.casefold()
            if not hit and not any(matches(b, needle) for b in members):
                continue
            self._members[job.id] = members
            keys.append(JOB_PREFIX + job.id)
            keys.extend(b.id for b in members)
        loose = [b for b in loose if matches(b, needle)]
        loose.sort(key=sort_key(self.sort_by), reverse=self.descending)
        keys.extend(b.id for b in loose)
        return keys

    def _unsent_job(self, job: Job, provider: str | None) -> bool:
        """A job none of whose parts made a batch, still to finish (parts unresolved or not
        sent): shown, so that it can be selected (u, A). Its batches hidden by the provider
        filter do not make it one."""
        if job.batch_ids:
            return False
        if provider is not None and self.fleet.service_for_job(job.id).provider != provider:
            return False
        progress = self.fleet.job_progress(job.id)
        return progress is not None and not progress.complete

    def _cells(self, key: str) -> tuple[Text, ...]:
        """The cells of one row, built when the table draws it (cached by the builder)."""
        now = self._now()
        if key.startswith(JOB_PREFIX):
            job_id = key.removeprefix(JOB_PREFIX)
            job = self._jobs.get(job_id)
            if job is not None:
                return self._builder.job_cells(job, self._members.get(job_id, []), now)
        elif (batch := self._batches.get(key)) is not None:
            member = self.view == "jobs" and batch.job_id in self._members
            job = self._jobs.get(batch.job_id) if batch.job_id else None
            return self._builder.batch_cells(batch, now, indent="  └ " if member else "", job=job)
        return tuple(Text() for _ in self._columns)  # gone since the last render: a blank row

    def _update_headers(self) -> None:
        arrow = " ▼" if self.descending else " ▲"
        labels = dict(SORTS)
        sorted_by = self.sort_by if self.view != "jobs" else None
        for col in self._columns:
            label = col.label
            if col.key == sorted_by:
                label = labels.get(col.key, label) + arrow
            self.table.set_header(col.key, label)

    def _update_title(self, shown: str, total: int, active: int) -> None:
        self._title_counts = (shown, total, active)
        bar = self.query_one("#title-bar", Static)
        room = bar.content_region.width or self.app.size.width - 2
        for level in range(len(TITLE_LEVELS)):
            title = self._title(level, shown, total, active)
            if title.cell_len <= room:
                break
        bar.update(title, layout=False)

    def _title(self, level: int, shown: str, total: int, active: int) -> Text:
        """The title line at a level of detail (`TITLE_LEVELS`): views always, the rest as
        the width allows."""
        parts = TITLE_LEVELS[level]
        title = Text(no_wrap=True, overflow="ellipsis", end="")

        def sep() -> None:
            if title:
                gap(title)
                title.append("│", style="dim")
                gap(title)

        if "brand" in parts:
            title.append("batchtop", style="bold")
            gap(title)
        if "counts" in parts:
            title.append(f"{quantity(total, 'batch', 'batches')} · {active:,} active")
        sep()
        labels = VIEWS if "views" in parts else SHORT_VIEWS
        for i, (name, label) in enumerate(labels.items(), start=1):
            if i > 1:
                gap(title, " ")
            style = "reverse bold" if name == self.view else "dim"
            title.append(f" {i} {label} ", style=style)
        if self.provider_filter and "provider" in parts:
            sep()
            title.append(f"{provider_name(self.provider_filter)} only", style="bold")
        if self.filter_text and "filter" in parts:
            sep()
            title.append("filter: ")
            title.append_text(safe_text(self.filter_text, one_line=True, limit=30))
        filtered = "filtered" in parts and (self.provider_filter or self.filter_text)
        if "shown" in parts or filtered:
            sep()
            title.append(shown)
        if "sort" in parts and self.view != "jobs":
            sep()
            arrow = "▼" if self.descending else "▲"
            title.append(f"sorted by {dict(SORTS).get(self.sort_by, self.sort_by)} {arrow}")
        return title

    def on_resize(self) -> None:
        self._fit(*self.size)

    def _fit(self, width: int, height: int) -> None:
        """The layout's choices by the terminal's size (short, narrow detail, the title)."""
        self.set_class(height < SHORT_BELOW, "-short")
        self.query_one(BatchDetail).set_width(width)
        if self._title_counts is not None:
            self._update_title(*self._title_counts)

    def update_detail(self) -> None:
        """Show the selection in the detail panel, unless it already shows that version of it
        (a view switch or a refresh that kept the cursor on an unchanged batch)."""
        detail = self.query_one(BatchDetail)
        if not detail.display:
            return
        key = self.table.selected_key
        if key is not None and key.startswith(JOB_PREFIX):
            job = self._jobs.get(key.removeprefix(JOB_PREFIX))
            members = [b for b in self._batches.values() if job and b.job_id == job.id]
            progress = self.fleet.job_progress(job.id) if job is not None else None
            if self._detail_shows(key, job, progress, *members):
                key_shown = self._key_of("abandon") if progress and progress.open else ""
                detail.show_job(job, members, self._now(), progress, key_shown)
            return
        batch = self._batches.get(key or "")
        if batch is None:
            if self._detail_shows(None):
                detail.show(None)
            return
        children = self._derive().children.get(batch.id, [])
        job = self._jobs.get(batch.job_id or "")
        if self._detail_shows(key, batch, job, *children):
            detail.show(self._detail_info(batch, job, children))

    def _key_of(self, binding_id: str) -> str:
        """The key bound to a binding id now (the keymap may have moved it), as shown."""
        for key, active in self.active_bindings.items():
            if active.binding.id == binding_id:
                return self.app.get_key_display(active.binding.with_key(key))
        return ""

    def _detail_shows(self, *what: object) -> bool:
        """Record what the panel is about to show; False if it shows exactly that already."""
        if what == self._detail_of:
            return False
        self._detail_of = what
        return True

    def _detail_info(
        self, batch: BatchView, job: Job | None, children: list[BatchView]
    ) -> DetailInfo:
        by_count, by_time = _safely(lambda: self.fleet.progress(batch.id), (0.0, 0.0))
        return DetailInfo(
            batch=batch,
            now=self._now(),
            by_count=by_count,
            by_time=by_time,
            eta=_safely(lambda: self.fleet.eta(batch.id), None),
            snapshots=_safely(lambda: self.fleet.snapshots(batch.id), []),
            job=job,
            children=children,
            results_warning=_safely(lambda: self.fleet.adopted_warning(batch.id), None),
        )

    @on(BatchesTable.Highlighted, "#batches")
    def _row_highlighted(self) -> None:
        self.update_detail()

    @on(BatchesTable.Selected, "#batches")
    def _row_selected(self) -> None:
        self.action_open_results()

    # --- views, filter, sort, cursor ---------------------------------------------------------

    def action_view(self, name: str) -> None:
        if name in VIEWS:
            self.view = name  # type: ignore[assignment,unused-ignore]

    def action_provider(self) -> None:
        """Show one provider's batches, the next one's, then all again."""
        providers = self.fleet.providers
        if len(providers) < 2:
            name = provider_name(providers[0])
            self.notify(f"Only {name} batches are shown ({self.fleet.alone_reason}).")
            return
        order: list[str | None] = [None, *providers]
        self.provider_filter = order[(order.index(self.provider_filter) + 1) % len(order)]

    async def action_filter(self) -> None:
        box = self._filter_box
        if box is None:
            # Made when first opened: the first frame does without it (an Input's CSS and
            # mount are a noticeable share of the dashboard's start). Awaited, so keys typed
            # right after `/` are handled once it is there.
            box = Input(placeholder="filter by label or id · enter keeps · esc clears", id="filter")
            self._filter_box = box
            await self.mount(box, after=self.query_one("#title-bar"))
        elif box.has_focus:  # `/` is a priority key: in the box it is text
            box.insert_text_at_cursor("/")
            return
        box.display = True
        self.set_focus(box)  # now (`focus()` waits a turn): what is typed next goes to the box

    def _close_filter_box(self) -> None:
        """Empty and hide the filter box, if `/` ever opened it."""
        self._stop_filter_timer()
        box = self._filter_box
        if box is not None:
            with box.prevent(Input.Changed):
                box.value = ""
            box.display = False

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        value = event.value.strip()
        self._stop_filter_timer()
        if len(self._batches) < DEBOUNCE_ABOVE:
            self.filter_text = value
        else:  # thousands of batches: wait for a pause in typing

            def commit() -> None:
                self.filter_text = value

            self._filter_timer = self.set_timer(0.15, commit)

    def _stop_filter_timer(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.set_focus(self.table)

    def action_back(self) -> None:
        box = self._filter_box
        if (box is not None and box.display) or self.filter_text:
            self._close_filter_box()
            self.filter_text = ""
            self.set_focus(self.table)

    def action_sort_by(self, name: str) -> None:
        """Sort by one column (the palette's "sort: by …")."""
        if name in dict(SORTS):
            self.sort = (name, default_descending(name))

    # --- finding a batch (the palette's batch finder) -------------------------------------

    def find_candidates(self) -> list[tuple[str, str, str]]:
        """(id, label, job name) of every batch, newest first."""
        jobs = self._jobs
        return [
            (b.id, b.label or "", jobs[b.job_id].name if b.job_id in jobs else "")
            for b in sorted(self._batches.values(), key=lambda b: b.remote.created_at, reverse=True)
            if not b.deleted
        ]

    def batch_view(self, batch_id: str) -> BatchView | None:
        return self._batches.get(batch_id)

    def show_batch(self, batch_id: str) -> None:
        """Put the cursor on a batch, clearing the filter and view that hide it."""
        if batch_id not in self._batches:
            return
        if batch_id not in self.table.keys:
            self._close_filter_box()
            # both at once, then one render (each alone would render on its own)
            self.set_reactive(DashboardScreen.filter_text, "")
            self.set_reactive(DashboardScreen.view, "all")
            self.set_reactive(DashboardScreen.provider_filter, None)
            self.render_rows()
        self.table.move_cursor(row=self.table.get_row_index(batch_id))
        self.set_focus(self.table)

    def action_sort(self) -> None:
        names = [name for name, _ in SORTS]
        name = names[(names.index(self.sort_by) + 1) % len(names)]
        self.sort = (name, default_descending(name))

    def action_sort_invert(self) -> None:
        self.sort = (self.sort_by, not self.descending)

    def action_toggle_detail(self) -> None:
        detail = self.query_one(BatchDetail)
        detail.display = not detail.display
        self.update_detail()

    def action_cursor_down(self) -> None:
        self.table.action_cursor_down()

    def action_cursor_up(self) -> None:
        self.table.action_cursor_up()

    def action_cursor_top(self) -> None:
        self.table.action_first()

    def action_cursor_bottom(self) -> None:
        self.table.action_last()


def _safely(call: Callable[[], T], default: T) -> T:
    """Detail-panel reads are nice-to-have: a failure must not break the dashboard."""
    try:
        return call()
    except Exception:
        return default
