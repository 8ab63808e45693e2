"""Results download: raw bytes to disk (atomic, resumable) and into the results index.

The SDK's `results()` iterator builds a pydantic object per line in 64-byte reads (about 11 s
for 100,000 lines); streaming the raw JSONL and indexing it with orjson is an order of
magnitude faster. A first download is indexed as it arrives (`download_and_ingest`): each
piece written to the file is parsed while the socket buffers the next one, and SQLite inserts
on its own thread. A download goes to a hidden temp file in the results directory, is checked
(complete last line, expected line count), fsynced and renamed: a cut stream never leaves a
partial file under the final name. A cut stream is resumed with `Range` when the server
honours it, restarted otherwise, a few times with backoff.

Several processes may download one batch into one results directory: each download holds
the batch's lock (`download_lock`) and the others wait for it, then find the batch indexed
and keep it. The temp file is named per process, so no process ever writes, renames or
deletes another's; the holder deletes the ones killed processes left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .. import paths
from ..errors import ApiError, UserError
from ..models import ResultsDownload
from ..providers.base import BatchProvider
from .download_lock import download_lock
from .ingest import FEED_BYTES, Ingest

if TYPE_CHECKING:
    from .index import ResultsIndex

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
Sleep = Callable[[float], Awaitable[None]]

MAX_ATTEMPTS = 5
# Bytes per piece read from the results stream: each piece is a loop iteration, a file write
# through a thread and a progress call on the event loop's thread, which shares the GIL with
# the parse; 256 KiB pieces took 0.16-0.20 s of its CPU for 100k results, 64 KiB 0.23-0.25 s.
READ_BYTES = 1 << 18


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
    api: BatchProvider,
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
    temp = _temp_path(final)
    try:
        await asyncio.to_thread(temp.unlink, missing_ok=True)

        async def check() -> None:
            lines, clean = await asyncio.to_thread(_count_lines, temp)
            _check_complete(lines, clean, expected_lines)

        await _attempts(
            api, batch_id, temp, check, None, progress, sleep, attempts, retry_not_found
        )
        unchanged = await asyncio.to_thread(_same_file, temp, final)
        size = await asyncio.to_thread(_finish, temp, final)
    finally:
        await asyncio.to_thread(temp.unlink, missing_ok=True)
    return Downloaded(final, size, unchanged)


def waiting_note(batch_id: str) -> str:
    """What a download waiting for another process's download of the batch tells the user."""
    return f"Another batchtop is downloading the results of {batch_id}: waiting for it to finish."


def _temp_path(final: Path) -> Path:
    """This process's temp file for `final` (hidden, named per process)."""
    return final.with_name(f".{final.name}.{os.getpid()}.part")


def _remove_stale_temps(final: Path) -> None:
    """Delete temp files of `final` that killed downloads left (called holding its lock,
    so no other download is writing one)."""
    for stale in final.parent.glob(f".{glob.escape(final.name)}*.part"):
        with contextlib.suppress(OSError):
            stale.unlink()


def _check_complete(lines: int, clean: bool, expected_lines: int | None) -> None:
    if not clean or (expected_lines is not None and lines < expected_lines):
        want = "?" if expected_lines is None else str(expected_lines)
        raise IncompleteDownload(f"got {lines} of {want} lines")


async def _attempts(
    api: BatchProvider,
    batch_id: str,
    temp: Path,
    check: Callable[[], Awaitable[None]],
    ingest: Ingest | None,
    progress: Progress | None,
    sleep: Sleep | None,
    attempts: int,
    retry_not_found: bool,
) -> None:
    """Stream into `temp` until `check()` passes, resuming or restarting a cut stream."""
    sleep = sleep or asyncio.sleep
    for attempt in range(1, attempts + 1):
        try:
            await _stream_to(api, batch_id, temp, progress, ingest)
            await check()
            return
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


