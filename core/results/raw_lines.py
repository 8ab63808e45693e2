"""A result row's raw line: from the batch's results file, or from the row itself.

An ingest of a file (every download) leaves each line in the file: the row keeps where it
is (`raw_at`, `raw_len`: the line without its line end) and the CRC-32 of its bytes
(`raw_crc`), and the batch keeps which file (`batch_local.raw_file`) and its size then
(`raw_size`). Rows indexed by an older batchtop, or fed with no file behind them, hold their
line in `raw` (`raw_at` NULL).

A line comes back only if it is the line that was indexed: the file is there, has the size
it had, and the bytes at the offset have the row's CRC. Anything else (the file deleted,
truncated, or replaced by other bytes) is a `RawFileChanged`, one line naming the batch and
the file, never other bytes. The file is mapped (`mmap`): an export reads its lines in
custom_id order, at random places of the file, and a slice of the mapping costs ~0.1 µs
where a `pread` costs ~3 µs. The file's identity is checked before every page: a file
replaced since (a re-download renames a new one into place) is mapped again, and the
mapping of a file that shrank is never read (the downloads never write a results file in
place, they rename a finished one over it).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import sqlite3
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import UserError

RAW_COLUMNS = (
    "CASE WHEN r.raw_at IS NULL THEN CAST(r.raw AS BLOB) END, r.raw_at, r.raw_len, r.raw_crc"
)
"""What a query selects for `RawLines` (a row's line, as UTF-8, is in `raw` or the file)."""


class RawFileChanged(UserError):
    """A row's line is not in its results file as it was indexed."""


class _Mapped:
    """One batch's results file, mapped read-only, as the index recorded it."""

    def __init__(self, batch_id: str, path: str, size: int) -> None:
        self.batch_id = batch_id
        self.path = path
        self.size = size
        self.identity: tuple[int, int, int] | None = None
        self.map: mmap.mmap | bytes | None = None

    def check(self) -> None:
        """Map the file (again, if another file took its name) and check its size."""
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
            with open(self.path, "rb") as fh:
                self.map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if self.size else b""
        except (OSError, ValueError) as exc:
            raise RawFileChanged(
                f"Cannot read the results file of {self.batch_id} ({self.path}): {exc}."
            ) from None
        self.identity = identity

    def changed(self) -> RawFileChanged:
        return RawFileChanged(
            f"The results file of {self.batch_id} changed since its results were indexed"
            f" ({self.path}): delete it and download its results again."
        )

    def _drop(self) -> None:
        held, self.map, self.identity = self.map, None, None
        if isinstance(held, mmap.mmap):
            with contextlib.suppress(BufferError):
                held.close()

    def close(self) -> None:
        self._drop()


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


class RawLines:
    """Reads rows' raw lines (see the module docstring) on one connection, for one read or
    one export; `close` unmaps the files."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._files: dict[str, _Mapped | None] = {}

    def __enter__(self) -> RawLines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for held in self._files.values():
            if held is not None:
                held.close()
        self._files.clear()

    def _file(self, batch_id: str) -> _Mapped:
        if batch_id not in self._files:
            row = self._conn.execute(
                "SELECT raw_file, raw_size FROM batch_local WHERE batch_id = ?", (batch_id,)
            ).fetchone()
            found = None
            if row is not None and row[0] is not None:
                found = _Mapped(batch_id, row[0], int(row[1]))
            self._files[batch_id] = found
        held = self._files[batch_id]
        if held is None:
            raise RawFileChanged(f"The results of {batch_id} name no results file.")
        return held

    def checked(self, batch_ids: Iterable[str]) -> None:
        """Check (and map) the files of these batches: before each page of lines."""
        for batch_id in batch_ids:
            self._file(batch_id).check()

    def line(self, batch_id: str, raw: bytes, at: int | None, length: int, crc: int) -> bytes:
        """One row's line as UTF-8 (`RAW_COLUMNS`), its file checked (`checked`) since the
        last time it could change (a page, a read)."""
        if at is None:
            return raw
        held = self._file(batch_id)
        data = held.map[at : at + length] if held.map is not None else b""
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

    def page(self, rows: Sequence[Sequence[Any]], batch_id: str | None = None) -> bytes:
        """The lines of a page of rows (the batch id, `RAW_COLUMNS`, the page's key) as
        UTF-8, each ending in a newline (and only one: a line stored in `raw` is written
        without the line end it kept). `batch_id`: every row's (their first column is then
        anything). The loop of `line`, inlined: it runs once per exported row."""
        if batch_id is None:
            self.checked({r[0] for r in rows if r[2] is not None})
        elif any(r[2] is not None for r in rows):
            self.checked([batch_id])
        crc32 = zlib.crc32
        out: list[bytes] = []
        append = out.append
        batch: str | None = None
        held: _Mapped | None = None
        data: Any = b""
        for row_batch, raw, start, length, crc, _key in rows:
            if start is None:
                append(raw.rstrip(b"\r\n"))
                continue
            if batch_id is None and row_batch != batch:
                batch, held = row_batch, self._file(row_batch)
                data = held.map if held.map is not None else b""
            elif held is None:
                assert batch_id is not None
                held = self._file(batch_id)
                data = held.map if held.map is not None else b""
            got = data[start : start + length]
            if len(got) != length or crc32(got) != crc:
                raise held.changed()
            append(got)
        append(b"")
        return b"\n".join(out)
