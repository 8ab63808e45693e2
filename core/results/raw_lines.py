"""A result row's raw line: from the batch's results file, or from the row itself.

An ingest of a file (every download) leaves each line in the file: the row keeps where it
is (`raw_at`, `raw_len`: the line without its line end) and the CRC-32 of its bytes
(`raw_crc`), and the batch keeps which file (`batch_local.raw_file`) and its size then
(`raw_size`). Rows indexed by an older batchtop, or fed with no file behind them, hold their
line in `raw` (`raw_at` NULL).

A line comes back only if it is the line that was indexed: the file is there, has the size
it had, and the bytes at the offset have the row's length and CRC. Anything else (the file
deleted, truncated, or replaced by other bytes) is a `RawFileChanged`, one line naming the
batch and the file, never other bytes.

The file is read, never mapped: a mapped file that another program truncates in place ends
the process with SIGBUS on the next read of a page past the new end, where a read returns
fewer bytes (a one-line error). A row's line is one `pread`; an export of a whole batch
whose file is at most `WHOLE_FILE_MAX` reads the file once into memory (one sequential
read, then a slice per line: an export reads its lines in custom_id order, at random places
of the file, and a slice costs a fraction of a `pread`), on a thread of its own while the
first pages are queried (`preload`). A file read whole is checked once against the CRC-32
of the whole file as indexed (`batch_local.raw_file_crc`), which vouches for every line in
it; batches indexed before it was kept are checked line by line. The file's identity is
checked before every read and page: a file replaced since (a re-download renames a new one
into place) is opened again.
"""

from __future__ import annotations

import array
import contextlib
import os
import sqlite3
import sys
import threading
import zlib
from collections.abc import Iterable, Sequence
from itertools import repeat
from typing import Any

from ..errors import UserError

RAW_COLUMNS = (
    "CASE WHEN r.raw_at IS NULL THEN CAST(r.raw AS BLOB) END, r.raw_at, r.raw_len, r.raw_crc"
)
"""What a query selects for `RawLines` (a row's line, as UTF-8, is in `raw` or the file)."""

PLACES = "printf('%016x%016x%016x', r.raw_at, r.raw_len, r.raw_crc)"
"""A row's place in its file (offset, length, CRC-32) as 48 hex digits: a page of them,
joined by SQLite into one string, is read by `RawLines.placed` without a tuple per row."""
PLACE_CHARS = 48

WHOLE_FILE_MAX = 256 << 20
"""An export reads results files of at most this many bytes (together) whole."""

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class RawFileChanged(UserError):
    """A row's line is not in its results file as it was indexed."""


