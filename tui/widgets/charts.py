"""Charts of the statistics view, drawn with textual-plotext (Textual's plotext widget).

Each chart is given core dataclasses (`Share`s, a `Histogram`, a `ProgressSeries`) and keeps
the table of numbers it draws, which `c` exports as CSV (`core.stats` builds those tables,
so the file and the picture can never disagree). Labels come from the API (models, error
types, stop reasons): control characters are removed before plotext sees them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from batchtop.core.models import Histogram, ProgressSeries, Share
from batchtop.core.stats import ChartTable, histogram_table, progress_table, shares_table
from textual.app import RenderResult
from textual_plotext import PlotextPlot

from ..format import money
from ..safe_text import clean

LABEL_WIDTH = 22


def _label(text: str) -> str:
    value = clean(text, keep_newlines=False)
    return value if len(value) <= LABEL_WIDTH else value[: LABEL_WIDTH - 1] + "…"


def _usd(value: float) -> str:
    return money(value)


def time_unit(span_s: float) -> tuple[float, str]:
    """(seconds per unit, unit) for an axis spanning `span_s` seconds: hours from 3 hours,
    minutes from 3 minutes, else seconds (never `0.0050 hours`)."""
    if span_s >= 3 * 3600:
        return 3600.0, "hours"
    if span_s >= 180:
        return 60.0, "minutes"
    return 1.0, "seconds"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def _int_ticks(top: int, n: int = 4) -> tuple[list[int], list[str]]:
    step = max(1, -(-top // n))
    ticks = list(range(0, top + 1, step))
    return ticks, [f"{t:,}" for t in ticks]


class Chart(PlotextPlot):
    """A focusable plot that remembers the numbers it shows."""

    can_focus = True
    DEFAULT_CSS = """
    Chart { border: round $panel; height: 1fr; width: 1fr; }
    Chart:focus { border: round $accent; }
    """

    def __init__(self, chart_id: str, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id or f"chart-{chart_id}")
        self.chart_id = chart_id
        self.border_title = title
        self.table: ChartTable | None = None  # None: nothing loaded yet
        self.drawn = 0  # renders with data (tests and the bench wait on this)

    def on_unmount(self) -> None:
        # textual-plotext subscribes each plot to the app's theme signal and never lets go:
        # the callback holds the widget (the weak key of the signal's table), so every chart
        # of every statistics view ever opened stayed alive with the app (~2,000 objects
        # each, walked by each full GC pass after that).
        self.app.theme_changed_signal.unsubscribe(self)

    def render(self) -> RenderResult:
        if self.table is None:
            return ""  # no plot to build until the numbers arrive (keeps the first frame fast)
        self.drawn += 1
        return super().render()

    def _reset(self) -> Any:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        return plt

    def _empty(self, message: str) -> None:
        plt = self._reset()
        plt.text(message, 0.5, 0.5, alignment="center")
        plt.xlim(0, 1)
        plt.ylim(0, 1)
        plt.xticks([])
        plt.yticks([])


class BarChart(Chart):
    """Horizontal bars, one per `Share`: request counts, or costs with `cost=True`."""

    def __init__(self, chart_id: str, title: str, *, cost: bool = False) -> None:
        super().__init__(chart_id, title)
        self.cost = cost

    def show(self, shares: Sequence[Share], empty: str = "no results") -> None:
        self.table = shares_table(shares)
        shown = [s for s in shares if (s.cost_usd if self.cost else s.count) > 0]
        if not shown:
            self._empty(empty)
        else:
            plt = self._reset()
            top_down = list(reversed(shown))  # plotext draws the first bar at the bottom
            values = [s.cost_usd if self.cost else s.count for s in top_down]
            labels = [
                f"{_label(s.label)} {_usd(s.cost_usd) if self.cost else f'{s.count:,}'}"
                for s in top_down
            ]
            plt.bar(labels, values, orientation="horizontal", width=0.4)
            plt.xticks([])
        self.refresh()


class HistogramChart(Chart):
    """Requests per token-count bin."""

    def show(self, hist: Histogram, unit: str = "tokens") -> None:
        self.table = histogram_table(hist)
        if not any(hist.counts):
            self._empty("no tokens")
        else:
            plt = self._reset()
            centers = [(a + b) / 2 for a, b in zip(hist.edges, hist.edges[1:], strict=False)]
            width = hist.edges[1] - hist.edges[0]
            plt.bar(centers, list(hist.counts), width=width * 0.9)
            step = max(1, len(hist.counts) // 4)
            ticks = list(hist.edges[::step])
            plt.xticks(ticks, [f"{t:,}" for t in ticks])
            plt.yticks(*_int_ticks(max(hist.counts)))
            plt.xlabel(unit + " (succeeded requests)")
        self.refresh()


class ProgressChart(Chart):
    """Completed requests against time since creation, with the expiry and the ETA."""

    def show(self, series: ProgressSeries | None) -> None:
        self.table = progress_table(series)
        self.border_subtitle = ""
        if series is None:
            self._empty("no batch")
            self.refresh()
            return
        plt = self._reset()
        # every point inside the x range (plotext fills a line that leaves it point by point)
        right = max(series.now_s, series.eta_s or 0.0, series.points[-1].seconds, 1.0)
        show_expiry = series.expires_s <= right * 1.5 or not series.ended
        if show_expiry:
            right = max(right, series.expires_s)
        scale, unit = time_unit(right)  # by the span drawn (a batch that took 18 s: seconds)
        xs = [p.seconds / scale for p in series.points]
        ys = [p.done for p in series.points]
        plt.plot(xs, ys, marker="braille")
        notes = [f"{series.done:,}/{series.total:,} done"]
        if series.eta_s is not None:
            plt.vline(series.eta_s / scale, "green")
            notes.append(f"ETA (green) {_duration(series.eta_s)}")
        if show_expiry:
            plt.vline(series.expires_s / scale, "red")
            notes.append(f"expiry (red) {_duration(series.expires_s)}")
        self.border_subtitle = " · ".join(notes)
        plt.hline(series.total, "gray")
        plt.yticks(*_int_ticks(series.total))
        plt.xlim(0, max(right / scale, 1e-6) * 1.02)
        plt.ylim(0, max(series.total, 1) * 1.05)
        plt.xlabel(unit + " since creation")
        self.refresh()
