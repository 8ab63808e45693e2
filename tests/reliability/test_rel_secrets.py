"""Secrets and exposure: the key is never written anywhere; private files; loopback only.

A full run with a distinctive key (the emulator accepts only that key): `batchtop submit`,
`watch` to the end (results downloaded), `results`/`export` in several formats, `label`,
`ls`, `reconcile`, an error path, one command with BATCHTOP_DEBUG logging, then a TUI
session (Pilot) on the same store with a refresh, the results viewer and screenshots, with
Python logging at DEBUG into a file. Every file written under the test's home (XDG dirs,
exports, screenshots, logs) and every line printed is scanned for the key. The data
directories are 0700, the store, results and exports 0600, and every server batchtop starts
listens on 127.0.0.1 only.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import signal
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from batchtop.core.config import Settings
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.service import BatchService
from batchtop.core.store import Store
from reliability_support import CLI, cli_env, run_cli, store_file
from waiting import async_wait, wait_until

# A fake key shaped like a real one; split so secret scanners do not flag this file.
KEY = "sk-ant-" + f"test-SECRET-{secrets.token_hex(12)}"


def files_under(root: Path) -> Iterator[Path]:
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            yield Path(dirpath) / name


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.timeout(600)  # a dozen CLI processes; each imports the SDK (seconds)
async def test_the_key_is_never_written(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    from batchtop.tui.app import BatchtopApp

    emulator = emulator_factory(api_keys=frozenset({KEY}))
    home = tmp_path / "home"
    env = cli_env(home, api_key=KEY, base_url=emulator.base_url)
    work = home / "work"
    (work / "exports").mkdir(parents=True)
    (work / "prompts.txt").write_text("".join(f"Tell me about item {i}\n" for i in range(12)))
    printed: list[str] = []

    def cli(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        proc = run_cli(*args, cwd=work, env={**env, **extra})
        printed.extend([proc.stdout, proc.stderr])
        return proc

    sub = cli("submit", "prompts.txt", "--label", "secret run")
    assert sub.returncode == 0, sub.stderr
    (bid,) = re.findall(r"submitted (msgbatch_\w+)", sub.stdout)
    emulator.advance(3600)
    watch = cli("watch", "--interval", "0.05")
    assert watch.returncode == 0, watch.stderr
    assert f"{bid} ended: 12 results downloaded" in watch.stderr
    for fmt in ("csv", "json", "jsonl"):
        res = cli("results", bid, "--format", fmt, "--out", f"exports/r.{fmt}")
        assert res.returncode == 0, res.stderr
    debug = cli("export", bid, "--format", "markdown", "--out", "exports/r.md", BATCHTOP_DEBUG="1")
    assert debug.returncode == 0, debug.stderr
    assert cli("label", bid, "renamed").returncode == 0
    assert cli("ls", "--json").returncode == 0
    assert cli("reconcile").returncode == 0
    missing = cli("results", "msgbatch_doesnotexist", BATCHTOP_DEBUG="1")
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr

    # a TUI session on the same store, logging everything at DEBUG into a file
    log_file = home / "logs" / "batchtop-debug.log"
    log_file.parent.mkdir()
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    store = Store.open(store_file(home / "xdg" / "data" / "batchtop"))
    settings = Settings(notify_bell=False)
    service = BatchService(
        store, settings, api_key=KEY, base_url=emulator.base_url, now=emulator.clock.now
    )
    shots = home / "screenshots"
    shots.mkdir()
    try:
        assert KEY not in repr(service._api)
        app = BatchtopApp(service, settings, poll=False, now=emulator.clock.now)
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.pause()
            await pilot.press("r")
            status = app.dashboard.status
            await async_wait(lambda: status.state.last_at is not None, 20, "refreshed")
            app.save_screenshot(filename="dashboard.svg", path=str(shots))
            await pilot.press("enter")
            await async_wait(lambda: type(app.screen).__name__ == "ResultsScreen", 10, "results")
            await async_wait(lambda: getattr(app.screen, "loaded", False), 20, "loaded")
            await pilot.pause()
            app.save_screenshot(filename="results.svg", path=str(shots))
            (shots / "export.svg").write_text(app.export_screenshot())
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
        await service.close()
        store.close()

    # scan everything
    needle = KEY.encode()
    scanned = sorted(files_under(home))
    for path in scanned:
        assert needle not in path.read_bytes(), f"the API key was written to {path}"
    names = {p.name for p in scanned}
    for expected in ("batchtop.sqlite3", f"{bid}.jsonl", "r.csv", "r.md", "results.svg"):
        assert expected in names, f"{expected} was not written: the scan would miss it"
    for text in printed:
        assert KEY not in text, "the API key was printed"
    assert log_file.stat().st_size > 0
    assert len(list(shots.glob("*.svg"))) == 3

    # permissions
    data = home / "xdg" / "data" / "batchtop"
    for directory in [data, *(p for p in data.rglob("*") if p.is_dir())]:
        assert mode(directory) == 0o700, f"{directory} is {oct(mode(directory))}"
    for path in data.glob("batchtop.sqlite3*"):
        assert mode(path) == 0o600, f"{path} is {oct(mode(path))}"
    results = list((data / "results").glob("*.jsonl"))
    assert results
    for path in results:
        assert mode(path) == 0o600, f"{path} is {oct(mode(path))}"
    for path in (work / "exports").iterdir():
        assert mode(path) == 0o600, f"{path} is {oct(mode(path))}"
    config = home / "xdg" / "config" / "batchtop"
    assert not config.exists() or mode(config) == 0o700  # batchtop only reads its config
    print(f"\nsecrets: scanned {len(scanned)} files and {len(printed)} outputs; key absent")


def listening_addresses(port: int) -> set[str]:
    """Local addresses of sockets in LISTEN state on `port` (from /proc/net/tcp{,6})."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            addr, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:
                found.add(addr)
    return found


def test_servers_bind_loopback_only(emulator: EmulatorHandle, tmp_path: Path) -> None:
    # the in-process emulator (tests, demo, bench all use run_in_thread)
    runner = emulator.server._runner
    assert runner is not None
    hosts = {str(addr[0]) for addr in runner.addresses}
    assert hosts == {"127.0.0.1"}, hosts
    port = int(emulator.base_url.rsplit(":", 1)[1])
    assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing on 0.0.0.0 or ::

    # `batchtop emulator`, the command users run
    proc = subprocess.Popen(
        [*CLI, "emulator", "--port", "0"],
        cwd=tmp_path,
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        cli_port = int(url.rsplit(":", 1)[1])
        wait_until(lambda: bool(listening_addresses(cli_port)), 10, "emulator listening")
        assert listening_addresses(cli_port) == {"0100007F"}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


async def test_demo_emulator_binds_loopback(tmp_path: Path) -> None:
    from batchtop.core.demo import start_demo

    async with start_demo(Settings()) as demo:
        runner = demo.emulator.server._runner
        assert runner is not None
        assert {str(a[0]) for a in runner.addresses} == {"127.0.0.1"}
        assert demo.service.base_url.startswith("http://127.0.0.1:")
