"""429 storms on create: a 429 means nothing was created, so `batchtop submit` waits
(`retry-after`) and sends again, a bounded number of times, and Ctrl-C stops the wait.

Real `batchtop submit` processes against an emulator answering half of all requests with
429 (seeded, so the sequence is fixed): every submit ends with its batch, none is doubled.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from batchtop.core.emulator import EmulatorHandle
from reliability_support import cli_env, run_cli, server_custom_ids, start_cli, store_file
from waiting import wait_until

SUBMITS = 6


def write_input(path: Path, tag: str, n: int = 3) -> None:
    with path.open("w") as fh:
        for i in range(n):
            req = {
                "custom_id": f"{tag}-{i}",
                "params": {
                    "model": "claude-haiku-4-5",
                    "max_tokens": 8,
                    "messages": [{"role": "user", "content": f"{tag} {i}"}],
                },
            }
            fh.write(json.dumps(req) + "\n")


def intent_rows(home: Path) -> list[tuple[str, str | None]]:
    conn = sqlite3.connect(store_file(home / "xdg" / "data" / "batchtop"))
    try:
        return conn.execute("SELECT state, error FROM intents").fetchall()
    finally:
        conn.close()


@pytest.mark.timeout(600)  # real processes on a shared machine
def test_half_of_creates_rate_limited_every_submit_lands_once(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    emulator = emulator_factory(rate=None)
    emulator.set_faults(rate_429=0.5, retry_after_s=0.05, seed=7)
    home = tmp_path / "home"
    env = cli_env(home, base_url=emulator.base_url)
    work = home / "work"
    work.mkdir(parents=True)
    for n in range(SUBMITS):
        write_input(work / f"in{n}.jsonl", f"s{n}")
    for n in range(SUBMITS):
        proc = run_cli("submit", f"in{n}.jsonl", "--json", cwd=work, env=env)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert json.loads(proc.stdout)["submitted"] is True
    limited = emulator.stats.count("create", 429)
    assert limited > 0  # the storm did hit the creates
    on_server = server_custom_ids(emulator)
    assert len(on_server) == SUBMITS  # one batch per submit: none lost, none doubled
    assert sorted(sorted(c) for c in on_server.values()) == [
        [f"s{n}-{i}" for i in range(3)] for n in range(SUBMITS)
    ]
    assert [state for state, _ in intent_rows(home)] == ["submitted"] * SUBMITS
    print(f"\n429 storm: {SUBMITS} submits, {limited} creates answered 429, all created once")


def test_ctrl_c_stops_the_wait_after_a_429(
    emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    emulator = emulator_factory(rate=None)
    # every call is refused with a long retry-after: without Ctrl-C this would take minutes
    emulator.set_faults(rate_429=1.0, retry_after_s=60)
    home = tmp_path / "home"
    env = cli_env(home, base_url=emulator.base_url, BATCHTOP_DEBUG="1")  # logs on stderr
    work = home / "work"
    work.mkdir(parents=True)
    write_input(work / "in.jsonl", "c")
    proc = start_cli("submit", "in.jsonl", cwd=work, env=env)
    lines: list[str] = []
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")))
    reader.start()
    # the client has the 429 and waits out its retry-after (its log says so): Ctrl-C now
    wait_until(lambda: any("429, again in" in ln for ln in lines), 60, "the wait after a 429")
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)  # a bound, far below the 60 s retry-after
    reader.join(timeout=30)
    err = "".join(lines)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    assert emulator.stats.count("create") == 1  # no second attempt after Ctrl-C
    # nothing was created, and the journal says so: the intent is closed, not left open
    ((state, error),) = intent_rows(home)
    assert state == "failed"
    assert error is not None
    assert "nothing was created" in error
