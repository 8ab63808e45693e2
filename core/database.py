"""The store's SQLite file and its connections, shared by `Store` and `ResultsIndex`.

Thread-safe by giving each thread its own connection (the service writes from worker
threads, the TUI reads on the main thread); several processes (the TUI and the CLI) may use
one file at once thanks to WAL, a busy timeout and `BEGIN IMMEDIATE` write transactions.
Nothing touches the disk until `Database.open` is called.

Closing a connection under a running statement crashes the process, so `close` first stops
background work that holds connections of its own (registered with `add_worker`: the
results' search-index builder), then waits for the calls other threads are inside (every
public method of `Store` and `ResultsIndex` is a tracked call, see `track_calls`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FunctionType, GeneratorType
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from . import paths
from .errors import UserError
from .schema import migrate
from .scope import DB_FILENAME

BUSY_TIMEOUT_MS = 5000
# SQLite page caches, per connection. A reader's cache fills as the user browses a big
# store, so it sets how much memory grows with the data: the results viewer reads through
# several connections, and at 16 MB each browsing 300k results peaked ~40 MB above 10k
# (bench memory: 1.34x-1.50x, target 1.25x); at 4 MB, 1.06x. Pages past it come from the
# OS page cache (a pread each). Writers write pages once and need little.
READER_CACHE_KIB = 4_000
# Pages of a new store. An ingest inserts each result into the (batch, custom_id) index at a
# random place: with 16 KiB pages instead of SQLite's 4 KiB the writer's CPU for 100k results
# fell by about a fifth (fewer page splits and balances per row; bench/HISTORY.md).
PAGE_SIZE = 16_384
INDEX_WAIT_S = 60.0  # how long close() lets background work (a search-index build) finish
CLOSE_WAIT_S = 30.0  # how long close() lets calls running on other threads end

Stopper = Callable[[float], None]
"""stop(wait_s): give background work `wait_s` seconds to finish, then interrupt it."""


def _create_private_file(path: Path) -> None:
    """Create `path` with mode 0600 if it is missing; an existing file keeps its mode (a
    store in a shared directory may belong to someone else) but must be readable and
    writable."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    except FileExistsError:
        fd = os.open(path, os.O_RDWR)
    else:
        os.fchmod(fd, 0o600)  # whatever the umask
    os.close(fd)


def default_path() -> Path:
    return paths.data_dir() / DB_FILENAME


