"""Rich output for the command line, on the TUI's formatters (`tui/format.py`): both front ends
write durations, money and progress the same way.

Everything printed may carry text from files or the API: consoles never interpret markup or
emoji codes, and outside text is made safe (`tui/safe_text.py`) before it is shown."""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from batchtop.core.models import provider_name
from batchtop.tui import format as fmt
from batchtop.tui.safe_text import clean as _clean_text
from batchtop.tui.safe_text import safe_text
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from batchtop.core.fleet import Fleet
    from batchtop.core.models import BatchView, RequestCounts, WorkspaceInfo
    from batchtop.core.service import BatchService


class SafeConsole(Console):
    """A Console whose plain strings lose their control characters before printing."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(
            *(_clean_text(o) if isinstance(o, str) else o for o in objects),
            **kwargs,
        )

    def on_broken_pipe(self) -> None:
        """The reader left: the command ends as any closed pipe ends it (`entry.main`),
        rather than by Rich's own exit code."""
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # piped output (scripts, CI) gets a wide table instead of an 80-column squeeze
    width = None if stream.isatty() else 200
    return SafeConsole(
        stderr=stderr,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=False,
        width=width,
    )


def clean(text: str | None, *, one_line: bool = True, limit: int = 0) -> str:
    value = _clean_text(text or "", keep_newlines=not one_line)
    if limit and len(value) > limit:
        value = value[: max(limit - 1, 0)] + "…"
    return value


def txt(text: str | None, style: str = "", *, limit: int = 0) -> Text:
    return safe_text(text, style, one_line=True, limit=limit)


def sync_note(info: WorkspaceInfo, *, refreshed: bool) -> str:
    """When the data shown was last synced with the API, for stderr: "synced now", or how
    stale it is when the refresh failed or was not tried."""
    if info.synced_at is None:
        return "never synced with the API (local data only)"
    at = fmt.stamp(info.synced_at)
    if refreshed:
        return f"synced {at}"
    now = datetime.now(UTC)
    return f"local data, last synced {at} ({fmt.age(info.synced_at, now)} ago)"


def print_json(data: Any) -> None:
    """JSON on stdout: exact when piped; on a terminal, with what a terminal would act on
    (C1 controls, bidi overrides) written as `\\u` escapes, which parse to the same text."""
    from batchtop.tui.cli.terminal import is_terminal
    from batchtop.tui.safe_text import visible

    text = json.dumps(data, indent=2, default=str, ensure_ascii=False)
    if is_terminal(sys.stdout):
        text = visible(text, json=True)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


_NOT_GIVEN: Any = object()


def batch_dict(view: BatchView, *, synced_at: datetime | None = _NOT_GIVEN) -> dict[str, Any]:
    """A batch as JSON; `synced_at` (ls, show): when the store's view of the workspace was
    last refreshed, beside `seen_at`, when this batch's own state was last fetched."""
    r = view.remote
    c = r.request_counts
    synced = {} if synced_at is _NOT_GIVEN else {"synced_at": _iso(synced_at)}
    return {
        "id": r.id,
        "provider": r.provider,
        "processing_status": r.processing_status.value,
        "provider_status": r.provider_status,
        "endpoint": r.endpoint,
        "request_counts": {
            "processing": c.processing,
            "succeeded": c.succeeded,
            "errored": c.errored,
            "canceled": c.canceled,
            "expired": c.expired,
        },
        "errors": [
            {"code": e.code, "message": e.message, "line": e.line, "param": e.param}
            for e in r.errors
        ],
        "failure": r.failure,
        "created_at": _iso(r.created_at),
        "expires_at": _iso(r.expires_at),
        "ended_at": _iso(r.ended_at),
        "label": view.label,
        "job_id": view.job_id,
        "job_part": view.job_part,
        "parent_batch_id": view.parent_batch_id,
        "model": view.model,
        "betas": list(view.betas),
        "results_downloaded": view.results_downloaded,
        "results_indexed": view.results_indexed,
        "estimated_cost_usd": view.estimated_cost_usd,
        "actual_cost_usd": view.actual_cost_usd,
        **cost_fields(view),
        "deleted": view.deleted,
        "seen_at": _iso(view.seen_at),
        **synced,
    }


def cost_fields(view: BatchView) -> dict[str, Any]:
    """The cost as core decides it (billed or estimated), for JSON output."""
    from batchtop.core.costs import batch_cost

    c = batch_cost(view)
    return {
        "cost_usd": c.usd,
        "cost_is_estimate": c.is_estimate,
        "cost_is_floor": c.floor,  # an estimate of input only: it costs at least that
        "standard_cost_usd": c.standard_usd,
        "savings_usd": c.savings_usd,
        "price_source": c.price_source,
        "cost_unknown": c.unpriced,  # a model without a price: cost_usd null, not zero
    }


