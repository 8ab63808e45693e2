"""One download of a batch at a time per data directory, across processes.

Several batchtop processes may download the same batch into one results directory (the
dashboard's auto-download and a `batchtop results` run, or scripts started together). The
first takes an exclusive `flock` on `.<batch>.jsonl.lock` beside the results file; the others
wait for it (polling: a cancelled wait leaves no thread blocked in flock) and then find the batch
indexed. The kernel drops a dead process's lock, so a holder killed with -9 never blocks the
next run. The holder removes the lock file before releasing it; a waiter that then locks the
removed file sees that the path names another file (or none) and tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

try:
    import fcntl
except ImportError:  # no flock (Windows): downloads are not serialised across processes
    fcntl = None  # type: ignore[assignment]

POLL_S = 0.1


def lock_path(final: Path) -> Path:
    return final.with_name(f".{final.name}.lock")


def _try_lock(path: Path) -> int | None:
    """An fd holding the lock on the file now at `path`; None while another process holds it."""
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


def _release(path: Path, fd: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # while still held: a waiter that locks it next sees it is gone
    os.close(fd)


@contextlib.asynccontextmanager
async def download_lock(
    final: Path, on_wait: Callable[[], None] | None = None
) -> AsyncIterator[bool]:
    """Hold the download lock of the results file `final`; yields whether it had to wait
    for another process (then `on_wait()` was called once, when the wait began)."""
    if fcntl is None:
        yield False
        return
    path = lock_path(final)
    waited = False
    # Called on the loop: an open, a non-blocking flock and a stat take microseconds, and
    # a lock taken in a thread could be lost to a cancellation of the wait.
    while (fd := _try_lock(path)) is None:
        if not waited and on_wait is not None:
            on_wait()
        waited = True
        await asyncio.sleep(POLL_S)
    try:
        yield waited
    finally:
        _release(path, fd)