class _Feeder:
    """Hands the bytes written to the file to an `Ingest`, ~1 MB at a time.

    A piece is parsed on a worker thread while the loop goes on reading the next one; one
    piece at a time, in order, so the ingest always ends up with exactly the file's bytes.
    """

    def __init__(self, ingest: Ingest) -> None:
        self.ingest = ingest
        self._pending: list[bytes] = []
        self._size = 0
        self._running: asyncio.Future[None] | None = None
        # One thread parses every piece: with the loop's shared pool, each of its threads
        # kept a malloc arena holding freed row memory (+20 MB peak RSS at 300k rows).
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="batchtop-parse")

    async def add(self, chunk: bytes) -> None:
        self._pending.append(chunk)
        self._size += len(chunk)
        if self._size >= FEED_BYTES:
            await self._hand_over()

    async def _hand_over(self) -> None:
        await self.settle()
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._size = 0
            loop = asyncio.get_running_loop()
            self._running = loop.run_in_executor(self._thread, self.ingest.feed, data)

    async def settle(self) -> None:
        """Wait for the piece being parsed (re-raising its error)."""
        running, self._running = self._running, None
        if running is not None:
            await running

    async def drain(self) -> None:
        """Everything added is parsed."""
        try:
            await self._hand_over()
            await self.settle()
        finally:
            self._thread.shutdown(wait=False)

    async def abandon(self) -> None:
        """After a failure: let a running parse end (the ingest is not shared), drop the rest."""
        self._pending.clear()
        running, self._running = self._running, None
        if running is not None:
            with contextlib.suppress(Exception):
                await _through_cancel(running)
        self._thread.shutdown(wait=False)


async def _stream_to(
    api: BatchProvider, batch_id: str, temp: Path, progress: Progress | None, ingest: Ingest | None
) -> None:
    """Append the body to `temp`, resuming from its size when the server allows `Range`.

    With `ingest`, every byte written is also fed to it (see `_Feeder`), so it has always
    seen exactly the file's bytes: a resumed stream continues its parse, a restarted one
    restarts it.
    """
    try:
        start = os.stat(temp).st_size
    except FileNotFoundError:
        start = 0
    import aiofiles  # the download's writes go through a thread, never block the loop

    feeder = _Feeder(ingest) if ingest is not None else None
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT, 0o600)
    async with aiofiles.open(fd, "r+b") as fh:
        await fh.seek(start)
        written = start
        first = True
        try:
            async for chunk, resumed in api.iter_results(
                batch_id, start=start, chunk_size=READ_BYTES
            ):
                if first:
                    first = False
                    if start and not resumed:  # server ignored Range: restart from zero
                        await fh.seek(0)
                        await fh.truncate()
                        written = 0
                        if feeder is not None:
                            await asyncio.to_thread(feeder.ingest.restart)
                    continue
                await fh.write(chunk)
                written += len(chunk)
                if feeder is not None:
                    await feeder.add(chunk)
                if progress is not None:
                    progress(written)
            if feeder is not None:
                await feeder.drain()
        except ApiError:
            if feeder is not None:
                await feeder.drain()  # a cut stream: what reached the file is parsed too
            raise
        except BaseException:
            if feeder is not None:
                await feeder.abandon()
            raise
        await fh.truncate()


def _digest(path: Path) -> bytes:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.digest()


def _same_file(new: Path, old: Path) -> bool:
    """True when a re-download produced exactly the bytes already on disk."""
    try:
        if new.stat().st_size != old.stat().st_size or not old.is_file():
            return False
    except FileNotFoundError:
        return False
    return _digest(new) == _digest(old)


def _finish(temp: Path, final: Path) -> int:
    """Publish the checked temp file under its final name (0600, fsynced); returns its size."""
    with open(temp, "rb") as fh:
        os.fsync(fh.fileno())
    os.chmod(temp, 0o600)
    try:
        os.replace(temp, final)
    except OSError as err:  # a directory in its place, a results directory made read-only
        raise UserError(
            f"Cannot save the downloaded results as {final}: {err.strerror or err}."
        ) from None
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
    api: BatchProvider,
    results: ResultsIndex,
    batch_id: str,
    *,
    expected_lines: int | None = None,
    indexed: int = 0,
    results_dir: Path | None = None,
    progress: Progress | None = None,
    sleep: Sleep | None = None,
    attempts: int = MAX_ATTEMPTS,
    retry_not_found: bool = False,
    on_wait: Callable[[str], None] | None = None,
) -> ResultsDownload:
    """Download a batch's results to its file and index them; returns the indexed rows and
    whether another process downloaded them.

    A first download is indexed while it streams in: no second pass over the file, and
    parsing and inserting overlap the network. `indexed`: the rows an earlier complete
    download left in the index; then the new download goes to a file first and, when its
    bytes equal the file on disk, the index is kept as it is.

    While another process downloads the batch into the same directory, `on_wait(note)` is
    called once with what to tell the user (`waiting_note`) and this one waits; what that
    download indexed is then kept (no second download), as is a complete download that
    landed since the caller looked (`indexed` 0): then `by_another_process`. A batch whose
    download ended with nothing indexed (or was cut short by a killed process) is downloaded
    again (by this process: not `by_another_process`).
    """
    final = results_path(batch_id, results_dir)
    paths.ensure_private_dir(final.parent)
    tell = None if on_wait is None else lambda: on_wait(waiting_note(batch_id))
    async with download_lock(final, tell) as waited:
        done = await asyncio.to_thread(results.completed_download, batch_id)
        if done is not None and (waited or not indexed):
            return ResultsDownload(batch_id, done, by_another_process=True)
        await asyncio.to_thread(_remove_stale_temps, final)
        rows = await _download_and_ingest(
            api,
            results,
            batch_id,
            expected_lines=expected_lines,
            indexed=indexed,
            results_dir=results_dir,
            progress=progress,
            sleep=sleep,
            attempts=attempts,
            retry_not_found=retry_not_found,
        )
        return ResultsDownload(batch_id, rows)


