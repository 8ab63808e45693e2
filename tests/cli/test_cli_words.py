"""The command line's words and numbers (issue 14 item 18): nouns agree with their counts,
sizes in the unit that fits (as the TUI writes them), counts with thousands separators,
estimates marked `~`, one number of decimals per column of costs."""

from __future__ import annotations

import json
import re
from pathlib import Path

from batchtop.core.emulator import EmulatorHandle
from batchtop.tui.format import money
from test_cli import run

BAD = (
    '{"custom_id": "ok-1", "params": {"model": "claude-haiku-4-5", "max_tokens": 10,'
    ' "messages": [{"role": "user", "content": "hi"}]}}\n{broken\n'
)


def test_import_report_words(emulator_env: EmulatorHandle, tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text(BAD)
    proc = run("submit", "bad.jsonl", cwd=tmp_path)
    assert proc.returncode == 1
    assert "(s)" not in proc.stdout + proc.stderr
    assert "1 error, 0 warnings" in proc.stdout

    (tmp_path / "p.txt").write_text("".join(f"prompt {i}\n" for i in range(1500)))
    proc = run("submit", "p.txt", "--dry-run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "0.0 MB" not in proc.stdout
    assert re.search(r"1,500 requests, [\d.]+ KB\)", proc.stdout), proc.stdout
    assert "estimated cost: ~$" in proc.stdout  # an estimate says it is one
    assert "1–1,500" in proc.stdout  # the split plan's lines, with separators


def test_submit_says_one_batch(emulator_env: EmulatorHandle, tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("one\n")
    proc = run("submit", "p.txt", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"job job_\w+: 1 batch$", proc.stdout, re.M), proc.stdout
    assert "(es)" not in proc.stdout
    assert json.loads(run("ls", "--offline", "--json", cwd=tmp_path).stdout)


def test_a_column_of_costs_has_one_number_of_decimals() -> None:
    assert [money(v) for v in (0.0042, 12.5, 0.0)] == ["<$0.01", "$12.50", "$0.00"]
    assert money(0.5, approx=True) == "~$0.50"
