"""A label is one line of plain text of at most `LABEL_MAX_CHARS` characters (core's
`checked_label`, for `label`, `submit --label` and the dashboard's label dialog): a line
break or another control character, or 100,000 characters, is a one-line error, not a
label shown as "a b"."""

from __future__ import annotations

import re
from pathlib import Path

from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import LABEL_MAX_CHARS
from test_cli import assert_one_line_error, run


def test_labels_are_one_line_and_bounded(emulator_env: EmulatorHandle, tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("one\n")
    proc = run("submit", "p.txt", "--label", "a\nb", "--yes", cwd=tmp_path)
    assert_one_line_error(proc, "A label is one line of plain text")
    assert "(\\n)" in proc.stderr
    assert proc.stdout == ""  # said before the file is read
    assert emulator_env.stats.count("create") == 0

    proc = run("submit", "p.txt", "--yes", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (bid,) = re.findall(r"submitted (msgbatch_\w+)", proc.stdout)
    assert_one_line_error(run("label", bid, "a\nb", cwd=tmp_path), "control character (\\n)")
    assert_one_line_error(run("label", bid, "x\x1b[31m", cwd=tmp_path), "(\\x1b)")
    assert_one_line_error(
        run("label", bid, "x" * 100_000, cwd=tmp_path),
        f"A label is at most {LABEL_MAX_CHARS} characters: this one has 100,000.",
    )
    longest = "é" * LABEL_MAX_CHARS
    assert run("label", bid, longest, cwd=tmp_path).returncode == 0
    assert f'"label": "{longest}"' in run("ls", "--offline", "--json", cwd=tmp_path).stdout
