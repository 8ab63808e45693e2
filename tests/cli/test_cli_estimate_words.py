"""`submit --dry-run` of OpenAI requests without an output budget: the estimate says it is
input only (never `up to 0 output` and a figure that reads as the whole cost), and a text
file is reported as text."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from batchtop.core.emulator import EmulatorHandle
from cli_support import run

pytest.importorskip("openai")


def test_dry_run_of_text_without_a_budget_is_input_only(
    openai_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    env = dict(os.environ, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=openai_emulator.base_url)
    (tmp_path / "words.txt").write_text("one\ntwo\nthree\n", encoding="utf-8")
    args = ("submit", "--provider", "openai", "words.txt", "--model", "gpt-4o-mini", "--dry-run")
    proc = run(*args, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "(txt, 3 requests" in out
    assert "input only: output not bounded" in out
    assert "up to 0 output" not in out
    assert "$0.0000" not in out
    with_budget = run(*args, "--max-tokens", "100", cwd=tmp_path, env=env)
    assert "up to 300 output" in with_budget.stdout
    assert "input only" not in with_budget.stdout