def cost(view: BatchView) -> str:
    """What the batch cost, or `~` what it is estimated to cost while usage is unknown
    (core decides which: `batch_cost`)."""
    from batchtop.core.costs import batch_cost

    return fmt.cost_text(batch_cost(view))


STATUS_STYLE = {
    "in progress": "yellow",
    "canceling": "magenta",
    "ended": "green",
    "canceled": "magenta",
    "expired": "red",
    "deleted": "dim",
}


@dataclass(frozen=True, slots=True)
class _Column:
    header: str
    justify: Literal["left", "right"]
    keep: int  # the higher, the later it is hidden when the table does not fit
    cell: Callable[[BatchView], Text | str]


def _columns(
    service: BatchService | Fleet | None,
    now: datetime,
    short: bool,
    providers: bool = False,
) -> list[_Column]:
    def counts(v: BatchView) -> RequestCounts:
        return v.remote.request_counts

    def flagged(n: int) -> Text:
        return Text(f"{n:,}", "red" if n else "")

    def eta(v: BatchView) -> str:
        at = service.eta(v.id) if service is not None else None
        return fmt.clock(at.astimezone()) if at is not None else "—"

    def shown_id(v: BatchView) -> Text:
        return txt(fmt.short_id(v.id, v.remote.provider) if short else v.id)

    columns = [
        _Column("ID", "left", 100, shown_id),
        _Column("Label", "left", 55, lambda v: safe_text(v.label, literal=True, limit=30)),
    ]
    if providers:  # several providers' batches: whose each is
        columns.append(_Column("Provider", "left", 70, lambda v: provider_name(v.remote.provider)))
    columns += [
        _Column(
            "Status",
            "left",
            95,
            lambda v: Text(fmt.status_label(v), STATUS_STYLE.get(fmt.status_label(v), "")),
        ),
        _Column(
            "Progress",
            "left",
            90,
            lambda v: fmt.bar(fmt.count_fraction(counts(v).done, counts(v).total), 10),
        ),
        _Column("Done", "right", 85, lambda v: f"{counts(v).done:,}/{counts(v).total:,}"),
        _Column("OK", "right", 35, lambda v: f"{counts(v).succeeded:,}"),
        _Column("Err", "right", 80, lambda v: flagged(counts(v).errored)),
        _Column("Canc", "right", 30, lambda v: f"{counts(v).canceled:,}"),
        _Column("Exp", "right", 50, lambda v: flagged(counts(v).expired)),
    ]
    if service is not None:
        columns.append(_Column("ETA", "right", 75, eta))
    columns += [
        _Column("Age", "right", 45, lambda v: fmt.age(v.remote.created_at, now)),
        _Column("Cost", "right", 60, cost),
    ]
    if service is not None:
        columns.append(
            _Column("24h window", "left", 20, lambda v: fmt.bar(service.progress(v.id)[1], 8))
        )
    return columns


def _width(cells: Sequence[Text | str], header: str) -> int:
    widths = [Text(c).cell_len if isinstance(c, str) else c.cell_len for c in cells]
    return max([len(header), *widths])


def batches_table(
    views: Sequence[BatchView],
    title: str | None = None,
    service: BatchService | Fleet | None = None,
    *,
    width: int | None = None,
    caption: Text | str | None = None,
    providers: bool = False,
) -> Table:
    """Batches in the dashboard's words, fitted to `width`: when the columns do not fit, the
    least important are left out first (ids are shortened last). With `service`, ETA and
    the share of the 24-hour window used; `providers`: a Provider column (the rows are of
    several providers)."""
    now = datetime.now(UTC)
    for short in (False, True):
        columns = _columns(service, now, short, providers)
        cells = [[c.cell(v) for v in views] for c in columns]
        widths = [_width(col, c.header) for c, col in zip(columns, cells, strict=True)]
        shown = list(range(len(columns)))
        if width is not None:
            # a column costs its width plus padding and a rule (3); the table adds a border
            while len(shown) > 3 and 1 + sum(widths[i] + 3 for i in shown) > width:
                shown.remove(min(shown, key=lambda i: columns[i].keep))
            if 1 + sum(widths[i] + 3 for i in shown) > width and not short:
                continue
        break
    table = Table(title=title, caption=caption, header_style="bold", expand=False)
    for i in shown:
        table.add_column(columns[i].header, justify=columns[i].justify, no_wrap=True)
    for row in range(len(views)):
        table.add_row(*(cells[i][row] for i in shown))
    return table
