"""`batchtop watch [ID]`: live progress until the batches end, then download their results."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from batchtop.core.errors import ApiError, BatchtopError
from batchtop.tui.cli.render import batches_table, console, txt
from batchtop.tui.cli.session import resolve
from batchtop.tui.words import quantity
from rich.console import RenderableType
from rich.live import Live

if TYPE_CHECKING:
    from batchtop.core.desktop_notify import Notifier
    from batchtop.core.models import BatchView
    from batchtop.core.service import BatchService


async def cmd_watch(service: BatchService, ns: argparse.Namespace) -> int:
    out = console()
    announce = EndAnnouncer(service, ns)  # a bad --exec is an error before any work
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

    running = {v.id for v in views() if v.remote.is_active}  # announced when they end
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
            ended = [v for v in views() if v.id in running and not v.remote.is_active]
            running -= {v.id for v in ended}
            await announce(ended)
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
    return 1 if failed or announce.failed else 0


class EndAnnouncer:
    """`--notify` and `--exec`: what core says about batches (or jobs) that just ended."""

    def __init__(self, service: BatchService, ns: argparse.Namespace) -> None:
        from batchtop.core.notices import exec_argv

        self.service = service
        self.notify = bool(getattr(ns, "notify", False))
        command = getattr(ns, "exec_command", None)
        self.argv = exec_argv(command) if command is not None else None
        self.failed = False
        self.notifier: Notifier | None = None
        if self.notify:
            from batchtop.core.desktop_notify import Notifier

            # The terminal's notification goes where messages go (stderr), if it is one.
            tty = sys.stderr.isatty()
            self.notifier = Notifier(
                enabled=service.settings.desktop_notify, write=_stderr if tty else None
            )

    async def __call__(self, ended: list[BatchView]) -> None:
        if not ended or not (self.notify or self.argv):
            return
        from batchtop.core.notices import ended_notices, run_exec_hook

        for notice in ended_notices(self.service.store, ended):
            if self.notifier is not None:
                console(stderr=True).print(txt(notice.line))
                await asyncio.to_thread(
                    self.notifier.send, notice.title, notice.line, urgent=notice.failed
                )
            if self.argv is not None:
                problem = await asyncio.to_thread(run_exec_hook, self.argv, notice)
                if problem is not None:
                    console(stderr=True).print(txt(problem, "red"))
                    self.failed = True


def _stderr(sequence: str) -> None:
    sys.stderr.write(sequence)
    sys.stderr.flush()
