"""The results viewer: browse, search and filter the results of a batch or a whole job.

Rows are paged from the core's results index (`BatchService.results_page`) by a windowed
table, so 100,000 results open and scroll as fast as 100. Queries that may take a while
(search, filters, the first page after a download) run in a thread worker; the table then
fetches further pages on demand as it scrolls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from batchtop.core.errors import BatchtopError
from batchtop.core.models import (
    BatchEnded,
    ProcessingStatus,
    ResultFilter,
    ResultPage,
    ResultsReady,
    ResultSummary,
    ResultType,
)
from batchtop.tui.format import money, size
from batchtop.tui.keys import RESULTS_KEYS, bindings
from batchtop.tui.messages import ServiceEvent
from batchtop.tui.safe_text import clean, safe_text
from batchtop.tui.screens.worker_errors import report_worker_error
from batchtop.tui.widgets.key_footer import KeyFooter
from batchtop.tui.widgets.result_detail import ResultDetail
from batchtop.tui.widgets.results_table import (
    PAGE_SIZE,
    STATUS_STYLES,
    ResultsTable,
    header_text,
)
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.markup import escape
from textual.message import Message
from textual.reactive import var
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, ProgressBar, Static
from textual.worker import Worker

if TYPE_CHECKING:
    from batchtop.core.service import BatchService

STATUS_KEYS: dict[str, ResultType | None] = {
    "all": None,
    "succeeded": ResultType.SUCCEEDED,
    "errored": ResultType.ERRORED,
    "expired": ResultType.EXPIRED,
    "canceled": ResultType.CANCELED,
}
SHORT_STATUS_NAMES = ("all", "ok", "err", "exp", "canc")
"""The status names of a narrow counts line (same keys, same order as STATUS_KEYS)."""
COUNTS_LEVELS: tuple[frozenset[str], ...] = tuple(
    frozenset(level.split()) for level in ("names hint standard", "names standard", "names", "")
)
"""What the counts line shows, most first: the first level that fits is drawn (the filters
and the cost always; the error-type hint, the standard price and the full names as room
allows)."""
SEARCH_DEBOUNCE_S = 0.15
DETAIL_DEBOUNCE_S = 0.1
"""Held j/k repeats faster than this: the (costly) Markdown pane renders once it settles."""


class TextLine(Widget):
    """One line of text that repaints without a layout pass (Static.update re-lays out the
    whole screen, which costs more than the table move it reports)."""

    DEFAULT_CSS = "TextLine { height: 1; width: 1fr; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = Text()

    def set(self, text: Text) -> None:
        if text.plain != self._text.plain or text.spans != self._text.spans:
            self._text = text
            self.refresh()

    def render(self) -> Text:
        return self._text


class ResultsLoaded(Message):
    """A filter's first page, fetched off the event loop."""

    def __init__(
        self,
        filt: ResultFilter,
        page: ResultPage,
        summary: ResultSummary | None,
        note: Text | None = None,
    ) -> None:
        super().__init__()
        self.filt = filt
        self.page = page
        self.summary = summary
        self.note = note  # a state to show instead of "no results"


class ResultsCounted(Message):
    """The total of a filter whose first page was shown before it was counted."""

    def __init__(self, filt: ResultFilter, total: int) -> None:
        super().__init__()
        self.filt = filt
        self.total = total


class DownloadProgress(Message):
    def __init__(self, done: int, total: int | None) -> None:
        super().__init__()
        self.done = done
        self.total = total

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DownloadProgress)


class DownloadWaiting(Message):
    """Another process is downloading the batch: `note` says so."""

    def __init__(self, note: str) -> None:
        super().__init__()
        self.note = note


