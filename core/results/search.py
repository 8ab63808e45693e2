"""The results' full-text search index (FTS5 trigram), built after an ingest, off its path.

The ingest marks a batch pending (`results_fts_pending`: next row id to index, last row id);
`build_fts_step` indexes a range of ids per transaction, so the build can be interrupted
and resumed by any thread or process. `SearchIndexer` is the one background thread per open
store that runs the builds, then the follow-up it was given (the statistics' rows,
`core/stats.py`, assembled by `BatchService`).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Sequence

from ..database import Database
from ..errors import UserError
from ..sqlite_util import placeholders, write_txn
from .sql import INPUT_TEXT, SEARCH_TEXT

WRITER_CACHE_KIB = 4_000  # page cache of the index-builder connection

FollowUp = Callable[[sqlite3.Connection, Callable[[], bool]], None]
"""follow_up(conn, should_stop): more derived rows to build after the search index."""
FTS_STEP = 2_000  # rows indexed per transaction: short write-lock holds, little lost if stopped


def fts_pending(conn: sqlite3.Connection) -> list[str]:
    """Batches whose rows are all in but whose search index is not complete yet."""
    rows = conn.execute(
        "SELECT batch_id FROM results_fts_pending WHERE last_id >= 0 ORDER BY batch_id"
    ).fetchall()
    return [r[0] for r in rows]


def fts_complete(conn: sqlite3.Connection, batch_ids: Sequence[str]) -> bool:
    """True when every one of these batches can be searched through the FTS index."""
    ids = list(dict.fromkeys(batch_ids))
    if not ids:
        return True
    row = conn.execute(
        f"SELECT 1 FROM results_fts_pending WHERE batch_id IN ({placeholders(len(ids))}) LIMIT 1",
        ids,
    ).fetchone()
    return row is None


def build_fts_step(conn: sqlite3.Connection, batch_id: str, step: int = FTS_STEP) -> bool:
    """Index the next `step` row ids of a batch in one transaction; True when it is done.

    The state is re-read under the write lock, so several builders (threads or processes)
    can work on one store safely: each step continues where the last committed one ended.
    """
    with write_txn(conn):
        row = conn.execute(
            "SELECT next_id, last_id FROM results_fts_pending WHERE batch_id = ?", (batch_id,)
        ).fetchone()
        if row is None:
            return True
        next_id, last_id = row
        if last_id < 0:
            return True  # its ingest is still writing (or died): nothing to build yet
        hi = min(next_id + step, last_id + 1)
        conn.execute(
            "INSERT INTO results_fts (rowid, text, input_text)"
            f" SELECT r.id, {SEARCH_TEXT}, {INPUT_TEXT} FROM results r"
            " WHERE r.id >= ? AND r.id < ? AND r.batch_id = ? ORDER BY r.id",
            (next_id, hi, batch_id),
        )
        if hi > last_id:
            conn.execute("DELETE FROM results_fts_pending WHERE batch_id = ?", (batch_id,))
            return True
        conn.execute(
            "UPDATE results_fts_pending SET next_id = ? WHERE batch_id = ?", (hi, batch_id)
        )
        return False


def build_fts(conn: sqlite3.Connection, should_stop: Callable[[], bool] | None = None) -> None:
    """Finish every pending search index (until `should_stop()` says to leave it for later)."""
    for batch_id in fts_pending(conn):
        while not build_fts_step(conn, batch_id):
            if should_stop is not None and should_stop():
                return


class SearchIndexer:
    """The background builder of one open store: at most one thread, started after an
    ingest (or when a build was left unfinished), which finishes every pending search
    index and then runs `follow_up`. Registered with the database, which stops it before
    closing connections."""

    def __init__(self, db: Database, follow_up: FollowUp | None = None) -> None:
        self._db = db
        self._follow_up = follow_up
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._again = False
        self._stop = threading.Event()
        db.add_worker(self.stop)

    def start(self) -> None:
        """Build whatever is pending, on the builder thread (started if none runs)."""
        with self._lock:
            if self._db.closed:
                return
            if self._thread is not None:
                self._again = True  # the running builder looks once more before it ends
                return
            self._again = False
            self._stop.clear()
            thread = threading.Thread(target=self._run, name="batchtop-fts", daemon=True)
            self._thread = thread
        thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            conn = self._db.connect(cache_kib=WRITER_CACHE_KIB)
            self._conn = conn
            while True:
                build_fts(conn, self._stop.is_set)
                if self._follow_up is not None:  # (the statistics' rows) off the ingest's path
                    self._follow_up(conn, self._stop.is_set)
                with self._lock:
                    if self._stop.is_set() or self._db.closed or not self._again:
                        self._thread = None
                        self._conn = None
                        return
                    self._again = False
        except (sqlite3.Error, UserError):
            # Interrupted, busy or closed: the state is committed step by step, so the
            # build resumes on the next open or search. Never worth crashing a front end.
            with self._lock:
                self._thread = None
                self._conn = None
        finally:
            if conn is not None:
                self._db.release(conn)

    def stop(self, wait_s: float) -> None:
        """Give a running build `wait_s` to finish, then interrupt it."""
        thread = self._thread
        if thread is None:
            return
        thread.join(wait_s)
        if thread.is_alive():
            self._stop.set()
            conn = self._conn
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.interrupt()
            thread.join()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the running build (if any) to end."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
