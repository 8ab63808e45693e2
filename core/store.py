"""batchtop's local store: one SQLite file, the source of truth for every front end.

Thread-safe by giving each thread its own connection (the service writes from worker
threads, the TUI reads on the main thread); several processes (the TUI and the CLI) may use
one file at once thanks to WAL, a busy timeout and `BEGIN IMMEDIATE` write transactions.
Nothing touches the disk until `Store.open` is called.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FunctionType, GeneratorType
from typing import Any

from . import paths, results_index, results_ingest, stats
from .errors import NotFound, PartBusy, UserError
from .manifest_rows import restore_params
from .models import (
    ABANDON_AFTER,
    BatchView,
    CountSnapshot,
    FailedRequest,
    IntentState,
    Job,
    JobProgress,
    ProcessingStatus,
    ProgressSeries,
    RemoteBatch,
    RequestCounts,
    ResultBreakdown,
    ResultDistribution,
    ResultFilter,
    ResultPage,
    ResultRow,
    ResultSummary,
    SubmitIntent,
)
from .results_ingest import Ingest, IngestStats, ProgressFn
from .schema import migrate
from .sqlite_util import from_text, placeholders, read_txn, req_dt, to_text, write_txn

DB_FILENAME = "batchtop.sqlite3"
BUSY_TIMEOUT_MS = 5000
_ALL = ResultFilter()
_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit
# SQLite page caches, per connection. A reader's cache fills as the user browses a big
# store, so it sets how much memory grows with the data; past 16 MB the OS page cache
# serves reads about as fast. Writers write pages once and need little.
READER_CACHE_KIB = 16_000
WRITER_CACHE_KIB = 4_000  # page cache of the index-builder connection
# The ingest's: its index inserts land all over their B-trees (results come in random
# custom_id order), and every page that falls out of the cache is read back from the OS.
INGEST_CACHE_KIB = 16_000
INDEX_WAIT_S = 60.0  # how long close() lets a search-index build finish
CLOSE_WAIT_S = 30.0  # how long close() lets calls running on other threads end
MANIFEST_FLUSH_CHARS = 2_000_000  # manifest text gathered before a write transaction

_REMOTE_COLS = (
    "b.id, b.status, b.processing, b.succeeded, b.errored, b.canceled, b.expired,"
    " b.created_at, b.expires_at, b.ended_at, b.cancel_initiated_at, b.archived_at,"
    " b.results_url, b.provider, b.provider_status, b.endpoint, b.input_file_id,"
    " b.output_file_id, b.error_file_id, b.submission_id"
)
_R = 20  # the view's columns after the remote ones
_VIEW_SQL = f"""
SELECT {_REMOTE_COLS}, b.seen_at,
    l.label, l.note, l.job_id, l.job_part, l.parent_batch_id, l.model,
    coalesce(l.results_downloaded, 0), coalesce(l.results_indexed, 0),
    l.estimated_cost_usd, l.actual_cost_usd, coalesce(l.deleted, 0),
    EXISTS (SELECT 1 FROM manifests m WHERE m.job_id = l.job_id AND m.part = l.job_part),
    (SELECT j.betas FROM jobs j WHERE j.id = l.job_id)