class _File:
    """One batch's results file, open read-only, as the index recorded it."""

    def __init__(self, batch_id: str, path: str, size: int, crc: int | None = None) -> None:
        self.batch_id = batch_id
        self.path = path
        self.size = size
        self.crc = crc  # of the whole file as indexed (None: indexed before it was kept)
        self.identity: tuple[int, int, int] | None = None
        self.fd: int | None = None
        self.data: bytes | None = None  # the whole file, once `load` read it
        self.verified = False  # `data` matched `crc`: its lines need no check of their own
        self._reading: tuple[threading.Thread, list[Any], tuple[int, int, int]] | None = None

    def check(self) -> None:
        """Open the file (again, if another file took its name) and check its size."""
        try:
            st = os.stat(self.path)
        except OSError:
            self._drop()
            raise RawFileChanged(
                f"The results file of {self.batch_id} is missing ({self.path}):"
                " download its results again."
            ) from None
        identity = (st.st_dev, st.st_ino, st.st_size)
        if identity == self.identity:
            return
        self._drop()
        if st.st_size != self.size:
            raise self.changed()
        try:
            self.fd = os.open(self.path, os.O_RDONLY | _O_CLOEXEC)
        except OSError as exc:
            raise self.unreadable(exc) from None
        self.identity = identity

    def preload(self) -> None:
        """Start reading the whole (checked) file on a thread (`load` takes what it read).
        The thread reads through a descriptor of its own: `_drop` may close this one."""
        if self.data is not None or self.fd is None or self._reading is not None:
            return
        assert self.identity is not None  # set with `fd`
        try:
            fd = os.dup(self.fd)
        except OSError:
            return  # (no descriptor to spare: `load` reads it then)
        out: list[Any] = []

        def read() -> None:
            try:
                out.append(_read_whole(fd, self.size, self.crc))
            except OSError as exc:
                out.append(exc)
            finally:
                os.close(fd)

        thread = threading.Thread(target=read, name="batchtop-read-results", daemon=True)
        thread.start()
        self._reading = (thread, out, self.identity)

    def load(self) -> None:
        """Read the whole (checked) file into memory: one sequential read (or take what
        `preload` read, if the file is still the one it read); checked against the whole
        file's CRC-32 when the index has one."""
        reading, self._reading = self._reading, None
        if self.data is not None or self.fd is None:
            if reading is not None:
                reading[0].join()
            return
        got: Any = None
        if reading is not None:
            thread, out, identity = reading
            thread.join()
            if identity == self.identity:
                got = out[0]
        if got is None:
            try:
                got = _read_whole(self.fd, self.size, self.crc)
            except OSError as exc:
                got = exc
        if isinstance(got, OSError):
            raise self.unreadable(got)
        data, matches = got
        if data is None or matches is False:
            raise self.changed()
        self.data = data
        self.verified = bool(matches)

    def read(self, at: int, length: int) -> bytes:
        """The bytes at `at` (fewer at the end of the file: the caller checks them)."""
        if self.data is not None:
            return self.data[at : at + length]
        if self.fd is None:
            return b""
        try:
            return os.pread(self.fd, length, at)
        except OSError as exc:
            raise self.unreadable(exc) from None

    def changed(self) -> RawFileChanged:
        return RawFileChanged(
            f"The results file of {self.batch_id} changed since its results were indexed"
            f" ({self.path}): delete it and download its results again."
        )

    def unreadable(self, exc: OSError) -> RawFileChanged:
        return RawFileChanged(
            f"Cannot read the results file of {self.batch_id} ({self.path}): {exc.strerror or exc}."
        )

    def _drop(self) -> None:
        fd, self.fd, self.identity, self.data = self.fd, None, None, None
        self.verified = False
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        self._drop()
        reading, self._reading = self._reading, None
        if reading is not None:  # (its own descriptor: closed by the thread)
            reading[0].join()


def _read_whole(fd: int, size: int, crc: int | None) -> tuple[bytes | None, bool | None]:
    """(the `size` bytes of the file, or None if it has fewer; whether they match `crc`,
    None if there is none). Raises OSError. (The read and the CRC of a large buffer let go
    of the GIL: `preload` runs it beside the export's queries.)"""
    chunks: list[bytes] = []
    got = 0
    while got < size:
        chunk = os.pread(fd, size - got, got)
        if not chunk:
            return None, None
        chunks.append(chunk)
        got += len(chunk)
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return data, None if crc is None else zlib.crc32(data) == crc


def raw_file_intact(conn: sqlite3.Connection, batch_id: str) -> bool:
    """The batch's rows hold their lines, or their results file has its indexed size."""
    row = conn.execute(
        "SELECT raw_file, raw_size FROM batch_local WHERE batch_id = ?", (batch_id,)
    ).fetchone()
    if row is None or row[0] is None:
        return True
    try:
        return os.stat(row[0]).st_size == int(row[1])
    except OSError:
        return False


def _places(text: str) -> array.array[int]:
    """`PLACES` of a page (each value 16 hex digits, big-endian) as integers."""
    values = array.array("Q", bytes.fromhex(text))
    if sys.byteorder == "little":
        values.byteswap()
    return values


