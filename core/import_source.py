"""Where an import reads from: a regular file as it is; a pipe or FIFO copied once to a file.

The analysis reads its input more than once (the first bytes to detect the format, then the
whole file; records again when their own ids cannot be used), so a stream (`cat … |`,
`<(…)`, a FIFO) is first spooled into the import's work directory. The copy is made on the
event loop with non-blocking reads: a FIFO nobody writes to waits without blocking a thread,
so Ctrl-C (or a cancelled task) always stops it. Devices (`/dev/zero`, a terminal) never end
and are refused by the importer (`importer.not_a_file`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

from .errors import UserError

CHUNK = 1 << 20
MIN_FREE_BYTES = 512 * 1024 * 1024
"""Spooling stops (with an error) when the disk has less free space than this left."""
_CHECK_EVERY = 64 * 1024 * 1024
QUIET_S = 1.0
"""How long a stream may stay silent before `spool` says it is waiting for data."""


def is_stream(path: Path) -> bool:
    """Whether `path` is a pipe or FIFO (read once, so it is spooled before an analysis)."""
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


def waiting_message(path: Path) -> str:
    """What to tell the user while a pipe or FIFO has sent nothing yet."""
    return (
        f"waiting for data on the pipe {path}: nothing has been written to it yet"
        " (batchtop reads it to the end first; Ctrl-C stops)"
    )


async def spool(path: Path, dest_dir: Path, on_wait: Callable[[str], None] | None = None) -> Path:
    """Copy the stream `path` into `dest_dir` (named like it, so its extension still says
    the format) until its writer closes it; returns the copy.

    Waits for a writer as long as it takes, without blocking a thread: cancelling the task
    stops it, and the partial copy is removed. When nothing arrives within `QUIET_S`,
    `on_wait` is told once (`waiting_message`): a FIFO nobody writes to is not silent.
    """
    name = path.name if path.suffix else "input"
    dest = dest_dir / f"spooled-{name}"
    loop = asyncio.get_running_loop()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        reason = str(exc.strerror or exc).rstrip(". ")
        raise UserError(f"Cannot read {path}: {reason}.") from None
    try:
        out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            if not await _readable(loop, fd, within_s=QUIET_S) and on_wait is not None:
                on_wait(waiting_message(path))
            await _copy(loop, fd, out, dest_dir)
        finally:
            os.close(out)
    except BaseException:
        with contextlib.suppress(OSError):
            dest.unlink()
        raise
    finally:
        os.close(fd)
    return dest


async def _copy(loop: asyncio.AbstractEventLoop, fd: int, out: int, dest_dir: Path) -> None:
    total = 0
    next_check = _CHECK_EVERY
    while True:
        await _readable(loop, fd)
        try:
            data = os.read(fd, CHUNK)
        except BlockingIOError:
            continue
        if not data:  # the writer closed it (readiness came from the hang-up)
            return
        view = memoryview(data)
        while view:
            view = view[os.write(out, view) :]
        total += len(data)
        if total >= next_check:
            next_check += _CHECK_EVERY
            if os.statvfs(dest_dir).f_bavail * os.statvfs(dest_dir).f_frsize < MIN_FREE_BYTES:
                raise UserError(
                    f"The input stream had not ended after {total / 1e9:,.1f} GB and the disk "
                    f"holding {dest_dir} is nearly full: stopped reading it."
                )


async def _readable(
    loop: asyncio.AbstractEventLoop, fd: int, *, within_s: float | None = None
) -> bool:
    """Wait until `fd` has data or its writer hung up (a FIFO with no writer yet waits);
    False when `within_s` passed first."""
    ready: asyncio.Future[None] = loop.create_future()

    def on_ready() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, on_ready)
    try:
        async with asyncio.timeout(within_s):
            await ready
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(fd)
    return True
