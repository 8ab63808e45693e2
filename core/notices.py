"""What to tell the user when batches end: one notice per ended batch, or per ended job.

A batch that belongs to a job is announced with its job, once the job's last batch has
ended ("summarise 1,000 articles: 998 succeeded, 2 errored, $0.42"); a batch of no job is
announced on its own. Every front end (the TUI's toasts and desktop notifications,
`batchtop watch --notify` and `--exec`) shows these same notices; `as_json` is what `--exec`
commands read on stdin.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson

from .costs import batch_cost, total_cost
from .errors import UserError
from .models import BatchView, RequestCounts
from .money import usd_text
from .store import Store


@dataclass(frozen=True, slots=True)
class EndNotice:
    kind: Literal["batch", "job"]
    id: str  # batch id or job id
    name: str  # label or job name (or the id)
    title: str  # "Batch ended", "Job ended with failures", …
    line: str  # the one-line summary
    failed: bool  # some requests errored or expired
    counts: RequestCounts
    cost_usd: float | None
    cost_estimated: bool  # the cost is the estimate (results not downloaded yet)
    batch_ids: tuple[str, ...] = ()
    ended_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        c = self.counts
        return {
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "summary": self.line,
            "failed": self.failed,
            "counts": {
                "total": c.total,
                "succeeded": c.succeeded,
                "errored": c.errored,
                "canceled": c.canceled,
                "expired": c.expired,
            },
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 6),
            "cost_is_estimate": self.cost_estimated,
            "batch_ids": list(self.batch_ids),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }


def _sum(counts: Iterable[RequestCounts]) -> RequestCounts:
    total = RequestCounts()
    for c in counts:
        total = RequestCounts(
            total.processing + c.processing,
            total.succeeded + c.succeeded,
            total.errored + c.errored,
            total.canceled + c.canceled,
            total.expired + c.expired,
        )
    return total


def _cost(views: Sequence[BatchView]) -> tuple[float | None, bool]:
    """What the batches cost, and whether it is still an estimate (`costs.batch_cost`)."""
    cost = total_cost(batch_cost(v) for v in views)
    return cost.usd, cost.is_estimate


def summary_line(name: str, counts: RequestCounts, cost: float | None, estimated: bool) -> str:
    parts = [f"{counts.succeeded:,} succeeded"]
    parts += [
        f"{n:,} {what}"
        for n, what in (
            (counts.errored, "errored"),
            (counts.canceled, "canceled"),
            (counts.expired, "expired"),
        )
        if n
    ]
    if cost:  # nothing billed (every request canceled, expired or errored): no figure
        parts.append(usd_text(cost, approx=estimated))
    return f"{name}: " + ", ".join(parts)


def _notice(
    kind: Literal["batch", "job"], ident: str, name: str, views: Sequence[BatchView]
) -> EndNotice:
    counts = _sum(v.remote.request_counts for v in views)
    cost, estimated = _cost(views)
    rejected = [v.remote.failure for v in views if v.remote.failed]
    failed = counts.has_errors or bool(rejected)
    noun = "Job" if kind == "job" else "Batch"
    if rejected:
        title = f"{noun} failed"
    elif counts.expired and not counts.succeeded:
        title = f"{noun} expired"
    elif failed:
        title = f"{noun} ended with failures"
    else:
        title = f"{noun} ended"
    ends = [v.remote.ended_at for v in views if v.remote.ended_at is not None]
    return EndNotice(
        kind=kind,
        id=ident,
        name=name,
        title=title,
        line=summary_line(name, counts, cost, estimated)
        + (f" · failed: {rejected[0]}" if rejected else ""),
        failed=failed,
        counts=counts,
        cost_usd=cost,
        cost_estimated=estimated,
        batch_ids=tuple(v.id for v in views),
        ended_at=max(ends) if ends else None,
    )


def ended_notices(store: Store, ended: Sequence[BatchView]) -> list[EndNotice]:
    """Notices for batches that just ended: a job's only when its last batch has ended."""
    notices: list[EndNotice] = []
    jobs_done: set[str] = set()
    for view in ended:
        if view.job_id is None:
            notices.append(_notice("batch", view.id, view.label or view.id, [view]))
            continue
        if view.job_id in jobs_done:
            continue
        members = [m for m in store.job_batches(view.job_id) if not m.deleted]
        if any(m.remote.is_active for m in members):
            continue  # the job goes on: announced when its last batch ends
        jobs_done.add(view.job_id)
        job = store.get_job(view.job_id)
        name = job.name if job is not None else view.job_id
        if len(members) == 1 and members[0].label:
            name = members[0].label  # a one-batch job is known by its batch's label
        notices.append(_notice("job", view.job_id, name, members or [view]))
    return notices


EXEC_TIMEOUT_S = 60.0


def exec_argv(command: str) -> list[str]:
    """`--exec CMD` split like a shell would (no shell runs it); a clear error when empty."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UserError(f"--exec: cannot parse the command: {exc}.") from exc
    if not argv:
        raise UserError("--exec: the command is empty.")
    return argv


def run_exec_hook(argv: Sequence[str], notice: EndNotice) -> str | None:
    """Run `argv` with the notice as JSON on stdin; None when it exited 0, else why not."""
    payload = orjson.dumps(notice.as_json(), option=orjson.OPT_APPEND_NEWLINE)
    try:
        done = subprocess.run(
            list(argv),
            input=payload,
            stdout=None,
            stderr=None,
            timeout=EXEC_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        return f"--exec: {argv[0]} not found"
    except subprocess.TimeoutExpired:
        return f"--exec: {argv[0]} did not finish within {EXEC_TIMEOUT_S:.0f} s"
    except OSError as exc:
        return f"--exec: cannot run {argv[0]}: {exc.strerror or exc}"
    if done.returncode != 0:
        return f"--exec: {argv[0]} exited with status {done.returncode}"
    return None
