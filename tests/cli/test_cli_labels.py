"""A label is one line of plain text of at most `LABEL_MAX_CHARS` characters (core's
`checked_label`, for `label`, `submit --label` and the dashboard's label dialog): a line
break or another control character, or 100,000 characters, is a one-line error, not a
label shown as "a b"."""

from __future__ import annotations

import re
from argparse import Namespace
from pathlib import Path

import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import LABEL_MAX_CHARS
from data_factory import request
from service_support import ServiceFactory
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


async def test_watch_says_an_ended_batchs_label_as_stored(
    make_service: ServiceFactory, emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    """`watch --notify`'s line on stderr names a batch by its label as it is kept (a line
    break shown, `a\\x0ab`), as `ls` and `show` do."""
    from batchtop.core.fleet import Fleet
    from batchtop.tui.cli.commands.watch import EndAnnouncer

    service = make_service(desktop_notify=False)
    (bid,) = (await service.submit_requests([request("a-1")], name="job")).batch_ids
    service.store.set_label(bid, "a\nb")  # as an older batchtop or another client kept it
    emulator.advance(3600)
    await service.refresh()
    view = service.batch(bid)
    assert view is not None
    assert not view.remote.is_active
    await EndAnnouncer(Fleet([service]), Namespace(notify=True, exec_command=None))([view])
    assert "a\\x0ab: 1 succeeded" in capsys.readouterr().err