class ResultsScreen(Screen[None]):
    """Results of `batch_ids` (one batch, or every batch of a job)."""

    BINDING_GROUP_TITLE = "Results"
    HELP_TITLE = "Results"
    BINDINGS: ClassVar[list[BindingType]] = bindings(RESULTS_KEYS)

    filt: var[ResultFilter] = var(ResultFilter, init=False)
    """What the table shows: setting it runs the filtered query (`watch_filt`)."""

    DEFAULT_CSS = """
    ResultsScreen {
        layout: vertical;
        & #results-title { height: 1; padding: 0 1; background: $primary-muted; text-style: bold; }
        & #results-counts { height: 1; padding: 0 1; }
        & #results-search { height: 1; border: none; padding: 0 1; margin: 0 1;
                            background: $boost; display: none; }
        & #results-search.-active { display: block; }
        & #results-columns { height: 1; padding: 0 1 0 0; text-style: bold;
                             color: $text-muted; background: $boost; }
        & #results-main { height: 3fr; }
        & #results-position { height: 1; padding: 0 1; color: $text-muted; }
        & #results-state { height: auto; padding: 1 2; display: none; }
        & #results-state.-active { display: block; }
        & #results-download { width: 60; margin-top: 1; }
        & ResultDetail { height: 2fr; }
    }
    """

    def __init__(
        self,
        service: BatchService,
        batch_ids: Sequence[str] = (),
        title: str = "Results",
        filt: ResultFilter | None = None,
    ) -> None:
        super().__init__()
        if filt is not None:  # the first load shows it (no query before that)
            self.set_reactive(ResultsScreen.filt, filt)
        self.service = service
        self.batch_ids = list(batch_ids)
        self.heading = title
        self.summary: ResultSummary | None = None
        self._error_type_cycle: list[str] = []
        self._stop_reason_cycle: list[str] = []
        self._search_timer: Timer | None = None
        self._detail_timer: Timer | None = None
        self.loaded = False  # the first page is on screen (tests wait on this)
        self._load_note: Text | None = None  # what the last full load had to say
        self._counting = False  # the table's total is a lower bound until ResultsCounted
        self._unsubscribe: Callable[[], None] = lambda: None

    # --- layout ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(safe_text(self.heading, one_line=True), id="results-title")
        yield TextLine(id="results-counts")
        yield Input(
            placeholder="search output and input text · enter keeps · esc clears",
            id="results-search",
        )
        with Vertical(id="results-state"):
            yield Static("", id="results-state-text")
            yield ProgressBar(total=None, show_eta=False, id="results-download")
            yield Static("", id="results-download-bytes")
        with Vertical(id="results-main"):
            yield TextLine(id="results-columns")
            yield ResultsTable(id="results-table")
            yield TextLine(id="results-position")
        yield ResultDetail(id="results-detail")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(ResultsTable).focus()
        self.watch(self.table, "scroll_y", lambda *_: self._update_position(), init=False)
        self._show_state("Loading results…", progress=False)
        self.load_results()

    def on_service_event(self, message: ServiceEvent) -> None:
        """A batch shown here ended or got its results (maybe from another task): reload."""
        event = message.event
        if isinstance(event, BatchEnded | ResultsReady):
            batch_id = event.batch.id if isinstance(event, BatchEnded) else event.batch_id
            if batch_id in self.batch_ids and not self.workers_in_group("results-load"):
                self.load_results()

    def workers_in_group(self, group: str) -> bool:
        return any(w.node is self and w.group == group and not w.is_finished for w in self.workers)

    @property
    def table(self) -> ResultsTable:
        return self.query_one(ResultsTable)

    def _show_state(self, message: str | Text | None, *, progress: bool = False) -> None:
        state = self.query_one("#results-state")
        state.set_class(message is not None, "-active")
        if message is not None:
            body = message if isinstance(message, Text) else Text(message)
            self.query_one("#results-state-text", Static).update(body)
        self.query_one("#results-download").display = progress

    # --- loading ---------------------------------------------------------------------

    @work(group="results-load", exclusive=True, exit_on_error=False)
    async def load_results(self) -> None:
        """Download what is missing (with a progress bar), then show the first page."""
        pending: list[str] = []
        waiting: list[str] = []
        problems: list[str] = []
        for batch_id in self.batch_ids:
            view = self.service.batch(batch_id)
            if view is None:
                continue
            if view.remote.processing_status is not ProcessingStatus.ENDED:
                waiting.append(batch_id)
            elif (
                not view.results_downloaded
                or (not view.results_indexed and view.remote.request_counts.total)
                or not self.service.results_on_disk(batch_id)
            ):  # never fetched, an interrupted ingest left nothing indexed, or the file went
                pending.append(batch_id)
        for n, batch_id in enumerate(pending, 1):
            label = f" ({n}/{len(pending)})" if len(pending) > 1 else ""
            self._show_state(
                Text(f"Downloading results of {clean(batch_id)}{label}…"), progress=True
            )
            try:
                outcome = await self.service.download_results(
                    batch_id, progress=self._on_download, on_wait=self._on_download_wait
                )
            except BatchtopError as exc:  # show the others anyway; say what is missing
                problems.append(f"Could not download the results of {batch_id}: {exc}")
                continue
            if outcome.note is not None:  # another batchtop process downloaded them
                self.notify(escape(clean(outcome.note, keep_newlines=False)))
        summary, page = await asyncio.to_thread(self._query, self.filt)
        note: Text | None = None
        if problems:
            note = Text("\n".join(clean(p) for p in problems), style="red")
        elif waiting and not page.total:
            note = Text(
                "Results appear here once the batch has ended"
                f" ({', '.join(clean(w) for w in waiting)} still processing).",
                style="yellow",
            )
        self.post_message(ResultsLoaded(self.filt, page, summary, note))

    def _on_download(self, done: int, total: int | None = None, *_: Any) -> None:
        # May be called from a worker thread: post_message is thread-safe.
        self.post_message(DownloadProgress(done, total))

    def _on_download_wait(self, note: str) -> None:
        # Another batchtop process is downloading this batch: this one waits for it.
        self.post_message(DownloadWaiting(note))

    def on_download_waiting(self, message: DownloadWaiting) -> None:
        self._show_state(Text(clean(message.note)), progress=True)

    def on_download_progress(self, message: DownloadProgress) -> None:
        bar = self.query_one("#results-download", ProgressBar)
        bar.update(total=message.total, progress=message.done)
        self.query_one("#results-download-bytes", Static).update(
            Text(f"{size(message.done)} received", style="dim")
        )

    def _query(self, filt: ResultFilter) -> tuple[ResultSummary, ResultPage]:
        """The counts per outcome and the first page, counted (a full load)."""
        summary = self.service.result_summary(self.batch_ids)
        page = self.service.results_page(self.batch_ids, filt, 0, PAGE_SIZE)
        return summary, page

    def _fetcher(self, filt: ResultFilter) -> Any:
        ids = self.batch_ids

        def fetch(offset: int, limit: int) -> ResultPage:
            return self.service.results_page(ids, filt, offset, limit)

        return fetch

    def on_results_loaded(self, message: ResultsLoaded) -> None:
        if message.filt != self.filt:
            return  # an older query finished after a newer one was asked for
        if message.summary is not None:  # a full (re)load; its note holds until the next one
            self.summary = message.summary
            self._error_type_cycle = sorted(message.summary.by_error_type)
            self._stop_reason_cycle = sorted(message.summary.by_stop_reason)
            self._load_note = message.note
        self.table.highlight = message.filt.search  # marked in the rows
        self.table.set_source(self._fetcher(message.filt), first=message.page)
        self._counting = not message.page.counted
        self.loaded = True
        # A filter changed while the batch is still running keeps saying why it is empty.
        note = message.note or (self._load_note if not message.page.total else None)
        if note is not None:
            self._show_state(note)
        elif message.page.total or not self.batch_ids:
            self._show_state(None)
        elif message.summary is not None and not sum(message.summary.by_type.values()):
            self._show_state(Text("No results are indexed for this batch yet.", style="dim"))
        else:
            self._show_state(None)
        self._update_counts()
        self._update_position()
        self._update_columns()

    @work(group="search", exclusive=True, exit_on_error=False, thread=True)
    def apply_filter(self, filt: ResultFilter) -> None:
        """Run a (possibly slow) filtered query off the event loop; the newest one wins.

        The first page goes on screen before the total is counted when counting may take
        longer than finding the page: a search, or a job's batches merged (a pass over all
        their rows). A status filter on one batch is counted from indexes in a few
        milliseconds, so its page comes with its total (one repaint)."""
        quick_count = not filt.search.strip() and len(set(self.batch_ids)) == 1
        page = self.service.results_page(self.batch_ids, filt, 0, PAGE_SIZE, count=quick_count)
        self.post_message(ResultsLoaded(filt, page, None))
        if not page.counted:
            total = self.service.results_count(self.batch_ids, filt)
            self.post_message(ResultsCounted(filt, total))

    def on_results_counted(self, message: ResultsCounted) -> None:
        if message.filt != self.filt or not self._counting:
            return
        self._counting = False
        self.table.set_total(message.total)
        self._update_position()

    def watch_filt(self, filt: ResultFilter) -> None:
        self._update_counts()
        self.apply_filter(filt)

    def reload(self) -> None:
        """Re-read everything (after a retry or a new download)."""
        self.load_results()

    # --- header lines ----------------------------------------------------------------

    def _update_counts(self) -> None:
        """The counts line, at the first level of detail that fits the width (`COUNTS_LEVELS`):
        the cost stays whole on an 80-column terminal."""
        counts = self.query_one("#results-counts", TextLine)
        room = counts.content_region.width or self.size.width - 2
        for level in COUNTS_LEVELS:
            line = self._counts_line(level)
            if line.cell_len <= room:
                break
        counts.set(line)

    def _counts_line(self, level: frozenset[str]) -> Text:
        line = Text(no_wrap=True, end="")
        by_type = self.summary.by_type if self.summary else {}
        total = sum(by_type.values())
        active = set(self.filt.types)
        names = STATUS_KEYS if "names" in level else SHORT_STATUS_NAMES
        for key, (name, rtype) in enumerate(zip(names, STATUS_KEYS.values(), strict=True), 1):
            count = total if rtype is None else by_type.get(rtype, 0)
            selected = (rtype is None and not active) or (rtype is not None and rtype in active)
            style = STATUS_STYLES.get(rtype, "bold") if rtype else "bold"
            label = Text(f" {key} {name} {count:,} ", style=style)
            if selected:
                label.stylize("reverse")
            line.append_text(label)
            line.append(" ")
        if self.filt.stop_reasons:
            line.append("  stop: ", style="dim")
            line.append(clean(", ".join(sorted(self.filt.stop_reasons))), style="bold")
        if self.filt.error_types:
            line.append("  error type: ", style="dim")
            line.append(clean(", ".join(sorted(self.filt.error_types))), style="red")
        elif self._error_type_cycle and "hint" in level:
            line.append("  x: filter by error type", style="dim")
        if self.summary and self.summary.cost_usd:
            line.append(f"   cost {money(self.summary.cost_usd)}", style="dim")
            if "standard" in level:
                line.append(f" (standard {money(self.summary.standard_cost_usd)})", style="dim")
        return line

    def _update_columns(self) -> None:
        width = self.table.scrollable_content_region.width or self.size.width
        self.query_one("#results-columns", TextLine).set(header_text(width))

    def on_resize(self) -> None:
        self.call_after_refresh(self._update_columns)
        if self.summary is not None:
            self.call_after_refresh(self._update_counts)

    def _update_position(self) -> None:
        table = self.table
        if not table.total:
            text = Text("no matching results", style="dim")
        else:
            first, last = table.window
            of = f"{table.total:,}+ (counting…)" if self._counting else f"{table.total:,}"
            text = Text(
                f"rows {first + 1:,}–{last + 1:,} of {of} · row {table.cursor_row + 1:,}", end=""
            )
        if table.selected:
            text.append(f" · {len(table.selected):,} selected", style="bold")
        if self.filt.search:
            text.append(" · search: ")
            text.append(clean(self.filt.search, keep_newlines=False), style="italic")
            text.append(" (esc clears)", style="dim")
        self.query_one("#results-position", TextLine).set(text)

    # --- table events ----------------------------------------------------------------

    @on(ResultsTable.Highlighted)
    def _highlighted(self, event: ResultsTable.Highlighted) -> None:
        self._update_position()
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(DETAIL_DEBOUNCE_S, self._show_detail)

    @on(ResultsTable.WindowChanged)
    def _window_changed(self) -> None:
        self._update_position()

    @on(ResultsTable.FetchFailed)
    def _fetch_failed(self, event: ResultsTable.FetchFailed) -> None:
        self.notify(
            escape(clean(event.error, keep_newlines=False)[:300]),
            title="Could not read results",
            severity="error",
        )

    @on(ResultsTable.SelectionChanged)
    def _selection_changed(self) -> None:
        self._update_position()

    def _show_detail(self) -> None:
        row = self.table.current_row
        detail = self.query_one(ResultDetail)
        if row is None:
            detail.show(None)
            return
        raw_line: str | None = None
        raw_error: str | None = None
        try:
            found = self.service.result_detail(row.batch_id, row.custom_id)
        except BatchtopError as exc:  # its results file gone or changed: the raw view says so
            found, raw_error = None, str(exc)
        except Exception:  # the table row is still worth showing without its raw line
            found = None
        if found is not None:
            row, raw_line = found[0], found[1]
        detail.show(row, raw_line, search=self.filt.search, raw_error=raw_error)

    # --- search ----------------------------------------------------------------------

    def action_search(self) -> None:
        search = self.query_one("#results-search", Input)
        if search.has_focus:  # `/` is a priority key: in the box it is text
            search.insert_text_at_cursor("/")
            return
        search.add_class("-active")
        # Focus now (`focus()` waits a turn of the queue): keys typed right after `/` must
        # reach the box, not the bindings (`e` would open the export).
        self.set_focus(search)

    @on(Input.Changed, "#results-search")
    def _search_changed(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        value = event.value
        self._search_timer = self.set_timer(
            SEARCH_DEBOUNCE_S,
            lambda: setattr(self, "filt", replace(self.filt, search=value.strip())),
        )

    @on(Input.Submitted, "#results-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        self.filt = replace(self.filt, search=event.value.strip())
        self.set_focus(self.table)

    def action_back(self) -> None:
        """esc: out of the detail pane; else clear the search (as the dashboard's esc clears
        its filter); else back to the dashboard."""
        search = self.query_one("#results-search", Input)
        if self.query_one(ResultDetail).has_focus_within:
            self.set_focus(self.table)
            return
        if search.has_focus or search.has_class("-active") or self.filt.search:
            if self._search_timer is not None:
                self._search_timer.stop()
                self._search_timer = None
            with search.prevent(Input.Changed):
                search.value = ""
            search.remove_class("-active")
            self.set_focus(self.table)
            self.filt = replace(self.filt, search="")
            return
        self.dismiss(None)

    def action_focus_detail(self) -> None:
        self.set_focus(self.query_one(ResultDetail))

    # --- filters ---------------------------------------------------------------------

    def action_status(self, name: str) -> None:
        rtype = STATUS_KEYS.get(name)
        types = frozenset() if rtype is None else frozenset({rtype})
        error_types = self.filt.error_types
        if rtype is not ResultType.ERRORED:  # "all" clears the error-type filter too
            error_types = frozenset()
        self.filt = replace(self.filt, types=types, error_types=error_types)

    def action_cycle_error_type(self) -> None:
        if not self._error_type_cycle:
            self.notify("No errored results to filter by type.", severity="warning")
            return
        current = sorted(self.filt.error_types)
        options: list[str | None] = [None, *self._error_type_cycle]
        now = current[0] if len(current) == 1 else None
        nxt = options[(options.index(now) + 1) % len(options)] if now in options else None
        if nxt is None:
            self.filt = replace(self.filt, error_types=frozenset())
        else:
            self.filt = replace(self.filt, error_types=frozenset({nxt}), types=frozenset())

    def action_cycle_stop_reason(self) -> None:
        """Succeeded results by how they stopped: each stop reason present, then all."""
        if not self._stop_reason_cycle:
            self.notify("No stop reasons to filter by.", severity="warning")
            return
        current = sorted(self.filt.stop_reasons)
        options: list[str | None] = [None, *self._stop_reason_cycle]
        now = current[0] if len(current) == 1 else None
        nxt = options[(options.index(now) + 1) % len(options)] if now in options else None
        stops = frozenset() if nxt is None else frozenset({nxt})
        self.filt = replace(self.filt, stop_reasons=stops, error_types=frozenset())

    # --- actions on rows -------------------------------------------------------------

    def action_toggle_raw(self) -> None:
        detail = self.query_one(ResultDetail)
        detail.raw = not detail.raw

    def action_copy(self) -> None:
        row = self.table.current_row
        if row is None:
            self.notify("Nothing to copy.", severity="warning")
            return
        text = row.text if row.type is ResultType.SUCCEEDED else (row.error_message or "")
        if not text:
            self.notify("This result has no text.", severity="warning")
            return
        self.app.copy_to_clipboard(text)
        self.notify(
            f"{len(text):,} characters of {escape(clean(row.custom_id, keep_newlines=False))}",
            title="Copied to clipboard",
        )

    def action_statistics(self) -> None:
        from .statistics import StatisticsScreen

        self.app.push_screen(StatisticsScreen(self.service, self.batch_ids, self.heading))

    def action_export(self) -> None:
        from batchtop.tui.screens.export import ExportScreen

        self.app.push_screen(
            ExportScreen(
                self.service,
                batch_ids=self.batch_ids,
                filt=self.filt,
                selected=self.table.selected,
            )
        )

    @work(group="results-retry", exclusive=True, exit_on_error=False)
    async def action_retry(self) -> None:
        from batchtop.tui.screens.retry import retry_flow

        await retry_flow(self, self.service, self.batch_ids, clean(self.heading))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if report_worker_error(self, event) and event.worker.group == "results-load":
            self._show_state(Text("Could not load the results (see the notification).", "red"))
