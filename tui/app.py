"""The Textual app: one factory (`BatchtopApp`) shared by `batchtop`, the demo and the tests.

The first frame is painted from the local store (service reads never touch the network);
polling starts after mount in a worker (core imports the SDK in a thread on first use, so the
UI never freezes while `anthropic` loads). Service events take one path: the app is the
service's subscriber and hands each `ServiceEvent` to every screen of its stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NoReturn, get_args

from batchtop.core.desktop_notify import Notifier
from batchtop.core.errors import BatchtopError, RefreshesFailed
from batchtop.core.models import (
    BatchEnded,
    BatchView,
    Event,
    PartialJobsNotice,
    RefreshFailed,
    SubmitNotice,
)
from textual import work
from textual.app import App
from textual.binding import BindingType
from textual.markup import escape
from textual.screen import Screen
from textual.worker import Worker

from .commands import BatchFinder, BatchtopCommands
from .keys import APP_KEYS, bindings
from .messages import ServiceEvent
from .safe_text import clean
from .screens.batch_actions import display_name
from .screens.dashboard import DashboardScreen
from .textual_fixes import apply as apply_textual_fixes

if TYPE_CHECKING:
    from batchtop.core.config import Settings
    from batchtop.core.demo import Demo
    from batchtop.core.fleet import Fleet
    from batchtop.core.service import BatchService

apply_textual_fixes()

NO_KEY_MESSAGE = (
    "ANTHROPIC_API_KEY is not set: starting the demo instead "
    "(a local emulator; nothing is sent to Anthropic)."
)


FailureKind = Literal["auth", "offline", "rate_limited", "server", "other"]


def failure_of(exc: BatchtopError) -> RefreshFailed:
    """A failed manual refresh, shown the way the poller reports its own failures."""
    kind = getattr(exc, "kind", "other")
    for known in get_args(FailureKind):
        if kind == known:
            return RefreshFailed(known, str(exc), getattr(exc, "retry_after_s", None))
    return RefreshFailed("other", str(exc), getattr(exc, "retry_after_s", None))


MAX_END_TOASTS = 3


def _utcnow() -> datetime:
    return datetime.now(UTC)


class BatchtopApp(App[int]):
    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "batchtop"
    BINDINGS: ClassVar[list[BindingType]] = bindings(APP_KEYS)
    COMMANDS = App.COMMANDS | {BatchtopCommands, BatchFinder}

    def __init__(
        self,
        service: BatchService | Fleet,
        settings: Settings,
        *,
        demo: bool = False,
        poll: bool = True,
        now: Callable[[], datetime] | None = None,
        workspace: Demo | None = None,
    ) -> None:
        """`workspace`: a demo not started yet; the app paints first, then starts it behind
        a "starting" banner (`_bring_up_demo`), then polls and keeps it alive.

        `service`: one provider's service, or a `Fleet` of several (the dashboard shows
        them all; `self.service` is the fleet's primary)."""
        from batchtop.core.fleet import Fleet  # (the service is open: core is loaded)

        super().__init__()
        self.fleet = Fleet.of(service)
        self.service = self.fleet.primary
        self.settings = settings
        self.workspace = workspace
        demo = demo or workspace is not None
        self.demo = demo
        self.now = now or _utcnow
        self._poll_enabled = poll
        self._refresh_worker: Worker[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._ended: list[BatchView] = []
        # Desktop notifications when batches or jobs end (None: off, or headless).
        self.notifier: Notifier | None = None
        self.dashboard = DashboardScreen(
            self.fleet,
            now=self.now,
            refresh_interval_s=settings.refresh_interval_s,
            demo=demo,
            starting=workspace is not None and not workspace.started,
        )
        self.set_keymap(settings.keymap)
        if settings.theme in self.available_themes:
            self.theme = settings.theme

    def get_default_screen(self) -> Screen[Any]:
        """The dashboard is the bottom of the stack, composed while the app starts: pushed
        from `on_mount` instead, it was laid out and drawn once inside Textual's start-up
        batch (a frame never shown) and drawn again for the first frame."""
        return self.dashboard

    async def on_mount(self) -> None:
        if self.settings.desktop_notify and not self.is_headless:
            self.notifier = Notifier(write=self._terminal_write)
        if self.settings.theme not in self.available_themes:
            self.notify(escape(f"Unknown theme '{self.settings.theme}'; using the default."))
        for warning in self.fleet.warnings:  # e.g. a data directory others can read
            self.notify(escape(clean(warning, keep_newlines=False)), severity="warning")
        self._unsubscribe = self.fleet.subscribe(self._forward_service_event)
        if self.workspace is not None and not self.workspace.started:
            self.call_after_refresh(self._bring_up_demo)  # its banner says "starting"
        elif self._poll_enabled:
            self.call_after_refresh(self.start_polling)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    # --- events from the service ---------------------------------------------------------

    def _forward_service_event(self, event: object) -> None:
        """Called by the service (maybe from its own task): hop onto the message queue.

        Not named `_on_service_event`: Textual would take that for a ServiceEvent handler,
        and every event would re-post itself forever.
        """
        self.post_message(ServiceEvent(event))  # type: ignore[arg-type]

    def on_service_event(self, message: ServiceEvent) -> None:
        """Toasts for ended batches here; then every screen of the stack gets the event (the
        dashboard, a results viewer under a dialog...): a screen that cares handles it."""
        event = message.event
        if isinstance(event, PartialJobsNotice):
            self.notify(escape(clean(event.text)), severity="warning", timeout=30)
            return
        if isinstance(event, SubmitNotice):  # reconcile's verdict on an open submission
            warn = event.intent.unknown
            self.notify(
                escape(clean(event.text)),
                severity="warning" if warn else "information",
                timeout=30 if warn else 8,
            )
            return
        if isinstance(event, BatchEnded):
            if not self._ended:
                self.call_later(self._announce_ended)  # after the rest of this burst
            self._ended.append(event.batch)
        for screen in self.screen_stack:
            screen.post_message(ServiceEvent(event))

    def _report(self, event: Event) -> None:
        """An event of the app's own (a refresh that failed): the same path as the service's."""
        self.post_message(ServiceEvent(event))

    def _announce_ended(self) -> None:
        """One toast per ended batch — or one for all when a refresh ends many at once."""
        ended, self._ended = self._ended, []
        if not ended:
            return
        from batchtop.core.notices import summary_line  # not needed for the first frame

        if len(ended) > MAX_END_TOASTS:
            errors = sum(1 for b in ended if b.remote.has_errors)
            text = f"{len(ended)} batches ended" + (f", {errors} with failures" if errors else "")
            self.notify(escape(text + "."), title="Batches ended")
        for batch in ended if len(ended) <= MAX_END_TOASTS else ():
            line = summary_line(display_name(batch), batch.remote.request_counts, None, False)
            self.notify(
                escape(line + ". Enter opens results."),
                title="Batch ended",
                severity="warning" if batch.remote.has_errors else "information",
            )
        if self.settings.notify_bell:
            self.bell()
        if self.notifier is not None:
            self._desktop_notify(ended, self.notifier)

    @work(thread=True, group="desktop-notify", exit_on_error=False)
    def _desktop_notify(self, ended: list[BatchView], notifier: Notifier) -> None:
        """core decides what to say (a job once its last batch ended); notify-send may block."""
        from batchtop.core.notices import ended_notices

        by_owner: dict[int, tuple[BatchService, list[BatchView]]] = {}
        for batch in ended:
            owner = self.fleet.service_for(batch.id)
            by_owner.setdefault(id(owner), (owner, []))[1].append(batch)
        for owner, batches in by_owner.values():
            for notice in ended_notices(owner.store, batches):
                notifier.send(notice.title, notice.line, urgent=notice.failed)

    def _terminal_write(self, sequence: str) -> None:
        """An escape sequence straight to the terminal, through the app's driver."""
        driver = self._driver
        if driver is not None:
            self.call_from_thread(driver.write, sequence)

    # --- the demo --------------------------------------------------------------------------

    @work(group="demo", exit_on_error=False)
    async def _bring_up_demo(self) -> None:
        """Behind the first frame: start the emulator and seed, then show the workspace, poll,
        and keep the demo alive until the app closes (quitting cancels this at any point)."""
        assert self.workspace is not None
        try:
            await self.workspace.start()
        except Exception as exc:
            text = str(exc) if isinstance(exc, BatchtopError) else f"{type(exc).__name__}: {exc}"
            self._report(RefreshFailed("other", f"the demo could not start: {text}"))
            return
        self.dashboard.demo_started()
        if self._poll_enabled:
            self.start_polling()
            await self.workspace.keep_alive()

    # --- polling and refresh ---------------------------------------------------------------

    @work(group="poll", exit_on_error=False)
    async def start_polling(self) -> None:
        """Poll until the app closes (core loads the SDK in a thread on first use)."""
        try:
            await self.fleet.run_polling()
        except BatchtopError as exc:
            self._report(RefreshFailed("other", str(exc)))
        except Exception as exc:
            self._report(RefreshFailed("other", f"polling stopped: {exc}"))

    def action_refresh_now(self) -> None:
        if self._refresh_worker is not None and not self._refresh_worker.is_finished:
            return  # a refresh is already running: skip, never stack them
        self.dashboard.status.set_state(busy=True)
        self._refresh_worker = self.refresh_once()

    @work(group="refresh", exit_on_error=False)
    async def refresh_once(self) -> None:
        try:
            await self.fleet.refresh()
        except RefreshesFailed:
            pass  # every provider's failure is reported already, each named
        except BatchtopError as exc:
            self._report(failure_of(exc))
        except Exception as exc:
            self._report(RefreshFailed("other", f"{type(exc).__name__}: {exc}"))
        finally:
            self.dashboard.status.set_state(busy=False)

    def action_toggle_pause(self) -> None:
        if self.fleet.paused:
            self.fleet.resume()
            self.notify("Automatic refresh resumed.")
        else:
            self.fleet.pause()
            self.notify("Automatic refresh paused (r still refreshes).")
        self.dashboard.status.set_state(paused=self.fleet.paused)

    # --- help ------------------------------------------------------------------------------

    def action_help(self) -> None:
        from .screens.help import HelpScreen  # imported when first opened, as every screen

        if isinstance(self.screen, HelpScreen):
            return
        name = getattr(self.screen, "HELP_TITLE", None) or type(self.screen).__name__
        self.push_screen(HelpScreen(self.screen, title=f"Keys — {name}"))


# --- launching --------------------------------------------------------------------------


def leave_process(code: int) -> NoReturn:
    """End `batchtop`'s process once the app has returned, without Python's teardown.

    When `run_app` returns everything it started is stopped, closed or removed (the store,
    the demo's emulator and files). What teardown would add is collecting every object the
    app made, several passes over hundreds of thousands of them: seconds between the screen
    clearing and the prompt coming back. A thread still loading the SDK is abandoned too.
    """
    import logging

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    logging.shutdown()
    os._exit(code)


def run_app(*, demo: bool = False, provider: str | None = None) -> int:
    """Entry point for `batchtop` without a subcommand. `--provider`: that provider's
    batches alone; else every provider whose key is set (core's `shown_providers`)."""
    from batchtop.core.config import load_settings

    try:
        settings = load_settings()
    except BatchtopError as exc:
        print(f"batchtop: {exc}", file=sys.stderr)
        return 2
    chosen = provider or settings.provider
    variable = "OPENAI_API_KEY" if chosen == "openai" else "ANTHROPIC_API_KEY"
    providers: tuple[str, ...] = ()
    if not demo:
        try:
            providers = _live_providers(settings, provider)
        except BatchtopError as exc:
            print(f"batchtop: {exc}", file=sys.stderr)
            return 2
    if not demo and not providers:
        print(
            NO_KEY_MESSAGE if chosen != "openai" else f"No API key: set {variable}.",
            file=sys.stderr,
        )
        if chosen == "openai":
            return 2
        demo = True
    runner = _run_demo(settings) if demo else _run_live(settings, providers, provider)
    try:
        return asyncio.run(runner)
    except BatchtopError as exc:
        print(f"batchtop: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _live_providers(settings: Settings, requested: str | None) -> tuple[str, ...]:
    """The providers to show that have a key (notes on the others to stderr)."""
    from batchtop.core.fleet import shown_providers
    from batchtop.core.providers.env import KEY_VARIABLES

    shown = shown_providers(settings.provider, requested, os.environ)
    for note in shown.notes:
        print(f"batchtop: {note}", file=sys.stderr)
    return tuple(p for p in shown.providers if os.environ.get(KEY_VARIABLES[p]))


async def _run_live(
    settings: Settings, providers: tuple[str, ...], requested: str | None = None
) -> int:
    """A service per provider (one: exactly the one-provider dashboard), shown together."""
    from batchtop.core.fleet import Fleet
    from batchtop.core.providers.env import KEY_VARIABLES
    from batchtop.core.service import BatchService

    services: list[BatchService] = []
    try:
        for provider in providers:
            key = os.environ.get(KEY_VARIABLES[provider], "")
            service = await BatchService.open(settings=settings, api_key=key, provider=provider)
            services.append(service)
            if service.key_note:
                print(f"batchtop: warning: {service.key_note}", file=sys.stderr)
        fleet = Fleet(services, requested=requested)
        result = await BatchtopApp(fleet, settings).run_async()
    finally:
        for service in services:  # quitting must feel instant
            await service.close(wait_for_search_index=False)
    return result or 0


async def _run_demo(settings: Settings) -> int:
    """Paint first: the demo is opened (instant) and started by the app behind its first
    frame; whatever it started is stopped and removed when the app returns."""
    from batchtop.core.demo import open_demo

    demo = await open_demo(settings)
    try:
        app = BatchtopApp(demo.fleet, demo.service.settings, now=demo.now, workspace=demo)
        result = await app.run_async()
    finally:
        await demo.close()
    return int(result or 0)
