"""A demo killed with SIGKILL leaves its temporary home behind; the next demo removes the
homes of demos that are gone, never a running demo's or a directory it did not name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from batchtop.core.demo import DEMO_HOME, remove_dead_demo_homes


def test_a_killed_demos_home_is_removed_and_a_running_ones_kept(tmp_path: Path) -> None:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    dead = tmp_path / f"{DEMO_HOME}{ended.pid}-k1llz"
    (dead / "data").mkdir(parents=True)
    (dead / "data" / "store.sqlite3").write_bytes(b"x" * 100)
    running = tmp_path / f"{DEMO_HOME}{os.getpid()}-al1ve"
    running.mkdir()
    unnamed = tmp_path / f"{DEMO_HOME}12345678"  # an older demo's name: no pid in it
    unnamed.mkdir()
    a_file = tmp_path / f"{DEMO_HOME}{ended.pid}-file"
    a_file.write_text("not a home")
    assert remove_dead_demo_homes(tmp_path) == [dead]
    assert not dead.exists()
    assert running.is_dir()
    assert unnamed.is_dir()
    assert a_file.is_file()


def test_names_anyone_can_make_in_the_temp_directory_stop_no_demo(tmp_path: Path) -> None:
    # /tmp is everyone's: a name whose "pid" no process can have, or whose digits int()
    # refuses, made every demo start end in "unexpected OverflowError" (or ValueError)
    too_big = tmp_path / f"{DEMO_HOME}{'9' * 20}-x"
    too_big.mkdir()
    superscript = tmp_path / f"{DEMO_HOME}\u00b2-x"
    superscript.mkdir()
    assert remove_dead_demo_homes(tmp_path) == [too_big]  # no process has that pid
    assert superscript.is_dir()  # not named by a pid: not batchtop's to judge