class Database:
    """One SQLite file: a connection per thread, private connections for background work."""

    def __init__(self, path: Path, *, durable: bool = True) -> None:
        """Prefer `Database.open`; this does not touch the file until the first query.
        `durable=False`: a throwaway file (the demo's) that SQLite never fsyncs."""
        self.path = path
        self.durable = durable
        self._local = threading.local()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when a thread leaves a call
        self._busy: dict[int, int] = {}  # thread id → tracked calls it is inside
        self._conns: dict[sqlite3.Connection, int] = {}  # → the thread that opened it
        self._workers: list[Stopper] = []
        self.closed = False
        self.warnings: list[str] = []  # for the user, from `open` (e.g. an exposed directory)

    @classmethod
    def open(cls, path: Path | None = None, *, durable: bool = True) -> Database:
        """Open (creating and migrating if needed) the file at `path` or the default place;
        `durable=False` for a file nobody keeps (the demo's: see `__init__`)."""
        path = default_path() if path is None else Path(path)
        try:
            paths.ensure_private_dir(path.parent)
        except OSError as exc:
            where = exc.filename or path.parent
            raise UserError(f"Cannot create {where}: {exc.strerror}.") from exc
        if path.is_dir():
            raise UserError(f"The store path {path} is a directory.")
        try:
            _create_private_file(path)
        except OSError as exc:
            raise UserError(f"Cannot open the store at {path}: {exc.strerror}.") from exc
        db = cls(path, durable=durable)
        warning = paths.exposure_warning(path.parent)
        if warning is not None:
            db.warnings.append(warning)
        try:
            migrate(db.conn())
        except sqlite3.OperationalError as exc:
            db.close()
            if "locked" in str(exc) or "busy" in str(exc):
                raise UserError(
                    f"The store at {path} is busy (another batchtop is writing); try again."
                ) from exc
            raise UserError(f"The store at {path} cannot be opened: {exc}.") from exc
        except sqlite3.DatabaseError as exc:
            db.close()
            raise UserError(f"The store at {path} is not a usable database: {exc}.") from exc
        except BaseException:
            db.close()
            raise
        return db

    def add_worker(self, stop: Stopper) -> None:
        """Background work to stop (`stop(wait_s)`) before connections are closed."""
        with self._lock:
            self._workers.append(stop)

    def _stop_workers(self, wait_s: float) -> None:
        with self._lock:
            workers = list(self._workers)
        for stop in workers:
            stop(wait_s)

    def close(self, *, index_wait_s: float = INDEX_WAIT_S) -> None:
        """Close every thread's connection. The database cannot be used afterwards.

        Background work (a search-index build) gets up to `index_wait_s` to finish (so a CLI
        run leaves a fully indexed store); past that it is interrupted, losing at most one
        step, and resumes the next time the store is opened.

        Other threads may be inside a call right now (a worker whose task was cancelled,
        a refresh when a scope switch replaces the store): closing a connection under a
        running statement crashes the process, so new calls are refused from here on ("The
        store is closed.", never a new file) and those running get `CLOSE_WAIT_S` to end.
        A connection still busy after that is left to its thread (closed when it ends).
        """
        self._stop_workers(index_wait_s)
        me = threading.get_ident()
        with self._idle:
            self.closed = True
            self._idle.wait_for(
                lambda: not any(n for t, n in self._busy.items() if t != me), CLOSE_WAIT_S
            )
            busy = {t for t, n in self._busy.items() if n and t != me}
            conns = [c for c, t in self._conns.items() if t not in busy]
            self._conns = {c: t for c, t in self._conns.items() if t in busy}
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def enter(self) -> None:
        """A tracked call starts on this thread (see `track_calls`)."""
        me = threading.get_ident()
        with self._lock:
            if self.closed and not self._busy.get(me):
                raise UserError("The store is closed.")
            self._busy[me] = self._busy.get(me, 0) + 1

    def leave(self) -> None:
        me = threading.get_ident()
        with self._idle:
            left = self._busy[me] - 1
            if left:
                self._busy[me] = left
            else:
                del self._busy[me]
                self._idle.notify_all()

    def tracked_steps(self, items: Iterator[Any]) -> Iterator[Any]:
        """A lazily read result: each step is a call of its own (statements run in it)."""
        while True:
            self.enter()
            try:
                item = next(items)
            except StopIteration:
                return
            finally:
                self.leave()
            yield item

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (created on first use)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and (not self.closed or conn in self._conns):
            return conn  # (a call running while close() waits for it keeps its connection)
        conn = self.connect()
        self._local.conn = conn
        return conn

    def connect(self, cache_kib: int = READER_CACHE_KIB) -> sqlite3.Connection:
        """A new connection, configured and registered so `close()` closes it."""
        with self._lock:
            if self.closed:
                raise UserError("The store is closed.")
            try:  # mode=rw: a store moved away is an error, never a new empty file here
                conn = sqlite3.connect(
                    f"file:{quote(str(self.path))}?mode=rw",
                    uri=True,
                    timeout=BUSY_TIMEOUT_MS / 1000,
                    isolation_level=None,  # explicit transactions only (see write_txn)
                    check_same_thread=False,  # close() may run on any thread
                )
            except sqlite3.OperationalError as exc:
                raise UserError(
                    f"Cannot open the store at {self.path}: {exc} (was it moved or deleted"
                    " by another batchtop? Start batchtop again)."
                ) from None
            self._conns[conn] = threading.get_ident()
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # Only a new (empty) file takes it; a store keeps the page size it was created with.
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        if not self.durable:
            # Before the switch to WAL: creating a file and its schema then waits on no
            # fsync (~40 ms here for a fresh store, on the demo's path to its first frame).
            conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL under WAL: never corrupt, survives a process crash; only an OS crash or
        # power cut can lose the last commits. FULL fsyncs every commit and made lock
        # holds long enough to starve a competing process.
        if self.durable:
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_size_limit = 67108864")  # shrink the WAL after big ingests
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute(f"PRAGMA cache_size = -{cache_kib}")  # page cache (per connection)
        return conn

    def release(self, conn: sqlite3.Connection) -> None:
        """Close a private connection from `connect`."""
        with self._lock:
            self._conns.pop(conn, None)
        conn.close()


class _OnDatabase(Protocol):
    db: Database


C = TypeVar("C", bound=type)


def track_calls(cls: C, *, skip: frozenset[str] = frozenset({"open", "close"})) -> C:
    """Make every public method of `cls` (whose instances have `.db`) a tracked call: the
    calling thread counts as inside the database for the duration of the call (and of each
    step of a generator it returns), so `Database.close` never closes a connection under a
    statement. `skip`: the lifecycle methods, which manage the tracking themselves."""

    def tracked(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(self: _OnDatabase, *args: Any, **kwargs: Any) -> Any:
            db = self.db
            db.enter()
            try:
                result = fn(self, *args, **kwargs)
            finally:
                db.leave()
            return db.tracked_steps(result) if isinstance(result, GeneratorType) else result

        return run

    for name, fn in list(vars(cls).items()):
        if isinstance(fn, FunctionType) and not name.startswith("_") and name not in skip:
            setattr(cls, name, tracked(fn))
    return cls
