"""Small helpers shared by the store modules: timestamps and transactions."""

from __future__ import annotations

import random
import sqlite3
import time
from collections import namedtuple
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any


def to_text(dt: datetime | None) -> str | None:
    """Datetime → fixed-width ISO-8601 UTC text, so text order equals time order.

    Naive datetimes are taken to be UTC (the API only ever sends UTC).
    """
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def from_text(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text)


def req_dt(text: str) -> datetime:
    """`from_text` for NOT NULL columns."""
    return datetime.fromisoformat(text)


BEGIN_ATTEMPTS = 4  # each waits up to the busy timeout (5 s)


def begin_immediate(conn: sqlite3.Connection) -> None:
    """Take the write lock, retrying past the busy timeout a few times.

    SQLite's busy handler is not fair: a process can keep losing the lock to others that
    write in a tight loop. Nothing has happened yet at BEGIN, so retrying is always safe.
    """
    for attempt in range(BEGIN_ATTEMPTS):
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            locked = "locked" in str(exc) or "busy" in str(exc)
            if not locked or attempt == BEGIN_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1) * (1 + random.random()))


@contextmanager
def write_txn(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the write lock up front.

    `BEGIN IMMEDIATE` waits (busy_timeout) for another writer instead of failing later with
    SQLITE_BUSY when a read transaction tries to upgrade — what makes two processes safe.
    """
    begin_immediate(conn)
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def read_txn(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A read transaction: several SELECTs see one consistent snapshot (WAL)."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")


def placeholders(n: int) -> str:
    return ",".join("?" * n)


class Columns:
    """A SELECT list built from (name, SQL expression) pairs, and where each value of its
    rows is, by name: `columns.at.seen_at` is the position of `seen_at`.

    The SQL and the positions come from the one list, so a column added or moved anywhere in
    it moves both: no reader counts positions. Readers index rows through `at` (a tuple
    lookup, as fast as a literal index: mapping 10,000 batch rows through a dict per row
    took twice as long). Values selected after the list start at `len(columns)`."""

    __slots__ = ("at", "names", "pairs", "sql")

    def __init__(self, *pairs: tuple[str, str]) -> None:
        self.pairs = pairs
        self.names = tuple(name for name, _ in pairs)
        self.sql = ", ".join(expr for _, expr in pairs)
        self.at: Any = namedtuple("At", self.names)(*range(len(self.names)))

    def __len__(self) -> int:
        return len(self.names)
