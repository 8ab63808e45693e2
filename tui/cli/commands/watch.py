"""`batchtop watch [ID]`: live progress until the batches end, then download their results."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from batchtop.core.errors import ApiError, BatchtopError
from batchtop.tui.cli.render import batches_table, console, txt
from batchtop.tui.cli.session import resolve
from batchtop.tui.words import quantity
from rich.console import RenderableType
from rich.live import Live

if TYPE_CHECKING:
    from batchtop.core.models import BatchView
    from batchtop.core.service import BatchService


async def cmd_watch(service: BatchService, ns: argparse.Namespace) -> int:
    out = console()
    await service.refresh()
    if ns.target:
        ids = await resolve(service, ns.target)
    else:
        # everything in progress, plus batchtop's own batches whose results are not here yet
        ids = [
            v.id
            for v in service.batches()
            if v.remote.is_active
            or (v.job_id is not None and not v.results_downloaded and not v.deleted)
        ]
        if not ids:
            out.print("nothing in progress")
            return 0
    interval = ns.interval if ns.interval is not None else service.settings.refresh_interval_s

    def views() -> list[BatchView]:
        return [v for v in (service.batch(i) for i in ids) if v is not None]

    def render() -> RenderableType:
        return batches_table(views(), title="batchtop watch (Ctrl-C to stop)", service=service)

    failures = 0
    with Live(render(), console=out, auto_refresh=False, transient=False) as live:
        while any(v.remote.is_active and not v.deleted for v in views()):
            await asyncio.sleep(interval)
            try:
                await service.refresh()
                failures = 0
            except ApiError as err:
                if err.kind == "auth":
                    raise
                failures += 1
                await asyncio.sleep(min(60.0, interval * 2**failures))
            live.update(render(), refresh=True)
        live.update(render(), refresh=True)
    if not out.is_terminal:
        out.line()
    await service.wait_background()
    failed = False
    for view in views():
        if view.remote.results_url is None or view.deleted:
            continue
        if not view.results_downloaded:
            try:
                await service.download_results(view.id)
            except BatchtopError as err:
                out.print(txt(f"results of {view.id}: {err}", "red"))
                failed = True
                continue
        done = service.batch(view.id) or view
        out.print(
            f"{done.id} ended: {quantity(done.results_indexed, 'result')} downloaded"
            f" (batchtop results {done.id} --format json)"
        )
    return 1 if failed else 0
