"""Whether a process named by its pid in a file's name still runs: what lets batchtop remove
what a killed process left behind (upload copies, demo homes), never a live one's."""

from __future__ import annotations

import os


def named_pid(text: str) -> int | None:
    """The pid a name's field holds (ASCII digits), else None: anyone may create a name in
    the temp directory, and `str.isdigit` also takes digits `int` refuses (a superscript)."""
    return int(text) if text.isascii() and text.isdigit() else None


def pid_alive(pid: int) -> bool:
    """True unless no process has this pid (another user's process counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # (no process has a pid past pid_t's range)
        return False
    except OSError:  # another user's process: alive
        return True
    return True
