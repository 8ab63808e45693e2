"""`submit` above `confirm_submit_above_usd` (estimated cost) asks on a terminal and needs
`--yes` in a script; below it, it goes straight out."""

from __future__ import annotations

from pathlib import Path

from batchtop.core.emulator import EmulatorHandle
from cli_support import config_env, run
from pty_run import Terminal
from test_cli import assert_one_line_error


def _setup(tmp_path: Path, limit: float) -> dict[str, str]:
    (tmp_path / "p.txt").write_text("one\ntwo\nthree\n")
    return config_env(tmp_path, f"confirm_submit_above_usd = {limit}\n")


def test_a_script_needs_yes_above_the_threshold(
    emulator_env: EmulatorHandle, tmp_path: Path
) -> None:
    env = _setup(tmp_path, 0.0001)
    refused = run("submit", "p.txt", cwd=tmp_path, env=env)
    assert_one_line_error(refused, "--yes")
    assert "confirm_submit_above_usd" in refused.stderr
    assert emulator_env.stats.count("create") == 0
    sent = run("submit", "p.txt", "--yes", cwd=tmp_path, env=env)
    assert sent.returncode == 0, sent.stderr
    assert emulator_env.stats.count("create") == 1
    (tmp_path / "q.txt").write_text("four\nfive\n")  # another file: p.txt's job exists
    cheap = run("submit", "q.txt", cwd=tmp_path, env=_setup(tmp_path, 1000.0))
    assert cheap.returncode == 0, cheap.stderr  # below the threshold: no question
    assert emulator_env.stats.count("create") == 2


def test_a_terminal_is_asked_above_the_threshold(
    emulator_env: EmulatorHandle, tmp_path: Path
) -> None:
    env = _setup(tmp_path, 0.0001)
    no = Terminal("submit", "p.txt", cwd=tmp_path, env=env)
    no.answer("Submit 3 requests for about ~", "n")
    code, shown = no.finish()
    assert code == 1, shown
    assert "nothing was submitted" in shown
    assert emulator_env.stats.count("create") == 0
    yes = Terminal("submit", "p.txt", cwd=tmp_path, env=env)
    yes.answer("Submit 3 requests for about ~", "y")
    code, shown = yes.finish()
    assert code == 0, shown
    assert "job job_" in shown
    assert emulator_env.stats.count("create") == 1
