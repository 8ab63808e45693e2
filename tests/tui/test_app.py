"""The app shell: launching, failure states in the status bar, the never-crash rule."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.service import BatchService
from batchtop.core.store import Store
from batchtop.tui import app as app_module
from batchtop.tui.app import NO_KEY_MESSAGE, BatchtopApp
from batchtop.tui.screens.dashboard import DashboardScreen
from dashboard_support import SETTINGS, Workspace, close_service, make_service, until

SIZE = (160, 48)
FAST_FAIL = Settings(notify_bell=False, max_retries=0, request_timeout_s=5.0)


def status_text(app: BatchtopApp) -> str:
    return str(app.dashboard.status.render())


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_offline_shows_in_status_bar_and_app_stays_up(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = make_service(tmp_path / "s.sqlite3", emulator, FAST_FAIL)
    service._api.base_url = f"http://127.0.0.1:{closed_port()}"  # type: ignore[misc]
    app = BatchtopApp(service, FAST_FAIL, poll=False, now=emulator.clock.now)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("r")
            assert await until(pilot, lambda: "offline" in status_text(app), tries=200)
            assert app.is_running
            assert isinstance(app.screen, DashboardScreen)
            await pilot.press("r")  # again: still no crash
            assert await until(
                pilot, tries=200, condition=lambda: "refreshing" not in status_text(app)
            )
            assert app.is_running
    finally:
        await close_service(service)


async def test_bad_key_shows_in_status_bar(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    emulator = emulator_factory(api_keys=frozenset({"the-right-key"}))
    service = make_service(tmp_path / "s.sqlite3", emulator, FAST_FAIL)
    app = BatchtopApp(service, FAST_FAIL, poll=False, now=emulator.clock.now)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("r")
            assert await until(
                pilot, tries=200, condition=lambda: "API key rejected" in status_text(app)
            )
            assert app.is_running
    finally:
        await close_service(service)


async def test_missing_key_is_not_called_a_bad_key(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = BatchService(
        Store.open(tmp_path / "s.sqlite3"), FAST_FAIL, api_key="", base_url=emulator.base_url
    )
    app = BatchtopApp(service, FAST_FAIL, poll=False, now=emulator.clock.now)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("r")
            assert await until(pilot, lambda: "no API key" in status_text(app), tries=200)
            assert "rejected" not in status_text(app)
    finally:
        await close_service(service)


async def test_polling_starts_after_mount_and_refreshes(
    service: Any, workspace: Workspace, emulator: EmulatorHandle
) -> None:
    """With poll=True the poller starts by itself after mount and keeps running."""
    app = BatchtopApp(service, SETTINGS, poll=True, now=emulator.clock.now)
    emulator.clock.advance(2)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.dashboard.table
        assert await until(
            pilot, lambda: table.get_cell(workspace.running, "succeeded").plain == "500"
        )
        poll_workers = [w for w in app.workers if w.group == "poll"]
        assert poll_workers
        assert not poll_workers[0].is_finished  # still polling


def test_no_key_says_so_and_starts_the_demo(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[str] = []

    async def fake_demo(settings: Settings) -> int:
        started.append("demo")
        return 0

    monkeypatch.setattr(app_module, "_run_demo", fake_demo)
    assert app_module.run_app() == 0
    assert started == ["demo"]
    assert NO_KEY_MESSAGE in capsys.readouterr().err


def test_bad_config_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("refresh_interval_s = 'soon'\n")
    monkeypatch.setenv("BATCHTOP_CONFIG", str(config))
    assert app_module.run_app(demo=True) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("batchtop:")
    assert "\n" not in err
    assert "Traceback" not in err


async def test_demo_banner(make_app: Callable[..., BatchtopApp], workspace: Workspace) -> None:
    from batchtop.tui.widgets.banner import DEMO_TEXT

    app = make_app(demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        banner = app.screen.query_one("#demo-banner")
        assert str(banner.render()) == DEMO_TEXT  # type: ignore[attr-defined]
    plain = make_app()
    async with plain.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not plain.screen.query("#demo-banner")


async def test_many_endings_in_one_refresh_make_one_toast(
    make_app: Callable[..., BatchtopApp], workspace: Workspace, service: Any
) -> None:
    from batchtop.core.models import BatchEnded
    from batchtop.tui.messages import ServiceEvent

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for batch in service.batches():
            app.post_message(ServiceEvent(BatchEnded(batch)))
        await pilot.pause()
        await pilot.pause()
        titles = [n.title for n in app._notifications]
        assert titles.count("Batches ended") == 1
        assert "Batch ended" not in titles
        (summary,) = [n for n in app._notifications if n.title == "Batches ended"]
        assert "4 batches ended, 1 with failures" in str(summary.message)


async def test_rate_limit_countdown_in_status_bar(
    make_app: Callable[..., BatchtopApp], workspace: Workspace, emulator: EmulatorHandle
) -> None:
    from batchtop.core.models import RefreshFailed
    from batchtop.tui.messages import ServiceEvent

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.post_message(ServiceEvent(RefreshFailed("rate_limited", "Too many [requests]", 8.0)))
        await pilot.pause()
        assert "rate limited — retrying in 8s: Too many [requests]" in status_text(app)
        emulator.clock.advance(3)
        app.dashboard.status.tick()
        assert "retrying in 5s" in status_text(app)
        assert app.is_running


@pytest.mark.parametrize("outcome", ["returns", "raises"])
def test_the_dashboard_command_starts_with_the_gc_off_and_always_restores_it(
    monkeypatch: pytest.MonkeyPatch, outcome: str
) -> None:
    import argparse
    import gc

    from batchtop.tui import cli

    seen: list[bool] = []

    def run_app(*, demo: bool = False) -> int:
        seen.append(gc.isenabled())
        if outcome == "raises":
            raise RuntimeError("the app failed")
        return 0

    monkeypatch.setattr(app_module, "run_app", run_app)
    assert gc.isenabled()
    if outcome == "raises":
        with pytest.raises(RuntimeError):
            cli.cmd_tui(argparse.Namespace(demo=True))
    else:
        assert cli.cmd_tui(argparse.Namespace(demo=True)) == 0
    assert seen == [False]
    assert gc.isenabled()


@pytest.mark.parametrize(("keys", "quits"), [("q", True), ("2x", False)])
async def test_keys_typed_while_starting_act_on_the_dashboard(
    make_app: Callable[..., BatchtopApp], workspace: Workspace, keys: str, quits: bool
) -> None:
    """Keys the terminal delivers before the first frame (typed while batchtop starts) reach
    the app before the dashboard has mounted: they act on the dashboard or are dropped, and
    never type a filter the user did not open."""
    from textual import events

    app = make_app()
    for key in keys:
        app.post_message(events.Key(key, key))  # queued as the driver queues them at start
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert app.dashboard.filter_text == ""
        assert not any(box.display for box in app.dashboard.query("#filter"))
        if quits:
            assert not app.is_running
        else:
            assert app.is_running
            assert app.focused is app.dashboard.table
            assert app.dashboard.view == "active"


async def test_service_events_reach_every_screen_through_the_app(
    make_app: Callable[..., BatchtopApp],
    workspace: Workspace,
    service: Any,
    emulator: EmulatorHandle,
) -> None:
    """One event path: the app is the service's only subscriber and hands each event to the
    screens of its stack; a results viewer opened on a running batch fills in when it ends."""
    from batchtop.tui.screens.results import ResultsScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = ResultsScreen(service, batch_ids=[workspace.running], title="running")
        await app.push_screen(screen)
        assert await until(pilot, lambda: screen.loaded)
        assert screen.summary is not None
        assert not sum(screen.summary.by_type.values())
        assert len(service._subscribers) == 1  # the app's: no screen subscribes on its own
        emulator.clock.advance(3600)  # the batch ends; a refresh announces it
        await pilot.press("r")
        assert await until(
            pilot,
            tries=400,
            condition=lambda: bool(screen.summary and sum(screen.summary.by_type.values())),
        )
        assert screen.summary is not None
        assert sum(screen.summary.by_type.values()) == 1000
        app.pop_screen()
        await pilot.pause()
        # the dashboard got the same events while it was covered
        assert app.dashboard.table.get_cell(workspace.running, "succeeded").plain == "1,000"


async def test_the_demo_paints_first_and_seeds_behind_a_starting_banner(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The dashboard of `batchtop --demo` is up (and takes keys) before the emulator starts
    and the workspace is seeded; the banner says it is starting until the rows are there."""
    import asyncio
    import tempfile

    from batchtop.core import demo as demo_module
    from batchtop.core.demo import open_demo
    from batchtop.tui.widgets.banner import DEMO_TEXT, STARTING_TEXT

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the demo makes its home
    gate = asyncio.Event()
    real_start = demo_module.Demo.start

    async def gated_start(self: Any) -> None:
        await gate.wait()  # the test decides when starting may proceed
        await real_start(self)

    monkeypatch.setattr(demo_module.Demo, "start", gated_start)
    demo = await open_demo(Settings(notify_bell=False))
    try:
        app = BatchtopApp(demo.service, demo.service.settings, now=demo.now, workspace=demo)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            banner = app.dashboard.query_one("#demo-banner")
            assert str(banner.render()) == STARTING_TEXT  # type: ignore[attr-defined]
            assert not demo.started
            await pilot.press("2")  # the dashboard already answers
            assert app.dashboard.view == "active"
            await pilot.press("1")
            gate.set()
            assert await until(pilot, lambda: demo.started, tries=2000)
            assert await until(pilot, lambda: len(app.dashboard.table.keys) >= 8, tries=400)
            assert str(banner.render()) == DEMO_TEXT  # type: ignore[attr-defined]
            assert demo_homes(tmp_path) == [demo.home]
    finally:
        await demo.close()
    assert not demo_homes(tmp_path)  # its home is gone with it


