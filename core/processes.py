"""Whether a process named by its pid in a file's name still runs: what lets batchtop remove
what a killed process left behind (upload copies, demo homes), never a live one's."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True unless no process has this pid (another user's process counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True
