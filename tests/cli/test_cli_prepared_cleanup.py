"""Prepared copies do not pile up: an OpenAI submit refused before anything was created
removes its import folder (its parts sit in `prepared/`, which the removal missed), and a
submit removes the upload copies (`.openai-input-<pid>-….jsonl`) that killed submits left,
never a live process's."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from batchtop.core.emulator import EmulatorHandle
from cli_support import config_env, run

pytest.importorskip("openai")


def _imports(tmp_path: Path) -> Path:
    return tmp_path / "xdg" / "data" / "batchtop" / "imports"


def test_refused_and_killed_submits_leave_no_copies(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    env = config_env(
        tmp_path,
        "confirm_submit_above_usd = 0.0000001\n",
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL=openai_emulator.base_url,
    )
    (tmp_path / "p.txt").write_text("".join(f"prompt {i}\n" for i in range(200)))
    args = ("submit", "--provider", "openai", "p.txt", "--model", "gpt-4o-mini")
    refused = run(*args, cwd=tmp_path, env=env)
    assert refused.returncode == 1
    assert "confirm_submit_above_usd" in refused.stderr
    assert not list(_imports(tmp_path).rglob("*.jsonl"))  # no prepared copy kept
    assert not list(_imports(tmp_path).iterdir())

    dead_pid = subprocess.Popen(["true"])  # a process that has ended: its pid
    dead_pid.wait()
    left = _imports(tmp_path) / "20260101T000000-dead" / "prepared"
    left.mkdir(parents=True)
    dead = left / f".openai-input-{dead_pid.pid}-x1.jsonl"
    live = left / f".openai-input-{os.getpid()}-x2.jsonl"  # this test's: alive
    for path in (dead, live):
        path.write_text("{}\n")
    sent = run(*args, "--yes", cwd=tmp_path, env=env)
    assert sent.returncode == 0, sent.stderr
    assert not dead.exists()
    assert live.exists()
