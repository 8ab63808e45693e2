"""Standard output for commands: a write that fails there says so.

`guard()` puts `sys.stdout` on file descriptor 1 through `GuardedStdout`, so a write error
on it (a full disk, `> /dev/full`, an I/O error) is a `StdoutError` and `entry.main` can say
"Cannot write to standard output: …" instead of an unexplained OSError; a closed pipe stays a
`BrokenPipeError` (`| head -1` ends quietly). `discard()` points descriptor 1 at the null
device once output is given up, so nothing buffered fails again at exit."""

from __future__ import annotations

import io
import os
import sys


class StdoutError(OSError):
    """Writing to standard output failed (not a closed pipe)."""


class GuardedStdout(io.FileIO):
    """Descriptor 1, its write errors raised as `StdoutError` (a closed pipe as it is)."""

    def write(self, data: object) -> int:
        try:
            return super().write(data)  # type: ignore[arg-type]
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutError(exc.errno, exc.strerror) from None


def guard() -> None:
    """Replace `sys.stdout` (when it is the process's own, on descriptor 1) by the same text
    stream over `GuardedStdout`: encoding, errors and line buffering kept."""
    current = sys.__stdout__
    if current is None or sys.stdout is not current:
        return  # already replaced (captured by a test, redirected by a caller)
    try:
        if current.fileno() != 1:
            return
        current.flush()
    except (OSError, ValueError, io.UnsupportedOperation):
        return
    raw = GuardedStdout(1, "w", closefd=False)
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(raw),
        encoding=current.encoding,
        errors=current.errors,
        line_buffering=current.line_buffering,
    )


def discard() -> None:
    """Standard output is given up: what is still buffered goes to the null device."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(null, 1)
    except OSError:
        pass
    finally:
        os.close(null)
