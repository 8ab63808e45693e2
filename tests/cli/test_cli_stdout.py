"""Standard output that cannot be written: a full device is one clear line (exit 1); a
reader that left (`| head -1`) ends the command quietly (exit 0), whoever wrote the data
(Rich tables, JSON, an export)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from batchtop.core.emulator import EmulatorHandle
from test_cli import CLI, run


@pytest.fixture
def batch_id(emulator_env: EmulatorHandle, tmp_path: Path) -> str:
    (tmp_path / "p.txt").write_text("".join(f"prompt {i}\n" for i in range(50)))
    proc = run("submit", "p.txt", "--yes", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (bid,) = re.findall(r"submitted (msgbatch_\w+)", proc.stdout)
    emulator_env.advance(3600)
    assert run("results", bid, "--out", "r.jsonl", cwd=tmp_path).returncode == 0
    return bid


def _commands(bid: str) -> list[list[str]]:
    return [
        ["ls", "--offline"],
        ["ls", "--offline", "--json"],
        ["show", bid],
        ["results", bid, "--format", "jsonl"],
    ]


def test_a_full_stdout_is_one_clear_line(batch_id: str, tmp_path: Path) -> None:
    for args in _commands(batch_id):
        with open("/dev/full", "w") as full:
            proc = subprocess.run(
                [*CLI, *args],
                cwd=tmp_path,
                stdout=full,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
                timeout=120,
                env=dict(os.environ),
            )
        assert proc.returncode == 1, (args, proc.stderr)
        assert "Traceback" not in proc.stderr, args
        assert "unexpected" not in proc.stderr, args
        assert "Exception ignored" not in proc.stderr, args
        errors = [line for line in proc.stderr.splitlines() if "error" in line]
        assert errors == [
            "batchtop: error: Cannot write to standard output: No space left on device."
        ], (args, proc.stderr)


def test_a_closed_pipe_ends_quietly(batch_id: str, tmp_path: Path) -> None:
    for args in _commands(batch_id):
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader has left before the first byte
        try:
            proc = subprocess.run(
                [*CLI, *args],
                cwd=tmp_path,
                stdout=write_end,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
                timeout=120,
                env=dict(os.environ),
            )
        finally:
            os.close(write_end)
        assert proc.returncode == 0, (args, proc.stderr)
        assert "error" not in proc.stderr.lower(), (args, proc.stderr)
        assert "Exception ignored" not in proc.stderr, args


def test_what_an_action_did_is_a_message_and_its_json_is_data(
    emulator_env: EmulatorHandle, tmp_path: Path
) -> None:
    emulator_env.config.rate = 0.001  # the batches stay in progress until canceled
    ids = []
    for name in ("a", "b"):
        (tmp_path / f"{name}.txt").write_text(f"one {name}\ntwo {name}\n")
        proc = run("submit", f"{name}.txt", "--yes", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        ids += re.findall(r"submitted (msgbatch_\w+)", proc.stdout)
    first, second = ids
    proc = run("cancel", first, "--yes", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, ""), proc.stderr
    assert f"{first}: canceling" in proc.stderr
    proc = run("cancel", second, "--yes", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["id"] == second
    emulator_env.advance(600)
    proc = run("delete", first, "--yes", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, ""), proc.stderr
    assert f"deleted {first}" in proc.stderr
    proc = run("delete", second, "--yes", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"id": second, "deleted": True}
    proc = run("label", second, "x", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, ""), proc.stderr