FROM batches b LEFT JOIN batch_local l ON l.batch_id = b.id
"""
_UPSERT_SQL = """
INSERT INTO batches (id, status, processing, succeeded, errored, canceled, expired,
    created_at, expires_at, ended_at, cancel_initiated_at, archived_at, results_url,
    provider, provider_status, endpoint, input_file_id, output_file_id, error_file_id,
    submission_id, seen_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    status = excluded.status, processing = excluded.processing,
    succeeded = excluded.succeeded, errored = excluded.errored,
    canceled = excluded.canceled, expired = excluded.expired,
    created_at = excluded.created_at, expires_at = excluded.expires_at,
    ended_at = excluded.ended_at, cancel_initiated_at = excluded.cancel_initiated_at,
    archived_at = excluded.archived_at, results_url = excluded.results_url,
    provider = excluded.provider, provider_status = excluded.provider_status,
    endpoint = excluded.endpoint, input_file_id = excluded.input_file_id,
    output_file_id = excluded.output_file_id, error_file_id = excluded.error_file_id,
    submission_id = excluded.submission_id, seen_at = excluded.seen_at
"""
_INTENT_COLS = (
    "id, job_id, part, request_count, content_hash, created_at, state, batch_id, error,"
    " server_offset_s, attempt_ended_at, candidates"
)
_JOB_COLS = "id, name, created_at, source, content_hash, part_count, prepared_path, betas"
# Intent states that hold a part: a create in flight or unresolved, or a batch recorded.
_LIVE_STATES = (IntentState.PENDING, IntentState.SUBMITTED, IntentState.RECONCILED)

_RemoteParams = tuple[Any, ...]


def _remote_params(b: RemoteBatch) -> _RemoteParams:
    c = b.request_counts
    return (
        b.id,
        str(b.processing_status),
        c.processing,
        c.succeeded,
        c.errored,
        c.canceled,
        c.expired,
        to_text(b.created_at),
        to_text(b.expires_at),
        to_text(b.ended_at),
        to_text(b.cancel_initiated_at),
        to_text(b.archived_at),
        b.results_url,
        b.provider,
        b.provider_status,
        b.endpoint,
        b.input_file_id,
        b.output_file_id,
        b.error_file_id,
        b.submission_id,
    )


def _remote_from_row(r: Sequence[Any]) -> RemoteBatch:
    return RemoteBatch(
        id=r[0],
        processing_status=ProcessingStatus(r[1]),
        request_counts=RequestCounts(r[2], r[3], r[4], r[5], r[6]),
        created_at=req_dt(r[7]),
        expires_at=req_dt(r[8]),
        ended_at=from_text(r[9]),
        cancel_initiated_at=from_text(r[10]),
        archived_at=from_text(r[11]),
        results_url=r[12],
        provider=r[13],
        provider_status=r[14],
        endpoint=r[15],
        input_file_id=r[16],
        output_file_id=r[17],
        error_file_id=r[18],
        submission_id=r[19],
    )


def _view_from_row(r: Sequence[Any]) -> BatchView:
    return BatchView(
        remote=_remote_from_row(r),
        seen_at=req_dt(r[_R]),
        label=r[_R + 1],
        note=r[_R + 2],
        job_id=r[_R + 3],
        job_part=r[_R + 4],
        parent_batch_id=r[_R + 5],
        model=r[_R + 6],
        results_downloaded=bool(r[_R + 7]),
        results_indexed=int(r[_R + 8]),
        estimated_cost_usd=r[_R + 9],
        actual_cost_usd=r[_R + 10],
        deleted=bool(r[_R + 11]),
        has_manifest=bool(r[_R + 12]),
        betas=split_betas(r[_R + 13]),
    )


def unresolved_message(job_id: str, part: int, since: datetime) -> str:
    """What a user is told about a part whose create (journaled at `since`) is unresolved:
    why nothing is sent, and when it settles (no command points back at the other)."""
    settles = (since + ABANDON_AFTER).astimezone(UTC).strftime("%H:%M UTC")
    return (
        f"Part {part} of job {job_id} is unresolved: a create of it started at"
        f" {since.astimezone(UTC).strftime('%H:%M:%S UTC')} (in flight in another batchtop,"
        " or interrupted) may still make its batch, so it is not sent again. `batchtop"
        " reconcile` adopts the batch as soon as it appears; if none has by"
        f" {settles}, reconcile closes the part and a submit of the same file sends it."
    )


def _intent_from_row(r: Sequence[Any]) -> SubmitIntent:
    return SubmitIntent(
        id=int(r[0]),
        job_id=r[1],
        part=int(r[2]),
        request_count=int(r[3]),
        content_hash=r[4],
        created_at=req_dt(r[5]),
        state=IntentState(r[6]),
        batch_id=r[7],
        error=r[8],
        server_offset_s=r[9],
        attempt_ended_at=from_text(r[10]),
        candidates=tuple((r[11] or "").split()),
    )


def _job_from_row(r: Sequence[Any], batch_ids: tuple[str, ...] = ()) -> Job:
    return Job(
        r[0],
        r[1],
        req_dt(r[2]),
        r[3],
        batch_ids,
        content_hash=r[4],
        part_count=r[5],
        prepared_path=r[6],
        betas=split_betas(r[7]),
    )


def split_betas(text: str | None) -> tuple[str, ...]:
    """A stored list of anthropic-beta values (comma-separated, as the header has them)."""
    return tuple(b for b in (text or "").split(",") if b)


def _now() -> datetime:
    return datetime.now(UTC)


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


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


class Store:
    """Typed access to the SQLite store; see the module docstring for the concurrency model."""

    def __init__(self, path: Path) -> None:
        """Prefer `Store.open`; this does not touch the file until the first query."""
        self.path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when a thread leaves the store
        self._busy: dict[int, int] = {}  # thread id → public calls it is inside
        self._conns: dict[sqlite3.Connection, int] = {}  # → the thread that opened it
        self._closed = False
        self._totals: results_index.TotalsCache = {}
        # The search-index builder: one background thread at most, started after an ingest
        # (or on open / on a search when a build was left unfinished).
        self._indexer: threading.Thread | None = None
        self._indexer_conn: sqlite3.Connection | None = None
        self._index_again = False
        self._index_stop = threading.Event()
        self.warnings: list[str] = []  # for the user, from `open` (e.g. an exposed directory)

    # --- lifecycle ------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | None = None) -> Store:
        """Open (creating and migrating if needed) the store at `path` or the default place."""
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
        store = cls(path)
        warning = paths.exposure_warning(path.parent)
        if warning is not None:
            store.warnings.append(warning)
        try:
            migrate(store._conn())
        except sqlite3.OperationalError as exc:
            store.close()
            if "locked" in str(exc) or "busy" in str(exc):
                raise UserError(
                    f"The store at {path} is busy (another batchtop is writing); try again."
                ) from exc
            raise UserError(f"The store at {path} cannot be opened: {exc}.") from exc
        except sqlite3.DatabaseError as exc:
            store.close()
            raise UserError(f"The store at {path} is not a usable database: {exc}.") from exc
        except BaseException:
            store.close()
            raise
        with contextlib.suppress(sqlite3.Error):
            if results_index.fts_pending(store._conn()):
                store._start_indexer()  # an earlier process left a search index unfinished
        return store

    def close(self, *, index_wait_s: float = INDEX_WAIT_S) -> None:
        """Close every thread's connection. The store cannot be used afterwards.

        A search-index build in progress gets up to `index_wait_s` to finish (so a CLI run
        leaves a fully indexed store); past that it is interrupted, losing at most one
        step, and resumes the next time the store is opened.

        Other threads may be inside a call right now (a worker whose task was cancelled,
        a refresh when a scope switch replaces the store): closing a connection under a
        running statement crashes the process, so new calls are refused from here on ("The
        store is closed.", never a new file) and those running get `CLOSE_WAIT_S` to end.
        A connection still busy after that is left to its thread (closed when it ends).
        """
        self._stop_indexer(index_wait_s)
        me = threading.get_ident()
        with self._idle:
            self._closed = True
            self._idle.wait_for(
                lambda: not any(n for t, n in self._busy.items() if t != me), CLOSE_WAIT_S
            )
            busy = {t for t, n in self._busy.items() if n and t != me}
            conns = [c for c, t in self._conns.items() if t not in busy]
            self._conns = {c: t for c, t in self._conns.items() if t in busy}
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _enter(self) -> None:
        """A public call starts on this thread (see `_tracked`)."""
        me = threading.get_ident()
        with self._lock:
            if self._closed and not self._busy.get(me):
                raise UserError("The store is closed.")
            self._busy[me] = self._busy.get(me, 0) + 1

    def _leave(self) -> None:
        me = threading.get_ident()
        with self._idle:
            left = self._busy[me] - 1
            if left:
                self._busy[me] = left
            else:
                del self._busy[me]
                self._idle.notify_all()

    def _tracked_steps(self, items: Iterator[Any]) -> Iterator[Any]:
        """A lazily read result: each step is a call of its own (statements run in it)."""
        while True:
            self._enter()
            try:
                item = next(items)
            except StopIteration:
                return
            finally:
                self._leave()
            yield item

    def _stop_indexer(self, wait_s: float) -> None:
        """Give a running search-index build `wait_s` to finish, then interrupt it."""
        indexer = self._indexer
        if indexer is None:
            return
        indexer.join(wait_s)
        if indexer.is_alive():
            self._index_stop.set()
            conn = self._indexer_conn
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.interrupt()
            indexer.join()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection (created on first use)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and (not self._closed or conn in self._conns):
            return conn  # (a call running while close() waits for it keeps its connection)
        conn = self._connect()
        self._local.conn = conn
        return conn

    def _connect(self, cache_kib: int = READER_CACHE_KIB) -> sqlite3.Connection:
        """A new connection, configured and registered so `close()` closes it."""
        with self._lock:
            if self._closed:
                raise UserError("The store is closed.")
            conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,  # explicit transactions only (see write_txn)
                check_same_thread=False,  # close() may run on any thread
            )
            self._conns[conn] = threading.get_ident()
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL under WAL: never corrupt, survives a process crash; only an OS crash or
        # power cut can lose the last commits. FULL fsyncs every commit and made lock
        # holds long enough to starve a competing process.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_size_limit = 67108864")  # shrink the WAL after big ingests
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute(f"PRAGMA cache_size = -{cache_kib}")  # page cache (per connection)
        return conn

    def _release(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            self._conns.pop(conn, None)
        conn.close()

    # --- batches --------------------------------------------------------------------------

    def upsert_remote(
        self, batches: Sequence[RemoteBatch], seen_at: datetime
    ) -> list[tuple[BatchView, RemoteBatch | None]]:
        """Record what the API said; return (new view, previous remote) for new/changed ones.

        "Changed" means status, counts, ended_at, cancel_initiated_at, archived_at or
        results_url differ. A count snapshot is recorded for new batches and whenever the
        status or the counts moved.
        """
        if not batches:
            return []
        latest = {b.id: b for b in batches}  # a repeated id: the last description wins
        params = {bid: _remote_params(b) for bid, b in latest.items()}
        seen = to_text(seen_at)
        ids = list(latest)
        conn = self._conn()
        changed: list[tuple[str, _RemoteParams | None]] = []
        with write_txn(conn):
            previous: dict[str, _RemoteParams] = {}
            for chunk in _chunks(ids):
                marks = placeholders(len(chunk))
                sql = f"SELECT {_REMOTE_COLS} FROM batches b WHERE b.id IN ({marks})"
                for row in conn.execute(sql, chunk):
                    previous[row[0]] = tuple(row)
            conn.executemany(_UPSERT_SQL, [(*params[bid], seen) for bid in ids])
            snaps: list[tuple[Any, ...]] = []
            for bid in ids:
                new = params[bid]
                old = previous.get(bid)
                if old is not None and old[:7] == new[:7] and old[9:] == new[9:]:
                    continue
                changed.append((bid, old))
                if old is None or old[1:7] != new[1:7]:
                    snaps.append((bid, seen, *new[2:7]))
            conn.executemany("INSERT INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?)", snaps)
        views = self._views([bid for bid, _ in changed])
        return [
            (views[bid], _remote_from_row(old) if old is not None else None)
            for bid, old in changed
            if bid in views
        ]

    def _views(self, ids: Sequence[str]) -> dict[str, BatchView]:
        conn = self._conn()
        out: dict[str, BatchView] = {}
        for chunk in _chunks(ids):
            sql = f"{_VIEW_SQL} WHERE b.id IN ({placeholders(len(chunk))})"
            for row in conn.execute(sql, chunk):
                out[row[0]] = _view_from_row(row)
        return out

    def get_batch(self, batch_id: str) -> BatchView | None:
        row = self._conn().execute(f"{_VIEW_SQL} WHERE b.id = ?", (batch_id,)).fetchone()
        return _view_from_row(row) if row is not None else None

    def list_batches(
        self, *, active_only: bool = False, include_deleted: bool = False, limit: int = -1
    ) -> list[BatchView]:
        """Batches newest first (by creation time); the newest `limit` only if given."""
        where: list[str] = []
        if active_only:
            where.append("b.status != 'ended'")
        if not include_deleted:
            where.append("coalesce(l.deleted, 0) = 0")
        sql = _VIEW_SQL
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY b.created_at DESC, b.id DESC LIMIT ?"
        return [_view_from_row(r) for r in self._conn().execute(sql, (limit,))]

    def batch_totals(self) -> tuple[int, int, datetime | None]:
        """(batches, active batches, latest `seen_at`), deleted ones left out: the counts
        of `list_batches()` without reading every batch."""
        total, active, seen = (
            self._conn()
            .execute(
                "SELECT count(*), coalesce(sum(b.status != 'ended'), 0), max(b.seen_at)"
                " FROM batches b LEFT JOIN batch_local l ON l.batch_id = b.id"
                " WHERE coalesce(l.deleted, 0) = 0"
            )
            .fetchone()
        )
        return int(total), int(active), from_text(seen)

    def known_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of `ids` the store holds (deleted ones included)."""
        conn = self._conn()
        out: set[str] = set()
        for chunk in _chunks(ids):
            sql = f"SELECT id FROM batches WHERE id IN ({placeholders(len(chunk))})"
            out.update(r[0] for r in conn.execute(sql, chunk))
        return out

    def count_created_between(self, older: datetime, newer: datetime) -> int:
        """Batches created in [older, newer) (deleted ones included: the list had them)."""
        row = (
            self._conn()
            .execute(
                "SELECT count(*) FROM batches WHERE created_at >= ? AND created_at < ?",
                (to_text(older), to_text(newer)),
            )
            .fetchone()
        )
        return int(row[0])

    # --- what the store knows about itself ----------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM store_meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, **values: str | None) -> None:
        """Set keys in one transaction; None removes a key."""
        conn = self._conn()
        with write_txn(conn):
            for key, value in values.items():
                if value is None:
                    conn.execute("DELETE FROM store_meta WHERE key = ?", (key,))
                else:
                    conn.execute(
                        "INSERT INTO store_meta (key, value) VALUES (?, ?)"
                        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (key, value),
                    )

    def listing(self) -> tuple[str | None, bool]:
        """The first listing's progress: (the id to continue after, whether it is done)."""
        return self.meta("list_cursor"), self.meta("list_complete") == "1"

    def set_listing(self, cursor: str | None, *, complete: bool) -> None:
        self.set_meta(
            list_cursor=None if complete else cursor, list_complete="1" if complete else None
        )

    def _set_local(self, batch_id: str, **values: Any) -> None:
        cols = list(values)
        sql = (
            f"INSERT INTO batch_local (batch_id, {', '.join(cols)})"
            f" VALUES (?, {placeholders(len(cols))})"
            f" ON CONFLICT (batch_id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in cols)
        )
        conn = self._conn()
        with write_txn(conn):
            conn.execute(sql, (batch_id, *values.values()))

    def mark_deleted(self, batch_id: str) -> None:
        """The batch was deleted remotely; keep it (and its results) but hide it by default."""
        self._set_local(batch_id, deleted=1)

    def set_label(self, batch_id: str, label: str | None) -> None:
        self._set_local(batch_id, label=label or None)

    def set_note(self, batch_id: str, note: str | None) -> None:
        self._set_local(batch_id, note=note or None)

    def set_batch_meta(
        self,
        batch_id: str,
        *,
        job_id: str | None = None,
        job_part: int | None = None,
        parent_batch_id: str | None = None,
        model: str | None = None,
        estimated_cost_usd: float | None = None,
    ) -> None:
        """Record what batchtop knows about a batch it created; None leaves a field as is.

        Works before the batch's first refresh (local data lives in its own table).
        """
        values: dict[str, Any] = {
            k: v
            for k, v in {
                "job_id": job_id,
                "job_part": job_part,
                "parent_batch_id": parent_batch_id,
                "model": model,
                "estimated_cost_usd": estimated_cost_usd,
            }.items()
            if v is not None
        }
        if values:
            self._set_local(batch_id, **values)

    def set_results_file(self, batch_id: str, path: Path | None, *, downloaded: bool) -> None:
        """Where the batch's raw results live, and whether the download completed."""
        self._set_local(
            batch_id,
            results_path=str(path) if path is not None else None,
            results_downloaded=int(downloaded),
        )

    def results_file(self, batch_id: str) -> Path | None:
        row = (
            self._conn()
            .execute("SELECT results_path FROM batch_local WHERE batch_id = ?", (batch_id,))
            .fetchone()
        )
        return Path(row[0]) if row is not None and row[0] else None

    def snapshots(self, batch_id: str) -> list[CountSnapshot]:
        """Count history of a batch, oldest first."""
        rows = self._conn().execute(
            "SELECT at, processing, succeeded, errored, canceled, expired FROM snapshots"
            " WHERE batch_id = ? ORDER BY at, rowid",
            (batch_id,),
        )
        return [
            CountSnapshot(batch_id, req_dt(r[0]), RequestCounts(r[1], r[2], r[3], r[4], r[5]))
            for r in rows
        ]

    # --- jobs -----------------------------------------------------------------------------

    def create_job(
        self,
        name: str,
        source: str | None = None,
        created_at: datetime | None = None,
        *,
        part_count: int | None = None,
        prepared_path: str | None = None,
        betas: Sequence[str] = (),
    ) -> Job:
        job = Job(
            id=f"job_{uuid.uuid4().hex[:20]}",
            name=name,
            created_at=created_at or _now(),
            source=source,
            part_count=part_count,
            prepared_path=prepared_path,
            betas=tuple(betas),
        )
        conn = self._conn()
        with write_txn(conn):
            self._insert_job(conn, job)
        return job

    @staticmethod
    def _insert_job(conn: sqlite3.Connection, job: Job) -> None:
        conn.execute(
            "INSERT INTO jobs (id, name, source, created_at, content_hash, part_count,"
            " prepared_path, betas) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job.id,
                job.name,
                job.source,
                to_text(job.created_at),
                job.content_hash,
                job.part_count,
                job.prepared_path,
                ",".join(job.betas) or None,
            ),
        )

    def claim_job(
        self,
        name: str,
        source: str | None,
        created_at: datetime,
        *,
        content_hash: str,
        part_count: int,
        prepared_path: str | None,
        betas: Sequence[str] = (),
    ) -> tuple[Job, bool]:
        """The job of these prepared requests: (existing job, False) or (new job, True).

        One write transaction, and `content_hash` is unique: two processes submitting the
        same content at once get the same job.
        """
        conn = self._conn()
        with write_txn(conn):
            row = conn.execute(
                f"SELECT {_JOB_COLS} FROM jobs WHERE content_hash = ?", (content_hash,)
            ).fetchone()
            if row is not None:
                return _job_from_row(row, self._job_batch_ids(row[0])), False
            job = Job(
                id=f"job_{uuid.uuid4().hex[:20]}",
                name=name,
                created_at=created_at,
                source=source,
                content_hash=content_hash,
                part_count=part_count,
                prepared_path=prepared_path,
                betas=tuple(betas),
            )
            self._insert_job(conn, job)
        return job, True

    def prepared_in_use(self, prepared_path: str) -> bool:
        """Whether a job still waits on these prepared part files (parts not created)."""
        row = (
            self._conn()
            .execute("SELECT 1 FROM jobs WHERE prepared_path = ? LIMIT 1", (prepared_path,))
            .fetchone()
        )
        return row is not None

    def set_job_prepared(self, job_id: str, prepared_path: str | None) -> None:
        """Where the job's prepared part files are (None: removed, every part created)."""
        conn = self._conn()
        with write_txn(conn):
            conn.execute("UPDATE jobs SET prepared_path = ? WHERE id = ?", (prepared_path, job_id))

    def _job_batch_ids(self, job_id: str) -> tuple[str, ...]:
        rows = self._conn().execute(
            "SELECT l.batch_id FROM batch_local l LEFT JOIN batches b ON b.id = l.batch_id"
            " WHERE l.job_id = ? ORDER BY l.job_part, b.created_at, l.batch_id",
            (job_id,),
        )
        return tuple(r[0] for r in rows)

    def get_job(self, job_id: str) -> Job | None:
        conn = self._conn()
        with read_txn(conn):
            row = conn.execute(f"SELECT {_JOB_COLS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            return _job_from_row(row, self._job_batch_ids(job_id))

    def list_jobs(self) -> list[Job]:
        """Jobs newest first, each with its batch ids (by part)."""
        conn = self._conn()
        with read_txn(conn):
            members: dict[str, list[str]] = {}
            for job_id, batch_id in conn.execute(
                "SELECT l.job_id, l.batch_id FROM batch_local l"
                " LEFT JOIN batches b ON b.id = l.batch_id WHERE l.job_id IS NOT NULL"
                " ORDER BY l.job_part, b.created_at, l.batch_id"
            ):
                members.setdefault(job_id, []).append(batch_id)
            rows = conn.execute(
                f"SELECT {_JOB_COLS} FROM jobs ORDER BY created_at DESC, id"
            ).fetchall()
        return [_job_from_row(r, tuple(members.get(r[0], ()))) for r in rows]

    def job_batches(self, job_id: str) -> list[BatchView]:
        """The job's batches that have been seen remotely, by part then creation time."""
        rows = self._conn().execute(
            f"{_VIEW_SQL} WHERE l.job_id = ? ORDER BY l.job_part, b.created_at, b.id", (job_id,)
        )
        return [_view_from_row(r) for r in rows]

    # --- submission journal ---------------------------------------------------------------

    def add_intent(
        self,
        job_id: str,
        part: int,
        request_count: int,
        content_hash: str,
        created_at: datetime | None = None,
        *,
        server_offset_s: float | None = None,
    ) -> SubmitIntent:
        """Journal a create call before it is made (crash-safe: committed on return).

        A part has at most one live intent: when one is pending (a create in flight here or
        in another process, or unresolved) or the part already has its batch, this raises
        `Conflict` and nothing is journaled (checked and written in one write transaction,
        which serialises processes).
        """
        at = created_at or _now()
        conn = self._conn()
        with write_txn(conn):
            live = conn.execute(
                f"SELECT state, batch_id, created_at FROM intents WHERE job_id = ? AND part = ?"
                f" AND state IN ({placeholders(len(_LIVE_STATES))}) LIMIT 1",
                (job_id, part, *map(str, _LIVE_STATES)),
            ).fetchone()
            if live is not None:
                if live[0] == IntentState.PENDING:
                    raise PartBusy(unresolved_message(job_id, part, req_dt(live[2])))
                raise PartBusy(
                    f"Part {part} of job {job_id} was already created as {live[1]}.",
                    created_as=live[1],
                )
            cur = conn.execute(
                "INSERT INTO intents (job_id, part, request_count, content_hash, created_at,"
                " state, server_offset_s) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    part,
                    request_count,
                    content_hash,
                    to_text(at),
                    str(IntentState.PENDING),
                    server_offset_s,
                ),
            )
            intent_id = cur.lastrowid
        assert intent_id is not None
        return SubmitIntent(
            intent_id,
            job_id,
            part,
            request_count,
            content_hash,
            at,
            IntentState.PENDING,
            server_offset_s=server_offset_s,
        )

    def note_attempt_end(self, intent_id: int, at: datetime) -> None:
        """The last create attempt of a pending intent ended (failed or interrupted) at `at`."""
        conn = self._conn()
        with write_txn(conn):
            conn.execute(
                "UPDATE intents SET attempt_ended_at = ? WHERE id = ?", (to_text(at), intent_id)
            )

    def hold_intent(self, intent_id: int, candidates: Sequence[str], message: str) -> None:
        """Keep an intent pending with look-alike batches not proven ours (and why)."""
        conn = self._conn()
        with write_txn(conn):
            conn.execute(
                "UPDATE intents SET candidates = ?, error = ? WHERE id = ? AND state = ?",
                (" ".join(candidates) or None, message, intent_id, str(IntentState.PENDING)),
            )

    def resolve_intent(
        self,
        intent_id: int,
        state: IntentState,
        batch_id: str | None = None,
        error: str | None = None,
    ) -> SubmitIntent:
        conn = self._conn()
        with write_txn(conn):
            cur = conn.execute(
                "UPDATE intents SET state = ?, batch_id = coalesce(?, batch_id), error = ?,"
                " candidates = NULL WHERE id = ?",
                (str(state), batch_id, error, intent_id),
            )
            if cur.rowcount == 0:
                raise NotFound(f"No submission intent {intent_id}.")
            row = conn.execute(
                f"SELECT {_INTENT_COLS} FROM intents WHERE id = ?", (intent_id,)
            ).fetchone()
        return _intent_from_row(row)

    def open_intents(self) -> list[SubmitIntent]:
        """Intents still pending: the create call may or may not have happened."""
        rows = self._conn().execute(
            f"SELECT {_INTENT_COLS} FROM intents WHERE state = ? ORDER BY id",
            (str(IntentState.PENDING),),
        )
        return [_intent_from_row(r) for r in rows]

    def intents(self, job_id: str) -> list[SubmitIntent]:
        rows = self._conn().execute(
            f"SELECT {_INTENT_COLS} FROM intents WHERE job_id = ? ORDER BY id", (job_id,)
        )
        return [_intent_from_row(r) for r in rows]

    def job_progress(self, job_id: str) -> JobProgress | None:
        """Which of a job's parts were created, are unresolved, or were never sent."""
        job = self.get_job(job_id)
        if job is None:
            return None
        conn = self._conn()
        with read_txn(conn):
            created: set[int] = set()
            pending: set[int] = set()
            open_since: datetime | None = None
            for part, state, created_at in conn.execute(
                "SELECT part, state, created_at FROM intents WHERE job_id = ?", (job_id,)
            ):
                if state == IntentState.PENDING:
                    pending.add(int(part))
                    at = req_dt(created_at)
                    open_since = at if open_since is None else max(open_since, at)
                elif state in (IntentState.SUBMITTED, IntentState.RECONCILED):
                    created.add(int(part))
            for (part,) in conn.execute(
                "SELECT job_part FROM batch_local WHERE job_id = ? AND job_part IS NOT NULL",
                (job_id,),
            ):
                created.add(int(part))
        count = job.part_count or max(created | pending | {0})
        pending -= created
        missing = [p for p in range(1, count + 1) if p not in created and p not in pending]
        return JobProgress(
            job,
            count,
            tuple(sorted(created)),
            tuple(sorted(pending)),
            tuple(missing),
            open_since if pending else None,
        )

    def partial_jobs(self) -> list[JobProgress]:
        """Jobs whose parts were not all created (yet): they can be finished."""
        rows = (
            self._conn()
            .execute(
                "SELECT j.id FROM jobs j WHERE j.part_count IS NOT NULL AND j.part_count > ("
                " SELECT count(DISTINCT i.part) FROM intents i WHERE i.job_id = j.id"
                " AND i.state IN (?, ?) AND i.part <= j.part_count)"
                " ORDER BY j.created_at DESC, j.id",
                (str(IntentState.SUBMITTED), str(IntentState.RECONCILED)),
            )
            .fetchall()
        )
        out: list[JobProgress] = []
        for (job_id,) in rows:
            progress = self.job_progress(job_id)
            if progress is not None and not progress.complete:
                out.append(progress)
        return out

    def manifest_ids(self, job_id: str, part: int) -> set[str]:
        """The custom_ids a part sent (from its manifest)."""
        rows = self._conn().execute(
            "SELECT custom_id FROM manifests WHERE job_id = ? AND part = ?", (job_id, part)
        )
        return {r[0] for r in rows}

    # --- manifests ------------------------------------------------------------------------

    def add_manifest(
        self,
        job_id: str,
        part: int,
        rows: Iterable[tuple[str, str | None, str] | tuple[str, str | None, str, str | None]],
    ) -> int:
        """Store custom_id → (input text, params JSON[, original id]) for one part (see
        `manifest_rows`); returns rows written. Rows are consumed as they come and written
        in transactions of a few megabytes, so a streamed part costs bounded memory."""
        conn = self._conn()
        total = 0
        batch: list[tuple[str, int, str, str | None, str, str | None]] = []
        pending = 0

        def flush() -> None:
            with write_txn(conn):
                conn.executemany(
                    "INSERT OR REPLACE INTO manifests (job_id, part, custom_id, input_text,"
                    " params_json, original_id) VALUES (?, ?, ?, ?, ?, ?)",
                    batch,
                )

        for row in rows:
            custom_id, input_text, params_json = row[0], row[1], row[2]
            original_id = row[3] if len(row) > 3 else None
            batch.append((job_id, part, custom_id, input_text, params_json, original_id))
            pending += len(params_json) + len(input_text or "")
            if len(batch) >= 10_000 or pending >= MANIFEST_FLUSH_CHARS:
                flush()
                total += len(batch)
                batch = []
                pending = 0
        if batch:
            flush()
            total += len(batch)
        return total

    def manifest_params(
        self, job_id: str, part: int, custom_ids: Iterable[str] | None = None
    ) -> Iterator[tuple[str, str]]:
        """(custom_id, params_json) of a part, all of them or the chosen ones."""
        conn = self._conn()
        if custom_ids is None:
            rows = conn.execute(
                "SELECT custom_id, params_json, input_text FROM manifests"
                " WHERE job_id = ? AND part = ? ORDER BY custom_id",
                (job_id, part),
            ).fetchall()
            yield from ((r[0], restore_params(r[1], r[2])) for r in rows)
            return
        wanted = list(dict.fromkeys(custom_ids))
        for chunk in _chunks(wanted):
            rows = conn.execute(
                "SELECT custom_id, params_json, input_text FROM manifests"
                f" WHERE job_id = ? AND part = ? AND custom_id IN ({placeholders(len(chunk))})",
                (job_id, part, *chunk),
            ).fetchall()
            yield from ((r[0], restore_params(r[1], r[2])) for r in rows)

    # --- results index (see results_index.py) ---------------------------------------------

    def ingest_results(
        self, batch_id: str, jsonl_path: Path, progress: ProgressFn | None = None
    ) -> int:
        """Index a downloaded results file, replacing the batch's earlier rows; returns rows.

        Malformed lines are skipped and counted (see `ingest_results_stats`).
        `progress(bytes_read, bytes_total)` is called about every 10,000 lines.
        """
        return self.ingest_results_stats(batch_id, jsonl_path, progress).rows

    def ingest_results_stats(
        self, batch_id: str, jsonl_path: Path, progress: ProgressFn | None = None
    ) -> IngestStats:
        return results_ingest.ingest_file(lambda: self.start_ingest(batch_id), jsonl_path, progress)

    def start_ingest(self, batch_id: str) -> Ingest:
        """An ingest fed as the bytes arrive (a download), replacing the batch's rows now.

        Call `finish()` then `close()` (always): closing releases its private connection and
        starts the search-index build. The connection is the ingest's own: it hands it to a
        writer thread, so a progress callback reading the store here never shares it.
        """
        conn = self._connect(cache_kib=INGEST_CACHE_KIB)

        def closed() -> None:
            self._release(conn)
            self._start_indexer()

        try:
            return Ingest(conn, batch_id, on_close=closed)
        except BaseException:
            self._release(conn)
            raise

    # --- search index: built in the background after an ingest ---------------------------

    def _start_indexer(self) -> None:
        with self._lock:
            if self._closed:
                return
            if self._indexer is not None:
                self._index_again = True  # the running builder looks once more before it ends
                return
            self._index_again = False
            self._index_stop.clear()
            thread = threading.Thread(target=self._run_indexer, name="batchtop-fts", daemon=True)
            self._indexer = thread
        thread.start()

    def _run_indexer(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            conn = self._connect(cache_kib=WRITER_CACHE_KIB)
            self._indexer_conn = conn
            while True:
                results_index.build_fts(conn, self._index_stop.is_set)
                # then the statistics' rows (core/stats.py), also off the ingest's path
                for batch_id in stats.facts_pending(conn):
                    if not stats.build_facts(conn, batch_id, self._index_stop.is_set):
                        break
                with self._lock:
                    if self._index_stop.is_set() or self._closed or not self._index_again:
                        self._indexer = None
                        self._indexer_conn = None
                        return
                    self._index_again = False
        except (sqlite3.Error, UserError):
            # Interrupted, busy or closed: the state is committed step by step, so the
            # build resumes on the next open or search. Never worth crashing a front end.
            with self._lock:
                self._indexer = None
                self._indexer_conn = None
        finally:
            if conn is not None:
                self._release(conn)

    def build_search_index(self) -> None:
        """Finish every pending search index on this thread (the background builder's job)."""
        results_index.build_fts(self._conn())

    def wait_search_index(self, timeout: float | None = None) -> bool:
        """Wait for the background builder; True when no search index is left pending."""
        indexer = self._indexer
        if indexer is not None:
            indexer.join(timeout)
        return not results_index.fts_pending(self._conn())

    def search_index_ready(self, batch_ids: Sequence[str]) -> bool:
        """True when searches over these batches use the full-text index (else a LIKE scan)."""
        return results_index.fts_complete(self._conn(), batch_ids)

    def query_results(
        self,
        batch_ids: Sequence[str],
        filt: ResultFilter,
        offset: int,
        limit: int,
        *,
        count: bool = True,
    ) -> ResultPage:
        """A page ordered by custom_id; totals of repeated filters are cached until new data.
        `count=False`: the page alone (see results_index.query); `count_results` follows."""
        if filt.search and self._indexer is None:
            conn = self._conn()
            if not results_index.fts_complete(conn, batch_ids) and results_index.fts_pending(conn):
                self._start_indexer()  # a build left unfinished (interrupted, other process)
        return results_index.query(
            self._conn(), batch_ids, filt, offset, limit, self._totals, count=count
        )

    def result_detail(
        self, batch_id: str, custom_id: str
    ) -> tuple[ResultRow, str, str | None] | None:
        """(row, raw JSON line, params JSON from the manifest or None)."""
        return results_index.detail(self._conn(), batch_id, custom_id)

    def result_summary(self, batch_ids: Sequence[str]) -> ResultSummary:
        return results_index.summary(self._conn(), batch_ids)

    def iter_results(
        self, batch_ids: Sequence[str], filt: ResultFilter = _ALL
    ) -> Iterator[tuple[ResultRow, str]]:
        """Every matching (row, raw line), by custom_id, streamed in pages (for export)."""
        return results_index.iterate(self._conn, batch_ids, filt)

    def failed_requests(self, batch_id: str) -> list[FailedRequest]:
        """A batch's errored, expired and canceled requests, with parameters when known."""
        return results_index.failed_requests(self._conn(), batch_id)

    def error_types(self, batch_ids: Sequence[str]) -> dict[str, int]:
        return results_index.error_types(self._conn(), batch_ids)

    def count_results(self, batch_ids: Sequence[str], filt: ResultFilter = _ALL) -> int:
        return results_index.cached_count(self._conn(), batch_ids, filt, self._totals)

    def result_breakdown(self, batch_ids: Sequence[str]) -> ResultBreakdown:
        """Counts and costs by outcome, stop reason and model (see `core/stats.py`)."""
        return stats.result_breakdown(self._conn(), batch_ids)

    def result_distribution(
        self, batch_ids: Sequence[str], breakdown: ResultBreakdown
    ) -> ResultDistribution:
        """Token histograms and top requests (see `core/stats.py`)."""
        return stats.result_distribution(self._conn(), batch_ids, breakdown)

    def progress_series(self, batch_ids: Sequence[str], now: datetime) -> ProgressSeries | None:
        """Completions over time from the snapshots (see `core/stats.py`)."""
        return stats.progress_series(self._conn(), batch_ids, now)


def _tracked(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Count the calling thread in the store for the duration of `fn` (and of each step of
    a generator it returns), so `close` never closes a connection under a statement."""

    @functools.wraps(fn)
    def run(self: Store, *args: Any, **kwargs: Any) -> Any:
        self._enter()
        try:
            result = fn(self, *args, **kwargs)
        finally:
            self._leave()
        return self._tracked_steps(result) if isinstance(result, GeneratorType) else result

    return run


# Every public method is a tracked call (not the lifecycle ones: they manage the tracking).
for _name, _fn in list(vars(Store).items()):
    if (
        isinstance(_fn, FunctionType)
        and not _name.startswith("_")
        and _name not in {"close", "open"}
    ):
        setattr(Store, _name, _tracked(_fn))

ConnFactory = Callable[[], sqlite3.Connection]
