"""Rich output for the command line, on the TUI's formatters (`tui/format.py`): both front ends
write durations, money and progress the same way.

Everything printed may carry text from files or the API: consoles never interpret markup or
emoji codes, and outside text is made safe (`tui/safe_text.py`) before it is shown."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from batchtop.tui import format as fmt
from batchtop.tui.safe_text import clean as _clean_text
from batchtop.tui.safe_text import safe_text
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from batchtop.core.models import BatchView
    from batchtop.core.service import BatchService


class SafeConsole(Console):
    """A Console whose plain strings lose their control characters before printing."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(
            *(_clean_text(o) if isinstance(o, str) else o for o in objects),
            **kwargs,
        )


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


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def batch_dict(view: BatchView) -> dict[str, Any]:
    r = view.remote
    c = r.request_counts
    return {
        "id": r.id,
        "processing_status": r.processing_status.value,
        "request_counts": {
            "processing": c.processing,
            "succeeded": c.succeeded,
            "errored": c.errored,
            "canceled": c.canceled,
            "expired": c.expired,
        },
        "created_at": _iso(r.created_at),
        "expires_at": _iso(r.expires_at),
        "ended_at": _iso(r.ended_at),
        "label": view.label,
        "job_id": view.job_id,
        "job_part": view.job_part,
        "parent_batch_id": view.parent_batch_id,
        "model": view.model,
        "results_downloaded": view.results_downloaded,
        "results_indexed": view.results_indexed,
        "estimated_cost_usd": view.estimated_cost_usd,
        "actual_cost_usd": view.actual_cost_usd,
        **cost_fields(view),
        "deleted": view.deleted,
    }


def cost_fields(view: BatchView) -> dict[str, Any]:
    """The cost as core decides it (billed or estimated), for JSON output."""
    from batchtop.core.costs import batch_cost

    c = batch_cost(view)
    return {
        "cost_usd": c.usd,
        "cost_is_estimate": c.is_estimate,
        "standard_cost_usd": c.standard_usd,
        "savings_usd": c.savings_usd,
        "price_source": c.price_source,
    }


def cost(view: BatchView) -> str:
    """What the batch cost, or `~` what it is estimated to cost while usage is unknown
    (core decides which: `batch_cost`)."""
    from batchtop.core.costs import batch_cost

    c = batch_cost(view)
    return fmt.money(c.usd, approx=c.is_estimate)


STATUS_STYLE = {"in_progress": "yellow", "canceling": "magenta", "ended": "green"}


def batches_table(
    views: Sequence[BatchView], title: str | None = None, service: BatchService | None = None
) -> Table:
    """A table of batches; with `service`, progress (by count, and by time vs 24 h) and ETA."""
    now = datetime.now(UTC)
    table = Table(title=title, header_style="bold", expand=False)
    columns = [
        ("id", "left"),
        ("status", "left"),
        ("total", "right"),
        ("done", "right"),
        ("ok", "right"),
        ("err", "right"),
        ("cancel", "right"),
        ("exp", "right"),
        ("age", "right"),
        ("label", "left"),
        ("cost", "right"),
    ]
    if service is not None:
        columns[4:4] = [("progress", "left"), ("24h window", "left"), ("eta", "right")]
    for col, justify in columns:
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for v in views:
        r = v.remote
        c = r.request_counts
        status = r.processing_status.value
        cells: list[Any] = [
            txt(r.id),
            txt(status + (" (deleted)" if v.deleted else ""), STATUS_STYLE.get(status, "")),
            f"{c.total:,}",
            f"{c.done:,}",
        ]
        if service is not None:
            by_count, by_time = service.progress(v.id)
            eta = service.eta(v.id)
            cells += [
                fmt.bar(by_count, 12),
                fmt.bar(by_time, 8),
                fmt.clock(eta.astimezone()) if eta is not None else "-",
            ]
        cells += [
            f"{c.succeeded:,}",
            txt(f"{c.errored:,}", "red" if c.errored else ""),
            f"{c.canceled:,}",
            txt(f"{c.expired:,}", "red" if c.expired else ""),
            fmt.age(r.created_at, now),
            txt(v.label or "", limit=30),
            cost(v),
        ]
        table.add_row(*cells)
    return table
