"""Which process is sending a part: an exclusive `flock` on `.submit-<job>-<part>.lock` in
the store's directory, held from before a part's intent is journaled until it is resolved.

Reconcile reads it to know whether a part's create may still be sent (by a batchtop that is
still running, in this process or another) or can no longer be (its process is gone: the
kernel drops a dead process's lock, so a kill -9 leaves it free). Without `flock`
(Windows) or a store file on disk nothing can be told: `is_free` says None.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from .file_lock import AVAILABLE, release, try_lock

POLL_S = 0.05


def lock_path(store_path: Path, job_id: str, part: int) -> Path | None:
    """The lock file of one part of a job, beside the store's file (None: no such place)."""
    if not str(store_path) or str(store_path).startswith(":"):
        return None
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", job_id)
    return store_path.parent / f".submit-{safe}-{part}.lock"


def is_free(path: Path | None) -> bool | None:
    """Whether no process holds the part's lock now (None: cannot tell)."""
    if not AVAILABLE or path is None:
        return None
    try:
        fd = try_lock(path)
    except OSError:
        return None
    if fd is None:
        return False
    release(path, fd)
    return True


@contextlib.asynccontextmanager
async def holding(path: Path | None, check: Callable[[], None]) -> AsyncIterator[None]:
    """Hold the part's lock while its create is journaled, sent and resolved.

    While another holds it, `check()` runs (it raises when the part is taken: a pending or
    created intent) and the lock is tried again a moment later (a reconcile only tests it)."""
    fd: int | None = None
    if AVAILABLE and path is not None:
        while True:
            try:
                fd = try_lock(path)
            except OSError:
                break  # cannot lock here: sent unlocked (reconcile then cannot tell)
            if fd is not None:
                break
            check()
            await asyncio.sleep(POLL_S)
    try:
        yield
    finally:
        if fd is not None and path is not None:
            release(path, fd)
