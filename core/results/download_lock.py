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
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from ..file_lock import AVAILABLE, release, try_lock  # no flock (Windows): not serialised

POLL_S = 0.1


def lock_path(final: Path) -> Path:
    return final.with_name(f".{final.name}.lock")


@contextlib.asynccontextmanager
async def download_lock(
    final: Path, on_wait: Callable[[], None] | None = None
) -> AsyncIterator[bool]:
    """Hold the download lock of the results file `final`; yields whether it had to wait
    for another process (then `on_wait()` was called once, when the wait began)."""
    if not AVAILABLE:
        yield False
        return
    path = lock_path(final)
    waited = False
    # Called on the loop: an open, a non-blocking flock and a stat take microseconds, and
    # a lock taken in a thread could be lost to a cancellation of the wait.
    while (fd := try_lock(path)) is None:
        if not waited and on_wait is not None:
            on_wait()
        waited = True
        await asyncio.sleep(POLL_S)
    try:
        yield waited
    finally:
        release(path, fd)
