"""An OpenAI estimate of input only (no output budget on the requests) is a floor wherever
a batch's cost is shown: `~<$0.01+` / `~$0.03+` (core/money.py), `cost_is_floor` in JSON;
a bounded one stays `~…` (it read `~<$0.01` as if whole, then cost $0.03)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import BatchCost
from batchtop.tui.format import cost_text
from cli_support import run

pytest.importorskip("openai")


def test_an_input_only_estimate_is_shown_as_a_floor(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    openai_emulator.config.rate = 0.001  # in progress: the estimate is what is shown
    env = dict(os.environ, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=openai_emulator.base_url)
    ids = {}
    for name, extra in (("open", ()), ("bounded", ("--max-tokens", "50"))):
        (tmp_path / f"{name}.txt").write_text(f"a prompt {name}\nanother {name}\n")
        args = ("submit", "--provider", "openai", f"{name}.txt", "--model", "gpt-4o-mini")
        sent = run(*args, *extra, "--yes", "--json", cwd=tmp_path, env=env)
        assert sent.returncode == 0, sent.stderr
        (ids[name],) = json.loads(sent.stdout)["batch_ids"]
    proc = run("ls", "--provider", "openai", "--offline", "--json", cwd=tmp_path, env=env)
    rows = {r["id"]: r for r in json.loads(proc.stdout)}
    assert rows[ids["open"]]["cost_is_floor"] is True
    assert rows[ids["bounded"]]["cost_is_floor"] is False
    table = run("ls", "--provider", "openai", "--offline", cwd=tmp_path, env=env).stdout
    (open_line,) = [line for line in table.splitlines() if ids["open"] in line]
    (bounded_line,) = [line for line in table.splitlines() if ids["bounded"] in line]
    assert "~<$0.01+" in open_line, open_line
    assert "~<$0.01" in bounded_line, bounded_line
    assert "+" not in bounded_line, bounded_line


def test_both_front_ends_write_a_floor_alike() -> None:
    floor = BatchCost(0.034, is_estimate=True, floor=True)
    assert cost_text(floor) == "~$0.03+"
    assert cost_text(BatchCost(0.034, is_estimate=True)) == "~$0.03"
    assert cost_text(BatchCost(0.034, is_estimate=False)) == "$0.03"
