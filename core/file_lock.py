"""An exclusive `flock` on a lock file that its holder removes before letting go: the rule
both the part lock (core/part_lock.py) and the download lock (core/results/download_lock.py)
hold files by. The kernel drops a dead process's lock, so a holder killed with -9 never
blocks the next one; a process that locked a file removed meanwhile tries the one now there.
Without `flock` (Windows) `fcntl` is None and callers lock nothing."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # no flock (Windows)
    fcntl = None  # type: ignore[assignment]

AVAILABLE = fcntl is not None  # False: nothing is locked (callers go on unlocked)


def try_lock(path: Path) -> int | None:
    """An fd holding the lock on the file now at `path`; None while another holder (a
    process, or another fd of this one) has it."""
    assert fcntl is not None
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        held = os.fstat(fd)
        try:
            now = os.stat(path)
        except FileNotFoundError:
            now = None
        if now is not None and (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
            return fd
        os.close(fd)  # the holder removed it as we opened it: lock the file there now


def release(path: Path, fd: int) -> None:
    """Remove the lock file while still holding it, then let go."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # while still held: a waiter that locks it next sees it is gone
    os.close(fd)
