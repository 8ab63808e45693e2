"""`batchtop watch [ID]`: live progress until the batches end, then download their results.

Without `--provider` and without an id it watches every provider whose key is set (a Provider
column says whose each batch is); given an id, the provider that owns it (core's `Fleet`).
It refreshes like the dashboard: at the interval, backing off after rate limits, overload,
server errors and network loss (the first refresh too, except a server it cannot reach at
all), and gives up only on a rejected key.
The table uses the dashboard's words and fits the terminal (least important columns hide
first); a line under it ticks every second: when the last refresh was, when the next one
comes, or why it failed and when it is tried again."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from batchtop.core.errors import ApiError, BatchtopError
from batchtop.core.poller import retry_delay
from batchtop.tui import format as fmt
from batchtop.tui.cli import progress
from batchtop.tui.cli.commands.results import waiting_note
from batchtop.tui.cli.render import batches_table, clean, console, txt
from batchtop.tui.cli.session import resolve, routed
from batchtop.tui.safe_text import safe_text
from batchtop.tui.words import quantity
from rich.console import RenderableType
from rich.live import Live
from rich.text import Text

if TYPE_CHECKING:
    from batchtop.core.desktop_notify import Notifier
    from batchtop.core.fleet import Fleet
    from batchtop.core.models import BatchView, Event
    from rich.console import Console

TICK_S = 1.0


@dataclass(slots=True)
class _Refreshes:
    """The refresh loop's state: the last success, the failures since, the last error."""

    interval_s: float
    failures: int = 0
    error: ApiError | None = None
    refreshed_at: datetime | None = None
    partly: str | None = None  # several providers: the last refresh failed for this one
    # several providers: those whose key was rejected (not watched; said at the end)
    refused: dict[str, str] = field(default_factory=dict)

    def on_event(self, event: Event) -> None:
        """A member of several providers whose refresh failed while the others' stood."""
        from batchtop.core.models import RefreshFailed

        if isinstance(event, RefreshFailed):
            self.partly = event.message
            if event.kind == "auth" and event.provider is not None:
                self.refused[event.provider] = event.message

    def watched(self, view: BatchView) -> bool:
        """Still to wait for: in progress, of a provider whose key was not rejected."""
        return (
            view.remote.is_active and not view.deleted and view.remote.provider not in self.refused
        )

    def verdict(self, code: int) -> int:
        """The exit code: a provider whose key was rejected was not watched, which a script
        must not take for success; said once more on stderr."""
        for message in self.refused.values():
            sys.stderr.write(f"batchtop: error: {clean(message)}\n")
        return 1 if self.refused else code

    async def once(self, fleet: Fleet) -> float:
        """Refresh; returns the wait before the next one. A rejected key is raised."""
        self.partly = None
        try:
            await fleet.refresh()
        except ApiError as err:
            self.failures += 1
            self.error = err
            delay = retry_delay(err, self.failures, self.interval_s)
            if delay is None:
                raise
            return delay
        self.failures = 0
        self.error = None
        self.refreshed_at = datetime.now(UTC)
        return self.interval_s

    def line(self, left_s: float | None) -> Text:
        """The ticking line under the table."""
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.error is not None:
            text.append("refresh failed: ", "yellow")
            text.append(clean(str(self.error), limit=70), "yellow")
            if left_s is not None:
                text.append(f" · retrying in {fmt.duration(left_s + 0.999)}")
        elif self.partly is not None:
            text.append("refresh failed: ", "yellow")
            text.append(clean(self.partly, limit=70), "yellow")
            if left_s is not None:
                text.append(f" · next in {fmt.duration(left_s + 0.999)}")
        else:
            if self.refreshed_at is not None:
                text.append(f"refreshed {fmt.clock(self.refreshed_at.astimezone())}")
            if left_s is not None:
                text.append(f" · next in {fmt.duration(left_s + 0.999)}")
        text.append(" · Ctrl-C to stop", "dim")
        return text


async def _first_refresh(fleet: Fleet, state: _Refreshes, messages: Console) -> None:
    """Refresh until it works (backing off), saying on stderr what is going on.

    A server that cannot be reached at all on the very first call is a wrong address or no
    network, which waiting does not fix: that is said at once. Once watching, a lost
    connection is waited out like any transient failure."""
    while True:
        delay = await state.once(fleet)
        if state.error is None:
            if state.partly is not None:
                messages.print(txt(f"refresh failed: {state.partly}", "yellow"))
            return
        if state.error.kind == "offline" and state.refreshed_at is None:
            raise state.error
        messages.print(
            txt(f"refresh failed: {state.error}; retrying in {fmt.duration(delay)}", "yellow")
        )
        await asyncio.sleep(delay)


