"""`batchtop show ID`: one batch, or each batch of a job, in detail.

Stdout holds the data (`key  value` lines, or JSON with `--json`); stderr says which endpoint
and workspace they come from.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from batchtop.core.costs import batch_cost
from batchtop.core.errors import NotFound
from batchtop.core.models import BETA_PROVIDERS, JOB_ID_PREFIX
from batchtop.tui.cli.render import batch_dict, clean, console, cost, print_json, sync_note
from batchtop.tui.cli.session import EXIT_STALE, refresh_quietly, resolve, routed, stale
from batchtop.tui.format import status_label
from batchtop.tui.safe_text import literal_line
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from batchtop.core.models import BatchView
    from batchtop.core.service import BatchService


def _rows(view: BatchView) -> list[tuple[str, str]]:
    r = view.remote
    c = r.request_counts
    rows = [("id", r.id), ("status", status_label(view))]
    if view.label:
        rows.append(("label", literal_line(view.label)))
    if view.model:
        rows.append(("model", clean(view.model)))
    rows.append(("created", r.created_at.isoformat()))
    if r.ended_at is not None:
        rows.append(("ended", r.ended_at.isoformat()))
    rows.append(
        (
            "requests",
            f"{c.total:,} total · {c.processing:,} processing · {c.succeeded:,} succeeded"
            f" · {c.errored:,} errored · {c.canceled:,} canceled · {c.expired:,} expired",
        )
    )
    if r.failed:  # the provider failed the whole batch: why, each reason on a line
        reasons = [e.text for e in r.errors] or [r.failure or ""]
        rows.append(("failed", "\n".join(clean(reason) for reason in reasons)))
    rows.append(("cost", cost(view)))
    rows.append(("prices", batch_cost(view).price_source))  # the batch's own provider's
    if view.job_id:
        part = f" part {view.job_part}" if view.job_part is not None else ""
        rows.append(("job", f"{view.job_id}{part}"))
    if view.parent_batch_id:
        rows.append(("retry of", view.parent_batch_id))
    if view.betas or r.provider in BETA_PROVIDERS:  # OpenAI has no betas: no row
        rows.append(("betas", clean(", ".join(view.betas)) if view.betas else "none"))
    results = f"{view.results_indexed:,} downloaded" if view.results_downloaded else "not yet"
    if not view.results_downloaded and r.results_never is not None:
        results = f"none: {r.results_never}"  # it never will have any
    rows.append(("results", results))
    return rows


@routed("id")
async def cmd_show(service: BatchService, ns: argparse.Namespace) -> int:
    refreshed = False
    if service.has_api_key and not ns.offline:
        refreshed = await refresh_quietly(service, console(stderr=True))
    ids = await resolve(service, ns.id, offline=ns.offline)
    views = [v for v in (service.batch(i) for i in ids) if v is not None]
    if not views:
        raise NotFound(f"No batch {ns.id} is known locally.")
    info = service.workspace()
    code = EXIT_STALE if stale(service, ns, refreshed) else 0
    if ns.json:
        data = [batch_dict(v, synced_at=info.synced_at) for v in views]
        print_json(data if ns.id.startswith(JOB_ID_PREFIX) else data[0])
        sys.stderr.write(sync_note(info, refreshed=refreshed) + "\n")
        return code
    sys.stderr.write(clean(f"from {info.where} · {sync_note(info, refreshed=refreshed)}") + "\n")
    out = console()
    for n, view in enumerate(views):
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        for key, value in _rows(view):
            grid.add_row(key, Text(value))
        if n:
            out.print()
        out.print(grid)
    return code