def demo_homes(where: Path) -> list[Path]:
    return list(where.glob("batchtop-demo-*"))


async def test_the_starting_demo_at_80_columns_says_what_it_does(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """While the two-provider demo starts, at 80x24: the whole banner is on screen (it was
    cut) and the empty table says the workspace is being made, not how to start one."""
    import asyncio
    import tempfile

    from batchtop.core import demo as demo_module
    from batchtop.core.demo import open_demo
    from batchtop.core.models import provider_name
    from batchtop.tui.screens.dashboard import DEMO_SEEDING, EMPTY_WORKSPACE
    from batchtop.tui.widgets.banner import starting_text

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gate = asyncio.Event()
    real_start = demo_module.Demo.start

    async def gated_start(self: Any) -> None:
        await gate.wait()
        await real_start(self)

    monkeypatch.setattr(demo_module.Demo, "start", gated_start)
    demo = await open_demo(Settings(notify_bell=False))
    try:
        app = BatchtopApp(demo.fleet, demo.service.settings, now=demo.now, workspace=demo)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            who = " or ".join(provider_name(p) for p in demo.fleet.providers)
            assert "OpenAI" in who  # the dev install has the openai extra: both providers
            lines = screen_lines(app)
            assert starting_text(who) in lines[0]
            table = app.dashboard.table
            assert table.placeholder == DEMO_SEEDING
            gate.set()
            assert await until(pilot, lambda: demo.started, tries=2000)
            assert await until(pilot, lambda: len(table.keys) >= 8, tries=400)
            assert table.placeholder != EMPTY_WORKSPACE
    finally:
        await demo.close()


def screen_lines(app: BatchtopApp) -> list[str]:
    strips = app.screen._compositor.render_strips()
    return ["".join(seg.text for seg in strip) for strip in strips]