@routed("target", fleet=True)
async def cmd_watch(fleet: Fleet, ns: argparse.Namespace) -> int:
    out = console()
    messages = console(stderr=True)
    announce = EndAnnouncer(fleet, ns)  # a bad --exec is an error before any work
    settings = fleet.primary.settings
    interval = ns.interval if ns.interval is not None else settings.refresh_interval_s
    state = _Refreshes(interval)
    unsubscribe = fleet.subscribe(state.on_event) if fleet.mixed else None
    try:
        return state.verdict(await _watch(fleet, ns, state, announce, out, messages))
    finally:
        if unsubscribe is not None:
            unsubscribe()


async def _watch(
    fleet: Fleet,
    ns: argparse.Namespace,
    state: _Refreshes,
    announce: EndAnnouncer,
    out: Console,
    messages: Console,
) -> int:
    interval = state.interval_s
    await _first_refresh(fleet, state, messages)
    if ns.target is not None:
        ids = await resolve(fleet.primary, ns.target)
    else:
        # everything in progress, plus batchtop's own batches whose results are not here yet
        ids = [
            v.id
            for v in fleet.batches()
            if v.remote.is_active
            or (v.job_id is not None and not v.results_downloaded and not v.deleted)
        ]
        if not ids:
            messages.print("nothing in progress")
            return 0

    def views() -> list[BatchView]:
        return [v for v in (fleet.batch(i) for i in ids) if v is not None]

    def render(left_s: float | None) -> RenderableType:
        return batches_table(
            views(),
            title="batchtop watch",
            service=fleet,
            width=out.width,
            caption=state.line(left_s),
            providers=fleet.mixed,
        )

    running = {v.id for v in views() if v.remote.is_active}  # announced when they end
    loop = asyncio.get_running_loop()
    with Live(render(None), console=out, auto_refresh=False, transient=False) as live:
        delay = interval
        while any(state.watched(v) for v in views()):
            due = loop.time() + delay
            while (left := due - loop.time()) > 0:
                live.update(render(left), refresh=True)
                await asyncio.sleep(min(TICK_S, left))
            live.update(render(0.0), refresh=True)
            delay = await state.once(fleet)
            live.update(render(delay), refresh=True)
            ended = [v for v in views() if v.id in running and not v.remote.is_active]
            running -= {v.id for v in ended}
            await announce(ended)
        live.update(render(None), refresh=True)
    if not out.is_terminal:
        out.line()
    ended = [v for v in views() if v.remote.provider not in state.refused]
    failed = await _download_ended(fleet, ended, messages)
    return 1 if failed or announce.failed else 0


async def _download_ended(fleet: Fleet, ended: list[BatchView], messages: Console) -> bool:
    """Download the results not here yet, saying so on stderr (stdout holds the table);
    True when one could not be."""
    failed = False
    for view in ended:
        if not view.remote.has_results or view.deleted:
            continue
        service = fleet.service_for(view.id)
        if not view.results_downloaded:
            try:
                with progress.task(f"Downloading the results of {view.id}", unit=" bytes") as on:
                    await service.download_results(view.id, on, waiting_note(messages))
            except BatchtopError as err:
                messages.print(txt(f"results of {view.id}: {err}", "red"))
                failed = True
                continue
        done = service.batch(view.id) or view
        messages.print(
            f"{done.id} ended: {quantity(done.results_indexed, 'result')} downloaded"
            f" (batchtop results {done.id} --format json)"
        )
    return failed


class EndAnnouncer:
    """`--notify` and `--exec`: what core says about batches (or jobs) that just ended."""

    def __init__(self, fleet: Fleet, ns: argparse.Namespace) -> None:
        from batchtop.core.notices import exec_argv

        self.fleet = fleet
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
                enabled=fleet.primary.settings.desktop_notify, write=_stderr if tty else None
            )

    async def __call__(self, ended: list[BatchView]) -> None:
        if not ended or not (self.notify or self.argv):
            return
        from batchtop.core.notices import ended_notices, run_exec_hook

        notices = [
            notice
            for service in self.fleet.services
            for notice in ended_notices(
                service.store, [v for v in ended if self.fleet.service_for(v.id) is service]
            )
        ]
        for notice in notices:
            if self.notifier is not None:
                console(stderr=True).print(safe_text(notice.line, literal=True))
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
