"""Shared helpers of the reliability tests: bounded waits, soak sizing, CLI subprocesses.

Waits poll a condition with a deadline (never a fixed sleep); `Event().wait(t)` is the only
pause used between polls, so no test synchronises on time.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from batchtop.core.emulator import EmulatorConfig, EmulatorHandle, ManualClock, run_in_thread
from data_factory import write_jsonl

CLI = [sys.executable, "-m", "batchtop.tui.cli"]


def soak_full(config: pytest.Config | None = None) -> bool:
    """Full-size runs: BATCHTOP_SOAK=full, or `-m soak` on the command line."""
    if os.environ.get("BATCHTOP_SOAK", "").lower() == "full":
        return True
    if config is not None:
        expr = str(config.getoption("-m") or "")
        return "soak" in expr and "not soak" not in expr
    return False


class AdvancingSleep:
    """The service's injectable sleep: moves the emulator's ManualClock instead of waiting.

    `pace_s` (real seconds per wait, default none) keeps compressed time humane for a UI:
    without it the poller refreshes as fast as HTTP allows, hundreds of times a second,
    an event rate no user's dashboard ever sees (one refresh per 5-30 s).
    """

    def __init__(
        self,
        emulator: EmulatorHandle,
        on_sleep: Callable[[float], None] | None = None,
        pace_s: float = 0.0,
    ) -> None:
        self.emulator = emulator
        self.delays: list[float] = []
        self.on_sleep = on_sleep
        self.pace_s = pace_s

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        self.emulator.advance(max(0.0, delay))
        if self.on_sleep is not None:
            self.on_sleep(delay)
        await asyncio.sleep(self.pace_s)


class LoopLag:
    """Heartbeat on the event loop: how long the loop went without running a due tick.

    Built on `call_later` (no sleep). `max_lag_s` is wall time, which also counts time the
    whole process waited for a CPU on a loaded machine; `max_busy_s` is the CPU time the
    loop's own thread burned between two ticks, which only work on the loop (a freeze)
    can raise. Tests bound the second tightly and the first generously.
    """

    def __init__(self, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s
        self.max_lag_s = 0.0
        self.max_busy_s = 0.0
        self.ticks = 0
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._due = 0.0
        self._cpu = 0.0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._schedule()

    def _schedule(self) -> None:
        assert self._loop is not None
        self._due = self._loop.time() + self.interval_s
        self._cpu = time.thread_time()
        self._handle = self._loop.call_later(self.interval_s, self._tick)

    def _tick(self) -> None:
        assert self._loop is not None
        self.ticks += 1
        self.max_lag_s = max(self.max_lag_s, self._loop.time() - self._due)
        self.max_busy_s = max(self.max_busy_s, time.thread_time() - self._cpu)
        self._schedule()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()

    def check(self, busy_limit_s: float = 1.0, wall_limit_s: float = 5.0) -> None:
        assert self.ticks > 0, "the heartbeat never ran"
        assert self.max_busy_s < busy_limit_s, f"the loop was busy {self.max_busy_s:.2f} s"
        assert self.max_lag_s < wall_limit_s, f"the loop stalled {self.max_lag_s:.2f} s"


def cli_env(
    base: Path, *, api_key: str | None = "test-key", base_url: str | None = None, **extra: str
) -> dict[str, str]:
    """An environment for a `batchtop` subprocess: private XDG dirs under `base`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "XDG_"))}
    env.pop("BATCHTOP_CONFIG", None)
    for name in ("data", "config", "cache", "state"):
        env[f"XDG_{name.upper()}_HOME"] = str(base / "xdg" / name)
    if api_key is not None:
        env["ANTHROPIC_API_KEY"] = api_key
    if base_url is not None:
        env["ANTHROPIC_BASE_URL"] = base_url
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def run_cli(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def start_cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def assert_clean_failure(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 1, one `batchtop: error:` line on stderr naming `needles`, no traceback."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith("batchtop: error: "), line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


def is_openai(emulator: EmulatorHandle) -> bool:
    return emulator.base_url.rstrip("/").endswith("/v1")


def server_custom_ids(emulator: EmulatorHandle) -> dict[str, list[str]]:
    """Every batch on the emulator (deleted ones too) → its custom_ids, read on its thread
    (either API's emulator; an ended OpenAI batch's from its input file, the emulator having
    dropped its request rows once its output and error files hold their lines)."""
    openai = is_openai(emulator)
    prefix = "oai_" if openai else ""

    def read() -> dict[str, list[str]]:
        db: Any = emulator.server.state._db
        out: dict[str, list[str]] = {}
        for (bid,) in db.execute(f"SELECT id FROM {prefix}batches ORDER BY seq"):
            out[bid] = []
        rows = db.execute(
            f"SELECT b.id, r.custom_id FROM {prefix}requests r"
            f" JOIN {prefix}batches b ON r.batch_seq = b.seq"
        )
        for bid, cid in rows:
            out[bid].append(cid)
        if openai:
            ended = db.execute(
                "SELECT b.id, f.content FROM oai_batches b JOIN oai_files f"
                " ON f.id = b.input_file_id"
                " WHERE b.output_file_id IS NOT NULL OR b.error_file_id IS NOT NULL"
            )
            for bid, content in ended:
                if not out[bid]:
                    lines = bytes(content).splitlines()
                    out[bid] = [json.loads(line)["custom_id"] for line in lines if line.strip()]
        return out

    return emulator.call(read)


def server_input_files(emulator: EmulatorHandle) -> dict[str, str]:
    """The OpenAI emulator's live (not deleted) `batchtop-…` input files: id → filename."""

    def read() -> dict[str, str]:
        db: Any = emulator.server.state._db
        rows = db.execute(
            "SELECT id, filename FROM oai_files WHERE deleted = 0 AND filename LIKE 'batchtop-%'"
        )
        return dict(rows)

    return emulator.call(read)


def server_input_file_ids(emulator: EmulatorHandle) -> set[str]:
    """The input files the OpenAI emulator's batches were created from."""
    db: Any = emulator.server.state._db
    return emulator.call(
        lambda: {fid for (fid,) in db.execute("SELECT input_file_id FROM oai_batches")}
    )


def store_file(data: Path, base_url: str | None = None, workspace_id: str | None = None) -> Path:
    """The store `batchtop` uses under the data directory `data` (…/xdg/data/batchtop): one
    per endpoint and workspace (core/scope.py).

    With `base_url`: where a test seeds batches before any run. With `workspace_id` too
    (the emulator's `server.workspace_id`): that workspace's store, recorded as the one seen
    last at the endpoint, so store-only commands open it; without: the endpoint's
    `unscoped` store. Without either: the one store the runs made (the old single path
    while there is none yet)."""
    from batchtop.core import scope

    if base_url is not None:
        endpoint = data / "stores" / scope.endpoint_dir(base_url.rstrip("/")).name
        name = scope.scope_name(workspace_id, None)
        if workspace_id is not None:
            endpoint.mkdir(parents=True, exist_ok=True)
            (endpoint / "workspace").write_text(name + "\n")
        return endpoint / name / scope.DB_FILENAME
    found = sorted(data.glob(f"stores/*/*/{scope.DB_FILENAME}"))
    assert len(found) <= 1, found
    return found[0] if found else data / scope.DB_FILENAME


def store_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """`sql`'s rows in the store at `path`, read the way another process would (WAL: readers
    never block); none before the store exists or is migrated."""
    if not path.exists():
        return []
    conn = sqlite3.connect(path, timeout=10)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not migrated yet
        return []
    finally:
        conn.close()


def unresolved_exit(entries: list[dict[str, object]]) -> int:
    """The exit code `reconcile --json` owes its report: 1 while a part stays unresolved
    (an intent unknown or pending, a job with open parts), else 0."""
    open_intent = any(e.get("state") in ("pending", "unknown") for e in entries)
    return 1 if open_intent or any(e.get("open_parts") for e in entries) else 0


@contextmanager
def realtime_openai_emulator(seed: int) -> Iterator[EmulatorHandle]:
    """The OpenAI emulator on a loopback port, its clock starting at the real time (the
    CLI's clock and the server's agree about when intents and batches were made)."""
    config = EmulatorConfig(rate=None, start_delay_s=0.0, counters="live", seed=seed)
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    with run_in_thread(config, clock, api="openai") as handle:
        yield handle


class CliHome:
    """One data directory (private XDG dirs under `tmp`) whose `batchtop` processes talk to
    one emulator, Anthropic's or OpenAI's (the `provider` setting, then `settings`), and a
    work directory holding `input` (the request `lines`)."""

    def __init__(
        self,
        tmp: Path,
        emulator: EmulatorHandle,
        lines: Iterable[dict[str, Any]],
        *,
        openai: bool,
        settings: str = "",
        input: str = "input.jsonl",
    ) -> None:
        if openai:
            self.env = cli_env(
                tmp, api_key=None, OPENAI_API_KEY="test-key", OPENAI_BASE_URL=emulator.base_url
            )
        else:
            self.env = cli_env(tmp, base_url=emulator.base_url)
        self.data = tmp / "xdg" / "data" / "batchtop"
        config = tmp / "xdg" / "config" / "batchtop"
        config.mkdir(parents=True)
        provider = "openai" if openai else "anthropic"
        (config / "config.toml").write_text(f'provider = "{provider}"\n{settings}')
        self.cwd = tmp / "work"
        self.cwd.mkdir()
        self.input = input
        write_jsonl(self.cwd / input, lines)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=self.cwd, env=self.env, timeout=180)

    def submit(self) -> subprocess.Popen[str]:
        """`submit` of the input, running (a test stops or kills it)."""
        return start_cli("submit", self.input, "--yes", "--json", cwd=self.cwd, env=self.env)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of the store the runs made; none before there is one (or it is migrated)."""
        return store_rows(store_file(self.data), sql)
