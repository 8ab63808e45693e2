"""Small, pure formatters for durations, money and progress bars (rich Text out)."""

from __future__ import annotations

from datetime import datetime, timedelta

from batchtop.core.models import BatchCost, BatchView, Job, ProcessingStatus
from batchtop.core.money import usd_text
from batchtop.core.providers.ids import short_id as short_id  # both front ends' short ids
from rich.style import Style
from rich.text import Text

from .safe_text import safe_text

BAR_FULL = "█"
BAR_EMPTY = "░"


GAP = Style(color="#010101")
"""The style of spaces between parts of a line: a run of its own, so that no part starts
with spaces (SVG screenshots draw each run at its column, and renderers drop a run's leading
spaces: `batchtop  8 batches` read `batchtop8 batches`). A foreground colour is invisible on
spaces, and unlike meta it survives where Textual merges equal runs (the dimmed screen behind
a dialog)."""


def reading_seconds(*texts: str) -> float:
    """How long a notification stays up: Textual's 5 s, or longer for a long message (about
    three words a second, up to 30 s): what a failed submit says — may the batch exist, until
    when reconcile looks — was gone before it was read."""
    words = sum(len(t.split()) for t in texts)
    return max(5.0, min(30.0, 2.0 + words / 3))


def gap(text: Text, spaces: str = "  ") -> Text:
    """Append `spaces` to `text` as a separator (see `GAP`); returns `text`."""
    text.append(spaces, style=GAP)
    return text


def duration(seconds: float) -> str:
    """Compact human duration: 45s, 12m, 3h05m, 2d04h."""
    s = max(int(seconds), 0)
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s" if m < 10 else f"{m}m"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h{m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d{h:02d}h"


def age(then: datetime, now: datetime) -> str:
    return duration((now - then).total_seconds())


def time_left(until: datetime, now: datetime) -> str:
    left = (until - now).total_seconds()
    return duration(left) if left > 0 else "0s"


def money(usd: float | None, *, approx: bool = False, floor: bool = False) -> str:
    """An amount as core writes it (`core/money.usd_text`): two decimals, `<$0.01` below a
    cent, `~` while estimated, `+` after an estimate of input only (a floor), `—` unknown."""
    return usd_text(usd, approx=approx, floor=floor)


UNKNOWN_COST = "unknown"


def cost_text(cost: BatchCost) -> str:
    """A batch's or job's cost as core decided it: `~$1.20` while estimated, `unknown` for a
    model without a price (never `~$0.00`), `—` when nothing is known yet."""
    if cost.usd is None and cost.unpriced:
        return UNKNOWN_COST
    return money(cost.usd, approx=cost.is_estimate, floor=cost.floor)


def size(n: int) -> str:
    """Bytes in the largest unit that keeps a number ≥ 1: `512 B`, `33.2 KB`, `1.5 MB`."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n:,} B"


def bar(fraction: float, width: int = 10, style: str = "") -> Text:
    """A fixed-width bar followed by a percentage."""
    fraction = min(max(fraction, 0.0), 1.0)
    filled = round(fraction * width)
    text = Text(no_wrap=True, end="")
    text.append(BAR_FULL * filled, style=style)
    text.append(BAR_EMPTY * (width - filled), style="dim")
    text.append(f" {fraction * 100:3.0f}%")
    return text


# A provider's own status words shown as such (OpenAI: validating before it runs,
# finalizing while its output files are written, failed when its input was refused).
PROVIDER_WORDS = {"validating": "validating", "finalizing": "finalizing", "failed": "failed"}


def status_label(batch: BatchView) -> str:
    """What a person would call the batch's state (the API has only three)."""
    remote = batch.remote
    if batch.deleted:
        return "deleted"
    if remote.provider_status in PROVIDER_WORDS:  # OpenAI says more than the neutral three
        return PROVIDER_WORDS[remote.provider_status]
    if remote.processing_status is ProcessingStatus.IN_PROGRESS:
        return "in progress"
    if remote.processing_status is ProcessingStatus.CANCELING:
        return "canceling"
    counts = remote.request_counts
    if remote.cancel_initiated_at is not None:
        return "canceled"
    if counts.expired and not counts.succeeded and not counts.errored:
        return "expired"
    return "ended"


def count_fraction(done: int, total: int) -> float:
    return done / total if total else 0.0


def clock(at: datetime) -> str:
    return at.strftime("%H:%M:%S")


def stamp(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at else "—"


def when(at: datetime, now: datetime) -> str:
    """A moment near `now` as a time of day; further away, with its date."""
    if at.date() == now.date():
        return at.strftime("%H:%M:%S UTC")
    return stamp(at)


def short_when(at: datetime, now: datetime) -> str:
    """`when` in fewer cells, for a narrow panel: another day's moment to the minute with
    its month and day (`Dec 6 14:38 UTC`)."""
    if at.date() == now.date():
        return at.strftime("%H:%M:%S UTC")
    return f"{at:%b} {at.day} {at:%H:%M} UTC"


def seconds_until(at: datetime, now: datetime) -> float:
    return max((at - now) / timedelta(seconds=1), 0.0)


RETRY_MARK = "↻ "


def label_cell(b: BatchView, job: Job | None, *, in_job_row: bool = False) -> Text:
    """What the Label column says: the local label; without one, the job's name (a batch
    imported or composed here belongs to a job), with its part when the job has several
    (under its job's row, just the part); a retry is marked as one."""
    if b.label:
        name = safe_text(b.label, literal=True)
    elif job is not None:
        parts = max(len(job.batch_ids), job.part_count or 0)
        part = f"part {b.job_part}" if b.job_part is not None and parts > 1 else ""
        if in_job_row and part:
            name = Text(part, style="dim")
        else:  # a name is one line: a break in it is shown, as a label's (`a\x0ab`)
            name = safe_text(job.name, literal=True)
            if part and not in_job_row:
                name.append(f" · {part}", style="dim")
    else:
        name = Text("—", style="dim")
    if b.parent_batch_id:
        name = Text(RETRY_MARK, style="bold") + name
    return name
