"""The sweep of upload copies left by killed submits runs while other batchtop processes
finish their own imports and remove their folders: a folder gone mid-walk is no error."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from batchtop.core.providers.openai import remove_dead_input_copies


def _dead_pid() -> int:
    ended = subprocess.Popen(["true"])
    ended.wait()
    return ended.pid


def test_a_folder_removed_by_another_process_mid_walk_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    imports, temp = tmp_path / "imports", tmp_path / "tmp"
    temp.mkdir()
    pid = _dead_pid()
    vanishing = imports / "20260101T000000-other" / "prepared"
    staying = imports / "20260101T000001-mine" / "prepared"
    for folder in (vanishing, staying):
        folder.mkdir(parents=True)
        (folder / f".openai-input-{pid}-x.jsonl").write_text("{}\n")
    real_scandir = os.scandir

    def another_process_finishes_first(path: object) -> object:
        # the other batchtop removes its import folder after the walk listed it
        if Path(str(path)) == vanishing.parent:
            shutil.rmtree(vanishing.parent)
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", another_process_finishes_first)
    removed = remove_dead_input_copies(imports, temp)
    monkeypatch.undo()
    assert not vanishing.parent.exists()
    assert removed == [staying / f".openai-input-{pid}-x.jsonl"]
    assert list(staying.iterdir()) == []


def test_copies_named_by_no_possible_pid_stop_no_submit(tmp_path: Path) -> None:
    # anyone can make a file in the temp directory: such a name was an OverflowError
    # (or a ValueError) out of every OpenAI submit
    imports, temp = tmp_path / "imports", tmp_path / "tmp"
    imports.mkdir()
    temp.mkdir()
    too_big = temp / f".openai-input-{'9' * 20}-x.jsonl"
    superscript = temp / ".openai-input-\u00b2-x.jsonl"
    for path in (too_big, superscript):
        path.write_text("{}\n")
    assert remove_dead_input_copies(imports, temp) == [too_big]
    assert superscript.is_file()
