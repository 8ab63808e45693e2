"""The statistics view of a batch or a job: what its results look like, and its progress.

Everything on it comes from `core.stats` SQL aggregates, read in a thread worker in two
steps so the first charts appear as soon as the grouped pass is done (outcomes, stop reasons,
cost by model), then the progress line, then the token histograms and the top requests.
`c` writes the focused chart's numbers as CSV, `s` the whole view as SVG (Textual's
screenshot), both with core's atomic writer; enter on a top request opens it in the results
viewer.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from batchtop.core.errors import BatchtopError
from batchtop.core.models import (
    BatchChanged,
    BatchEnded,
    NotableRequest,
    ProgressSeries,
    ResultBreakdown,
    ResultDistribution,
    ResultFilter,
    ResultsReady,
)
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Grid
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from ..keys import STATISTICS_KEYS, bindings
from ..messages import ServiceEvent
from ..safe_text import safe_text
from ..widgets.charts import BarChart, Chart, HistogramChart, ProgressChart, _usd
from ..widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from batchtop.core.service import BatchService


class BreakdownLoaded(Message):
    def __init__(self, breakdown: ResultBreakdown) -> None:
        super().__init__()
        self.breakdown = breakdown


class DistributionLoaded(Message):
    def __init__(self, distribution: ResultDistribution) -> None:
        super().__init__()
        self.distribution = distribution


class ProgressLoaded(Message):
    def __init__(self, series: ProgressSeries | None) -> None:
        super().__init__()
        self.series = series

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ProgressLoaded)


class StatsFailed(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


# The first query starts as the screen is created, on a thread of its own, and so runs while
# Textual composes and mounts the screen: when it is done by then, the first frame already
# has the first charts (one full render instead of an empty one and then the charts). One
# long-lived thread: its SQLite connection keeps a warm page cache from one opening to the next.
_EARLY = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batchtop-stats")


class StatisticsScreen(Screen[None]):
    """Charts of `batch_ids` (one batch, or every batch of a job)."""

    HELP_TITLE = "Statistics"
    BINDINGS: ClassVar[list[BindingType]] = bindings(STATISTICS_KEYS)

    DEFAULT_CSS = """
    StatisticsScreen {
        layout: vertical;
        & #stats-title { height: 1; padding: 0 1; background: $primary-muted; text-style: bold; }
        & #stats-summary { height: auto; padding: 0 1; }
        & #stats-grid { grid-size: 3 2; height: 2fr; min-height: 20; }
        & #stats-top { height: 1fr; min-height: 5; border: round $panel; }
        & #stats-top:focus { border: round $accent; }
    }
    """

    def __init__(
        self, service: BatchService, batch_ids: Sequence[str], title: str = "Statistics"
    ) -> None:
        super().__init__()
        self.service = service
        self.batch_ids = list(batch_ids)
        self.heading = title
        self.breakdown: ResultBreakdown | None = None
        self.distribution: ResultDistribution | None = None
        self.series: ProgressSeries | None = None
        self.loaded = False  # every part is on screen (tests wait on this)
        self.last_written: Path | None = None
        self._early: Future[ResultBreakdown] = _EARLY.submit(
            service.result_breakdown, self.batch_ids
        )
        self._notable: list[NotableRequest] = []

    # --- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(safe_text(f"Statistics — {self.heading}", one_line=True), id="stats-title")
        yield Static("Reading the results index…", id="stats-summary")
        with Grid(id="stats-grid"):
            yield BarChart("outcomes", "Outcomes")
            yield BarChart("stop_reasons", "Stop reasons (succeeded)")
            yield BarChart("cost_by_model", "Cost by model", cost=True)
            yield ProgressChart("progress", "Progress")
            yield HistogramChart("output_tokens", "Output tokens")
            yield HistogramChart("input_tokens", "Input tokens (prompt)")
        table: DataTable[Text] = DataTable(id="stats-top", cursor_type="row", zebra_stripes=True)
        table.border_title = "Top requests"
        yield table
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one("#stats-top", DataTable)
        table.add_columns("list", "custom_id", "outcome", "stop", "in tok", "out tok", "cost")
        self.query_one(BarChart).focus()
        if self._early.done() and self._early.exception() is None:
            self._show_breakdown(self._early.result())
        self.load()

    def on_service_event(self, message: ServiceEvent) -> None:
        """Progress moves with every refresh; results change when they arrive (the app hands
        every service event to each screen of its stack)."""
        event = message.event
        if isinstance(event, BatchChanged | BatchEnded) and event.batch.id in self.batch_ids:
            self.load_progress()
        if isinstance(event, ResultsReady) and event.batch_id in self.batch_ids:
            self._early = _EARLY.submit(self.service.result_breakdown, self.batch_ids)
            self.load()

    # --- loading (thread workers; SQL only) ---------------------------------------------

    @work(thread=True, group="stats-load", exclusive=True, exit_on_error=False)
    def load(self) -> None:
        try:
            breakdown = self._early.result()
            self.post_message(BreakdownLoaded(breakdown))
            self.post_message(ProgressLoaded(self.service.progress_series(self.batch_ids)))
            distribution = self.service.result_distribution(self.batch_ids, breakdown)
            self.post_message(DistributionLoaded(distribution))
        except BatchtopError as exc:
            self.post_message(StatsFailed(str(exc)))

    @work(thread=True, group="stats-progress", exclusive=True, exit_on_error=False)
    def load_progress(self) -> None:
        self.post_message(ProgressLoaded(self.service.progress_series(self.batch_ids)))

    def on_breakdown_loaded(self, message: BreakdownLoaded) -> None:
        if message.breakdown is not self.breakdown:  # not already shown by on_mount
            self._show_breakdown(message.breakdown)

    def _show_breakdown(self, breakdown: ResultBreakdown) -> None:
        b = self.breakdown = breakdown
        with self.app.batch_update():
            self.query_one("#chart-outcomes", BarChart).show(b.outcomes)
            self.query_one("#chart-stop_reasons", BarChart).show(
                b.stop_reasons, empty="no succeeded requests"
            )
            self.query_one("#chart-cost_by_model", BarChart).show(
                b.cost_by_model, empty="no cost recorded"
            )
        self._update_summary()

    def on_progress_loaded(self, message: ProgressLoaded) -> None:
        self.series = message.series
        self.query_one(ProgressChart).show(message.series)
        self._update_summary()

    def on_distribution_loaded(self, message: DistributionLoaded) -> None:
        d = self.distribution = message.distribution
        with self.app.batch_update():
            self.query_one("#chart-output_tokens", HistogramChart).show(d.output_tokens)
            self.query_one("#chart-input_tokens", HistogramChart).show(d.input_tokens)
            self._fill_top(d)
        self.loaded = True

    def on_stats_failed(self, message: StatsFailed) -> None:
        self.query_one("#stats-summary", Static).update(Text(message.text, style="red"))
        self.loaded = True

    def _no_results_words(self) -> str:
        """Why there are no rows: not downloaded yet, or never any (the batches failed)."""
        views = [self.service.batch(i) for i in self.batch_ids]
        never = [v.remote.results_never for v in views if v is not None]
        if never and len(never) == len(self.batch_ids) and all(never):
            return f"no results: {never[0]}"
        return "no results downloaded yet"

    def _update_summary(self) -> None:
        b = self.breakdown
        if b is None:
            return
        parts = [f"{b.total:,} results"]
        if b.total:
            parts.append(f"cost {_usd(b.cost_usd)}")
            parts.extend(b.cost_notes)
            by_outcome = ", ".join(
                f"{s.label} {_usd(s.cost_usd)}" for s in b.cost_by_outcome if s.count
            )
            parts.append(f"by outcome: {by_outcome}")
        else:
            parts.append(self._no_results_words())
        s = self.series
        if s is not None:
            state = "ended" if s.ended else f"{s.done:,}/{s.total:,} done"
            parts.append(state)
        self.query_one("#stats-summary", Static).update(Text(" · ".join(parts)))

    def _fill_top(self, d: ResultDistribution) -> None:
        table = self.query_one("#stats-top", DataTable)
        table.clear()
        self._notable = []
        for name, rows in (
            ("longest answer", d.longest),
            ("longest prompt", d.largest_inputs),
            ("most expensive", d.priciest),
        ):
            for r in rows:
                table.add_row(
                    Text(name),
                    safe_text(r.custom_id, one_line=True),
                    safe_text(str(r.type), one_line=True),
                    safe_text(r.stop_reason or "", one_line=True),
                    Text(f"{r.input_tokens:,}", justify="right"),
                    Text(f"{r.output_tokens:,}", justify="right"),
                    Text(_usd(r.cost_usd) if r.cost_usd is not None else "", justify="right"),
                )
                self._notable.append(r)

    # --- actions --------------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss(None)

    def _owner(self) -> str:
        if len(self.batch_ids) > 1:
            view = self.service.batch(self.batch_ids[0])
            if view is not None and view.job_id:
                return view.job_id
        return self.batch_ids[0] if self.batch_ids else "batch"

    def _focused_chart(self) -> Chart:
        focused = self.focused
        return focused if isinstance(focused, Chart) else self.query_one(Chart)

    def action_export_chart(self) -> None:
        from batchtop.core.export import default_chart_path, table_csv

        chart = self._focused_chart()
        if chart.table is None:
            self.notify("That chart has no data yet.", severity="warning")
            return
        header, rows = chart.table
        path = default_chart_path(self._owner(), chart.chart_id, "csv")
        self._write(path, table_csv(header, rows), f"{chart.border_title} data")

    def action_save_svg(self) -> None:
        from batchtop.core.export import default_chart_path

        svg = self.app.export_screenshot(title=f"batchtop statistics — {self.heading}")
        path = default_chart_path(self._owner(), "statistics", "svg")
        self._write(path, svg.encode("utf-8"), "Statistics view")

    def _write(self, path: Path, data: bytes, what: str) -> None:
        from batchtop.core.export import write_atomic

        try:
            written = write_atomic(path, data)
        except BatchtopError as exc:
            self.notify(Text(str(exc)).plain, severity="error", markup=False)
            return
        self.last_written = written
        self.notify(f"{what} written to {written}", title="Saved", markup=False)

    @on(DataTable.RowSelected, "#stats-top")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self._open(event.cursor_row)

    def action_open_request(self) -> None:
        table = self.query_one("#stats-top", DataTable)
        if self.focused is table:
            self._open(table.cursor_row)

    def _open(self, index: int) -> None:
        if not 0 <= index < len(self._notable):
            return
        request = self._notable[index]
        from .results import ResultsScreen

        only = ResultFilter(custom_ids=frozenset({request.custom_id}))
        screen = ResultsScreen(self.service, self.batch_ids, self.heading, filt=only)
        self.app.push_screen(screen)