class RawLines:
    """Reads rows' raw lines (see the module docstring) on one connection, for one read or
    one export; `close` closes the files."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._files: dict[str, _File | None] = {}

    def __enter__(self) -> RawLines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for held in self._files.values():
            if held is not None:
                held.close()
        self._files.clear()

    def _file(self, batch_id: str) -> _File:
        if batch_id not in self._files:
            row = self._conn.execute(
                "SELECT raw_file, raw_size, raw_file_crc FROM batch_local WHERE batch_id = ?",
                (batch_id,),
            ).fetchone()
            found = None
            if row is not None and row[0] is not None:
                found = _File(batch_id, row[0], int(row[1]), row[2])
            self._files[batch_id] = found
        held = self._files[batch_id]
        if held is None:
            raise RawFileChanged(f"The results of {batch_id} name no results file.")
        return held

    def known(self, batch_ids: Iterable[str]) -> bool:
        """Look up these batches' files now (the connection is not used again: another
        thread may read pages on it meanwhile); True when they fit in `WHOLE_FILE_MAX`."""
        total = 0
        for batch_id in batch_ids:
            with contextlib.suppress(RawFileChanged):  # said if a row needs it
                total += self._file(batch_id).size
        return total <= WHOLE_FILE_MAX

    def preload(self, batch_ids: Iterable[str]) -> None:
        """Start reading these batches' files whole (see `known`) on threads of their own;
        a file that is missing or changed is said when a page needs it."""
        for batch_id in batch_ids:
            with contextlib.suppress(RawFileChanged):
                held = self._file(batch_id)
                held.check()
                held.preload()

    def checked(self, batch_ids: Iterable[str]) -> None:
        """Check (and open) the files of these batches: before each page of lines."""
        for batch_id in batch_ids:
            self._file(batch_id).check()

    def line(self, batch_id: str, raw: bytes, at: int | None, length: int, crc: int) -> bytes:
        """One row's line as UTF-8 (`RAW_COLUMNS`), its file checked (`checked`) since the
        last time it could change (a page, a read)."""
        if at is None:
            return raw
        held = self._file(batch_id)
        data = held.read(at, length)
        if len(data) != length or zlib.crc32(data) != crc:
            raise held.changed()
        return data

    def text(self, batch_id: str, raw: bytes, at: int | None, length: int, crc: int) -> str:
        """One row's line as text."""
        if at is not None:
            self.checked([batch_id])
        return self.line(batch_id, raw, at, length, crc).decode("utf-8", "replace")

    def texts(self, rows: Sequence[Sequence[Any]], at: int) -> list[str]:
        """The lines of a page of rows as text; `rows[i][0]` is the batch id and
        `rows[i][at:at + 4]` are `RAW_COLUMNS`."""
        self.checked({r[0] for r in rows if r[at + 1] is not None})
        line = self.line
        return [line(r[0], *r[at : at + 4]).decode("utf-8", "replace") for r in rows]

    def page(
        self, rows: Sequence[Sequence[Any]], batch_id: str | None = None, whole: bool = False
    ) -> list[bytes]:
        """The lines of a page of rows (the batch id, `RAW_COLUMNS`, the page's key) as
        UTF-8, then an empty one: `b"\\n".join` of them ends each in a newline (and only
        one: a line stored in `raw` is written without the line end it kept). `batch_id`:
        every row's (their first column is then anything); `whole`: the files may be read
        whole (see `known`)."""
        if batch_id is None:
            batches = {r[0] for r in rows if r[2] is not None}
        else:
            batches = {batch_id} if any(r[2] is not None for r in rows) else set()
        self.checked(batches)
        if whole:
            for batch in batches:
                self._file(batch).load()
        line = self.line
        out = [
            raw.rstrip(b"\r\n") if at is None else line(batch_id or row_batch, raw, at, n, crc)
            for row_batch, raw, at, n, crc, _key in rows
        ]
        out.append(b"")
        return out

    def placed(self, batch_id: str, places: str, whole: bool = False) -> list[bytes]:
        """The lines of a page of one batch's rows that all have their place in the file
        (`PLACES`, joined), as `page` gives them; `whole`: the file may be read whole (see
        `known`). The loop of `line`, inlined: it runs once per row."""
        held = self._file(batch_id)
        held.check()
        if whole:
            held.load()
        values = _places(places)
        starts, lengths = values[0::3], values[1::3]
        data = held.data
        if data is not None:
            out = [data[at : at + n] for at, n in zip(starts, lengths, strict=True)]
            if held.verified:  # the whole file is the one indexed: so is each line of it
                out.append(b"")
                return out
        else:
            fd = held.fd
            assert fd is not None  # open since `check`
            try:
                out = list(map(os.pread, repeat(fd), lengths, starts))
            except OSError as exc:
                raise held.unreadable(exc) from None
        if array.array("Q", map(len, out)) != lengths or (
            array.array("Q", map(zlib.crc32, out)) != values[2::3]
        ):
            raise held.changed()
        out.append(b"")
        return out
