"""`watch` and `results` against the real emulator, as subprocesses: `watch` goes on after
transient errors and fits a 100-column terminal with the dashboard's words and a ticking
line; `results` downloads only what it was asked for and says clearly what is wrong with an
empty id."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from batchtop.core.emulator import EmulatorHandle
from cli_support import config_env, run
from pty_run import CLI, Terminal
from rich.text import Text
from test_cli import assert_one_line_error, sigint_default
from waiting import wait_until


def submit(tmp_path: Path, name: str, lines: int = 2) -> str:
    src = tmp_path / name
    src.write_text("".join(f"{name} prompt {i}\n" for i in range(lines)))
    proc = run("submit", str(src), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (bid,) = json.loads(proc.stdout)["batch_ids"]
    return str(bid)


def no_sdk_retries(tmp_path: Path) -> dict[str, str]:
    """An environment whose config turns the SDK's own retries off: batchtop's policy shows."""
    return config_env(tmp_path, "max_retries = 0\n")


def test_watch_backs_off_after_a_529_on_its_first_refresh_and_goes_on(
    emulator_env: EmulatorHandle, tmp_path: Path
) -> None:
    emulator_env.config.rate = 0.001
    bid = submit(tmp_path, "p.txt")
    emulator_env.set_faults(rate_529=1.0)
    watch = subprocess.Popen(
        [*CLI, "watch", "--interval", "0.1"],
        cwd=tmp_path,
        env=no_sdk_retries(tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_default,
    )
    try:
        wait_until(lambda: emulator_env.stats.count("list", 529) >= 1, 90, "a refused refresh")
        emulator_env.clear_faults()
        wait_until(
            lambda: emulator_env.stats.count("list", 200) >= 1 or watch.poll() is not None,
            90,
            "a refresh after it",
        )
        assert watch.poll() is None, watch.communicate()  # it did not give up
        emulator_env.advance(3600)
        out, err = watch.communicate(timeout=120)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert watch.returncode == 0, err
    assert "refresh failed" in err  # said, not hidden
    assert "Traceback" not in err
    assert f"{bid} ended: 2 results downloaded" in err
    assert "ended:" not in out  # stdout holds the table only


def test_watch_gives_up_on_a_rejected_key(emulator_env: EmulatorHandle, tmp_path: Path) -> None:
    emulator_env.config.api_keys = frozenset({"the-right-key"})
    proc = run("watch", cwd=tmp_path, timeout=90)
    assert_one_line_error(proc, "rejected")


def test_results_downloads_only_the_batch_it_was_asked_for(
    emulator_env: EmulatorHandle, tmp_path: Path
) -> None:
    emulator_env.config.rate = 0.001
    first = submit(tmp_path, "a.txt")
    second = submit(tmp_path, "b.txt")
    emulator_env.advance(3600)  # both end; the local store still has them in progress
    proc = run("results", first, "--out", "first.jsonl", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len((tmp_path / "first.jsonl").read_text().splitlines()) == 2
    assert emulator_env.stats.count("results") == 1  # no download of the other batch
    listed = {b["id"]: b for b in json.loads(run("ls", "--offline", "--json", cwd=tmp_path).stdout)}
    assert listed[second]["results_indexed"] == 0
    assert listed[second]["results_downloaded"] is False


def test_an_empty_id_is_a_clear_message(emulator_env: EmulatorHandle, tmp_path: Path) -> None:
    for command in ("results", "retry", "watch"):
        proc = run(command, "", cwd=tmp_path)
        assert_one_line_error(proc, "No batch or job id given")
        assert "ValueError" not in proc.stderr
    proc = run("cancel", " ", "--yes", cwd=tmp_path)
    assert_one_line_error(proc, "No batch or job id given")


def test_watch_fits_100_columns_in_the_dashboards_words_and_ticks(
    emulator_env: EmulatorHandle, tmp_path: Path
) -> None:
    emulator_env.config.rate = 0.001
    bid = submit(tmp_path, "p.txt")
    run("label", bid, "a label that is rather long for a narrow table", cwd=tmp_path)
    term = Terminal(
        "watch", "--interval", "5", cwd=tmp_path, env=dict(os.environ), columns=100, rows=30
    )
    try:
        term.wait_for("in progress")
        # a visible tick: the countdown to the next refresh moves between refreshes
        wait_until(lambda: len(set(re.findall(r"next in \d+s", term.text()))) >= 2, 30, "ticks")
        term.interrupt()
        code, shown = term.finish(timeout=60)
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
    assert code == 130, shown[-2000:]
    assert "in_progress" not in shown
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)  # what is drawn, without styles
    drawn = [line for line in plain.split("\n") if "│" in line or "━" in line or "─" in line]
    assert drawn, plain[-2000:]
    assert max(Text(line).cell_len for line in drawn) <= 100, drawn
    assert bid in plain  # the id still fits in full


def test_results_downloads_again_a_results_file_that_went(
    emulator_env: EmulatorHandle, tmp_path: Path
) -> None:
    """The index reads its raw lines from the downloaded file: with the file deleted or
    truncated, `results` downloads it again instead of failing on the JSONL export."""
    emulator_env.config.rate = 0.001
    bid = submit(tmp_path, "a.txt", lines=3)
    emulator_env.advance(3600)
    proc = run("results", bid, "--out", "one.jsonl", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (final,) = Path(os.environ["XDG_DATA_HOME"]).rglob(f"{bid}.jsonl")
    exported = (tmp_path / "one.jsonl").read_bytes()
    for damage in ("delete", "truncate"):
        if damage == "delete":
            final.unlink()
        else:
            with open(final, "r+b") as fh:
                fh.truncate(10)
        proc = run("results", bid, "--out", f"{damage}.jsonl", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / f"{damage}.jsonl").read_bytes() == exported
    assert emulator_env.stats.count("results") == 3
