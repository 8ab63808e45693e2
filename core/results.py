"""Results download: raw bytes to disk (atomic, resumable), then into the store's index.

The SDK's `results()` iterator builds a pydantic object per line in 64-byte reads (about 11 s
for 100,000 lines); streaming the raw JSONL to a file and indexing it with orjson is an order
of magnitude faster. A download goes to a hidden temp file in the results directory, is
checked (complete last line, expected line count), fsynced and renamed: a cut stream never
leaves a partial file under the final name. A cut stream is resumed with `Range` when the
server honours it, restarted otherwise, a few times with backoff.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import paths
from .api import BatchApi
from .errors import ApiError

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
Sleep = Callable[[float], Awaitable[None]]

MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Downloaded:
    """A finished download; `unchanged` when the bytes equal the file that was there."""

    path: Path
    size: int
    unchanged: bool


def results_path(batch_id: str, results_dir: Path | None = None) -> Path:
    return (results_dir or paths.results_dir()) / f"{batch_id}.jsonl"


class IncompleteDownload(Exception):
    """The stream ended early (cut connection or truncated body)."""


def _count_lines(path: Path) -> tuple[int, bool]:
    """Number of newline-terminated lines, and whether the file ends cleanly."""
    lines = 0
    last = b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines, last == b"\n"


async def download(
    api: BatchApi,
    batch_id: str,
    *,
    expected_lines: int | None = None,
    results_dir: Path | None = None,
    progress: Progress | None = None,
    sleep: Sleep | None = None,
    attempts: int = MAX_ATTEMPTS,
    retry_not_found: bool = False,
) -> Downloaded:
    """Stream a batch's results to `<results_dir>/<batch_id>.jsonl` (0600) and return it.

    `retry_not_found` treats a 404 as transient (for batches created minutes ago).
    """
    final = results_path(batch_id, results_dir)
    paths.ensure_private_dir(final.parent)
    temp = final.with_name(f".{final.name}.part")
    sleep = sleep or asyncio.sleep
    try:
        temp.unlink(missing_ok=True)
        for attempt in range(1, attempts + 1):
            try:
                await _stream_to(api, batch_id, temp, progress)
                lines, clean = await asyncio.to_thread(_count_lines, temp)
                if not clean or (expected_lines is not None and lines < expected_lines):
                    want = "?" if expected_lines is None else str(expected_lines)
                    raise IncompleteDownload(f"got {lines} of {want} lines")
                break
            except (ApiError, IncompleteDownload) as err:
                # Right after a batch is created the API sometimes answers 404 for a while
                # (anthropic-sdk-python#1432): then a 404 is worth a few more tries.
                transient = retry_not_found and isinstance(err, ApiError) and err.status == 404
                if isinstance(err, ApiError) and err.kind in ("auth", "invalid") and not transient:
                    raise
                log.warning("results download of %s attempt %d failed: %s", batch_id, attempt, err)
                if attempt == attempts:
                    raise ApiError(
                        f"Could not download the results of {batch_id}"
                        f" after {attempts} attempts: {err}",
                        kind=err.kind if isinstance(err, ApiError) else "offline",
                    ) from None
                await sleep(min(30.0, 0.5 * 2 ** (attempt - 1)))
        unchanged = await asyncio.to_thread(_same_file, temp, final)
        size = await asyncio.to_thread(_finish, temp, final)
    finally:
        await asyncio.to_thread(temp.unlink, missing_ok=True)
    return Downloaded(final, size, unchanged)


async def _stream_to(api: BatchApi, batch_id: str, temp: Path, progress: Progress | None) -> None:
    """Append the body to `temp`, resuming from its size when the server allows `Range`."""
    try:
        start = os.stat(temp).st_size
    except FileNotFoundError:
        start = 0
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+b") as fh:
        fh.seek(start)
        written = start
        first = True
        async for chunk, resumed in api.iter_results(batch_id, start=start):
            if first:
                first = False
                if start and not resumed:  # server ignored Range: restart from zero
                    fh.seek(0)
                    fh.truncate()
                    written = 0
                continue
            fh.write(chunk)
            written += len(chunk)
            if progress is not None:
                progress(written)
        fh.truncate()
        fh.flush()
        await asyncio.to_thread(os.fsync, fh.fileno())  # can take a while: off the loop


def _digest(path: Path) -> bytes:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.digest()


def _same_file(new: Path, old: Path) -> bool:
    """True when a re-download produced exactly the bytes already on disk."""
    try:
        if new.stat().st_size != old.stat().st_size:
            return False
    except FileNotFoundError:
        return False
    return _digest(new) == _digest(old)


def _finish(temp: Path, final: Path) -> int:
    """Publish the checked temp file under its final name (0600); returns its size."""
    os.chmod(temp, 0o600)
    os.replace(temp, final)
    try:
        dir_fd = os.open(final.parent, os.O_RDONLY)
    except OSError:
        return final.stat().st_size
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return final.stat().st_size


async def download_and_ingest(
    api: BatchApi,
    store: Store,
    batch_id: str,
    *,
    expected_lines: int | None = None,
    results_dir: Path | None = None,
    progress: Progress | None = None,
    sleep: Sleep | None = None,
) -> int:
    """Download then index; returns the number of indexed rows."""
    done = await download(
        api,
        batch_id,
        expected_lines=expected_lines,
        results_dir=results_dir,
        progress=progress,
        sleep=sleep,
    )
    return await asyncio.to_thread(store.ingest_results, batch_id, done.path)
