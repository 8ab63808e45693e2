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
import os
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

try:
    import fcntl
except ImportError:  # no flock (Windows)
    fcntl = None  # type: ignore[assignment]

POLL_S = 0.05


def lock_path(store_path: Path, job_id: str, part: int) -> Path | None:
    """The lock file of one part of a job, beside the store's file (None: no such place)."""
    if not str(store_path) or str(store_path).startswith(":"):
        return None
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", job_id)
    return store_path.parent / f".submit-{safe}-{part}.lock"


def _try_lock(path: Path) -> int | None:
    """An fd holding the lock on the file now at `path`; None while another holder (process
    or fd) has it. A holder removes the file before it lets go: one that locked a removed
    file tries the file now there."""
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
        os.close(fd)


def _release(path: Path, fd: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # while still held (a crash leaves the file: the next test removes it)
    os.close(fd)


def is_free(path: Path | None) -> bool | None:
    """Whether no process holds the part's lock now (None: cannot tell)."""
    if fcntl is None or path is None:
        return None
    try:
        fd = _try_lock(path)
    except OSError:
        return None
    if fd is None:
        return False
    _release(path, fd)
    return True


@contextlib.asynccontextmanager
async def holding(path: Path | None, check: Callable[[], None]) -> AsyncIterator[None]:
    """Hold the part's lock while its create is journaled, sent and resolved.

    While another holds it, `check()` runs (it raises when the part is taken: a pending or
    created intent) and the lock is tried again a moment later (a reconcile only tests it)."""
    fd: int | None = None
    if fcntl is not None and path is not None:
        while True:
            try:
                fd = _try_lock(path)
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
            _release(path, fd)
