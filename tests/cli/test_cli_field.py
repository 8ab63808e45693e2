"""Hostile-user findings on the command line, run as real subprocesses against the emulator."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from batchtop.core.emulator import EmulatorHandle

CLI = [sys.executable, "-m", "batchtop.tui.cli"]


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def no_retries(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "config.toml"
    config.write_text("max_retries = 0\n")
    return dict(os.environ, BATCHTOP_CONFIG=str(config))


def test_ls_and_show_say_when_synced_and_fail_when_the_refresh_fails(
    emulator_env: EmulatorHandle, tmp_path: Path
) -> None:
    env = no_retries(tmp_path)
    (tmp_path / "p.txt").write_text("one\ntwo\n")
    sent = run("submit", "p.txt", "--json", cwd=tmp_path, env=env)
    assert sent.returncode == 0, sent.stderr
    (bid,) = json.loads(sent.stdout)["batch_ids"]
    fresh = run("ls", "--json", cwd=tmp_path, env=env)
    assert fresh.returncode == 0, fresh.stderr
    (row,) = json.loads(fresh.stdout)
    synced = datetime.fromisoformat(row["synced_at"])
    assert "synced " in fresh.stderr

    emulator_env.stop()  # the API is unreachable from now on
    for args in (("ls",), ("ls", "--json"), ("show", bid), ("show", bid, "--json")):
        proc = run(*args, cwd=tmp_path, env=env)
        assert proc.returncode == 3, (args, proc.stderr)  # the refresh failed: stale data
        assert "Traceback" not in proc.stderr
        assert "showing cached state" in proc.stderr
        assert f"last synced {synced:%Y-%m-%d %H:%M:%S} UTC" in proc.stderr, proc.stderr
        assert bid in proc.stdout
        if "--json" in args:
            data = json.loads(proc.stdout)
            data = data[0] if isinstance(data, list) else data
            assert datetime.fromisoformat(data["synced_at"]) == synced
            assert data["seen_at"] is not None
    # the local store asked for explicitly: no call, exit 0, still dated
    for args in (("ls", "--offline", "--json"), ("show", bid, "--offline")):
        proc = run(*args, cwd=tmp_path, env=env)
        assert proc.returncode == 0, (args, proc.stderr)
        assert "showing cached state" not in proc.stderr
        assert re.search(r"last synced \S+ \S+ UTC \(\S+ ago\)", proc.stderr), proc.stderr