async def _download_and_ingest(
    api: BatchProvider,
    results: ResultsIndex,
    batch_id: str,
    *,
    expected_lines: int | None,
    indexed: int,
    results_dir: Path | None,
    progress: Progress | None,
    sleep: Sleep | None,
    attempts: int,
    retry_not_found: bool,
) -> int:
    if indexed:
        done = await download(
            api,
            batch_id,
            expected_lines=expected_lines,
            results_dir=results_dir,
            progress=progress,
            sleep=sleep,
            attempts=attempts,
            retry_not_found=retry_not_found,
        )
        await asyncio.to_thread(results.set_results_file, batch_id, done.path, downloaded=True)
        if done.unchanged:
            return indexed
        return await asyncio.to_thread(results.ingest_results, batch_id, done.path)
    final = results_path(batch_id, results_dir)
    paths.ensure_private_dir(final.parent)
    temp = _temp_path(final)
    starting = asyncio.ensure_future(asyncio.to_thread(results.start_ingest, batch_id, final))
    ingest = await _through_cancel(starting, on_cancel=_close_started)
    try:
        await asyncio.to_thread(temp.unlink, missing_ok=True)

        async def check() -> None:
            _check_complete(ingest.lines, ingest.ends_cleanly, expected_lines)

        await _attempts(
            api, batch_id, temp, check, ingest, progress, sleep, attempts, retry_not_found
        )
        # Publishing the file (fsync, rename) and the last commit both wait on the disk.
        both = asyncio.gather(
            asyncio.to_thread(_finish, temp, final),
            asyncio.to_thread(ingest.finish),
            return_exceptions=True,
        )
        published, finished = await _through_cancel(both)
        for outcome in (published, finished):
            if isinstance(outcome, BaseException):
                raise outcome
        assert not isinstance(finished, BaseException)
        rows = finished.rows
        # Before the ingest closes: closing starts the search-index build, whose steps hold
        # the write lock this would wait for (0.1-0.8 s at 100k rows, the first step's).
        await asyncio.to_thread(ingest.record_file, final)
    finally:
        await _through_cancel(asyncio.ensure_future(asyncio.to_thread(ingest.close)))
        await asyncio.to_thread(temp.unlink, missing_ok=True)
    return rows


T = TypeVar("T")


async def _through_cancel(
    fut: asyncio.Future[T], on_cancel: Callable[[asyncio.Future[T]], None] | None = None
) -> T:
    """Await thread work to its end even if cancelled meanwhile, then re-raise the cancel.

    A thread cannot be interrupted: returning early would leave it using the ingest's
    connection while the caller goes on (and the database may close that connection).
    `on_cancel(fut)` runs after a cancelled wait (to release what `fut` produced).
    """
    cancelled = False
    while not fut.done():
        try:
            await asyncio.shield(fut)
        except asyncio.CancelledError:
            if fut.cancelled():
                raise
            cancelled = True
    if cancelled:
        if on_cancel is not None:
            on_cancel(fut)
        raise asyncio.CancelledError
    return fut.result()


def _close_started(fut: asyncio.Future[Ingest]) -> None:
    if fut.exception() is None:
        fut.result().close()
