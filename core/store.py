"""batchtop's local store: batches, snapshots, jobs, labels, the submission journal,
manifests and `store_meta`, in one SQLite file that is the source of truth for every front end.

The file and its connections (one per thread, WAL, busy timeout, calls tracked so a close
never runs under a statement) are `core/database.py`'s; the result rows in the same file are
`core/results/`'s (`ResultsIndex`). `BatchService` assembles both on one `Database`.
Nothing touches the disk until `Store.open` is called.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson

from .database import INDEX_WAIT_S, Database, track_calls
from .errors import NotFound, PartBusy
from .manifest_rows import restore_params
from .models import (
    ABANDON_AFTER,
    ABANDON_HINT,
    JOB_ID_PREFIX,
    BatchError,
    BatchView,
    CountSnapshot,
    IntentState,
    Job,
    JobProgress,
    ProcessingStatus,
    RemoteBatch,
    RequestCounts,
    SubmitIntent,
)
from .sqlite_util import (
    Columns,
    from_text,
    placeholders,
    read_txn,
    req_dt,
    to_text,
    write_txn,
)

_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit
MANIFEST_FLUSH_CHARS = 2_000_000  # manifest text gathered before a write transaction

_REMOTE = Columns(
    *(
        (name, f"b.{name}")
        for name in (
            "id",
            "status",
            "processing",
            "succeeded",
            "errored",
            "canceled",
            "expired",
            "created_at",
            "expires_at",
            "ended_at",
            "cancel_initiated_at",
            "archived_at",
            "results_url",
            "provider",
            "provider_status",
            "endpoint",
            "input_file_id",
            "output_file_id",
            "error_file_id",
            "submission_id",
            "errors",
        )
    )
)
"""What the API says of a batch: columns of `batches b`, read back by the same names."""
_COUNTS = ("processing", "succeeded", "errored", "canceled", "expired")


def _pick(*names: str) -> itemgetter[Any]:
    """These columns of a `_REMOTE` row, as a tuple (in one C call)."""
    return itemgetter(*(_REMOTE.names.index(n) for n in names))


_counts = _pick(*_COUNTS)
_snapshot_moves = _pick("status", *_COUNTS)  # a count snapshot is recorded when one moves
_changes = _pick(*(n for n in _REMOTE.names if n not in ("created_at", "expires_at")))
"""What makes a batch "changed" (an event): all the API says but its creation and expiry."""
_VIEW = Columns(
    *_REMOTE.pairs,
    ("seen_at", "b.seen_at"),
    ("label", "l.label"),
    ("note", "l.note"),
    ("job_id", "l.job_id"),
    ("job_part", "l.job_part"),
    ("parent_batch_id", "l.parent_batch_id"),
    ("model", "l.model"),
    ("results_downloaded", "coalesce(l.results_downloaded, 0)"),
    ("results_indexed", "coalesce(l.results_indexed, 0)"),
    ("estimated_cost_usd", "l.estimated_cost_usd"),
    ("estimate_floor", "coalesce(l.estimate_floor, 0)"),
    ("actual_cost_usd", "l.actual_cost_usd"),
    ("deleted", "coalesce(l.deleted, 0)"),
    (
        "has_manifest",
        "EXISTS (SELECT 1 FROM manifests m WHERE m.job_id = l.job_id AND m.part = l.job_part)",
    ),
    ("betas", "(SELECT j.betas FROM jobs j WHERE j.id = l.job_id)"),
)
"""A `BatchView`'s columns (over `_VIEW_FROM`), named as its fields."""
_VIEW_FROM = "FROM batches b LEFT JOIN batch_local l ON l.batch_id = b.id"
_VIEW_SQL = f"SELECT {_VIEW.sql} {_VIEW_FROM}"
_UPSERT_SQL = (
    f"INSERT INTO batches ({', '.join(_REMOTE.names)}, seen_at)"
    f" VALUES ({placeholders(len(_REMOTE) + 1)}) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{n} = excluded.{n}" for n in (*_REMOTE.names[1:], "seen_at"))
)
_INTENT_COLS = (
    "id, job_id, part, request_count, content_hash, created_at, state, batch_id, error,"
    " server_offset_s, attempt_ended_at, candidates"
)
_JOB_COLS = "id, name, created_at, source, content_hash, part_count, prepared_path, betas"
# Intent states that hold a part: a create in flight or unresolved, or a batch recorded.
_LIVE_STATES = (IntentState.PENDING, IntentState.SUBMITTED, IntentState.RECONCILED)


def _remote_params(b: RemoteBatch) -> tuple[Any, ...]:
    """A batch as a row of `_REMOTE` (its values named here, put in the SELECT's order)."""
    c = b.request_counts
    row: tuple[Any, ...] = _in_remote_order(
        {
            "id": b.id,
            "status": str(b.processing_status),
            "processing": c.processing,
            "succeeded": c.succeeded,
            "errored": c.errored,
            "canceled": c.canceled,
            "expired": c.expired,
            "created_at": to_text(b.created_at),
            "expires_at": to_text(b.expires_at),
            "ended_at": to_text(b.ended_at),
            "cancel_initiated_at": to_text(b.cancel_initiated_at),
            "archived_at": to_text(b.archived_at),
            "results_url": b.results_url,
            "provider": b.provider,
            "provider_status": b.provider_status,
            "endpoint": b.endpoint,
            "input_file_id": b.input_file_id,
            "output_file_id": b.output_file_id,
            "error_file_id": b.error_file_id,
            "submission_id": b.submission_id,
            "errors": _errors_text(b.errors),
        }
    )
    return row


_in_remote_order = itemgetter(*_REMOTE.names)


def _remote_from_row(r: Sequence[Any], at: Any = _REMOTE.at) -> RemoteBatch:
    """A `RemoteBatch` from a row of `_REMOTE` (or `_VIEW`: `at` says where each column is)."""
    return RemoteBatch(
        id=r[at.id],
        processing_status=ProcessingStatus(r[at.status]),
        request_counts=RequestCounts(
            r[at.processing], r[at.succeeded], r[at.errored], r[at.canceled], r[at.expired]
        ),
        created_at=req_dt(r[at.created_at]),
        expires_at=req_dt(r[at.expires_at]),
        ended_at=from_text(r[at.ended_at]),
        cancel_initiated_at=from_text(r[at.cancel_initiated_at]),
        archived_at=from_text(r[at.archived_at]),
        results_url=r[at.results_url],
        provider=r[at.provider],
        provider_status=r[at.provider_status],
        endpoint=r[at.endpoint],
        input_file_id=r[at.input_file_id],
        output_file_id=r[at.output_file_id],
        error_file_id=r[at.error_file_id],
        submission_id=r[at.submission_id],
        errors=_errors_from_text(r[at.errors]),
    )


def _errors_text(errors: tuple[BatchError, ...]) -> str | None:
    """A batch's errors as the `errors` column holds them (JSON), None for none."""
    if not errors:
        return None
    return orjson.dumps(
        [{"code": e.code, "message": e.message, "line": e.line, "param": e.param} for e in errors]
    ).decode()


def _errors_from_text(text: str | None) -> tuple[BatchError, ...]:
    if not text:
        return ()
    try:
        items = orjson.loads(text)
    except orjson.JSONDecodeError:
        return ()
    return tuple(
        BatchError(
            code=str(i.get("code") or ""),
            message=str(i.get("message") or ""),
            line=i.get("line") if isinstance(i.get("line"), int) else None,
            param=i.get("param") if isinstance(i.get("param"), str) else None,
        )
        for i in items
        if isinstance(i, dict)
    )


def _view_from_row(r: Sequence[Any], at: Any = _VIEW.at) -> BatchView:
    """A `BatchView` from a row of `_VIEW` (`at`: where each of its columns is)."""
    return BatchView(
        remote=_remote_from_row(r, at),
        seen_at=req_dt(r[at.seen_at]),
        label=r[at.label],
        note=r[at.note],
        job_id=r[at.job_id],
        job_part=r[at.job_part],
        parent_batch_id=r[at.parent_batch_id],
        model=r[at.model],
        results_downloaded=bool(r[at.results_downloaded]),
        results_indexed=int(r[at.results_indexed]),
        estimated_cost_usd=r[at.estimated_cost_usd],
        estimate_floor=bool(r[at.estimate_floor]),
        actual_cost_usd=r[at.actual_cost_usd],
        deleted=bool(r[at.deleted]),
        has_manifest=bool(r[at.has_manifest]),
        betas=split_betas(r[at.betas]),
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
        f" {settles}, reconcile closes the part and a submit of the same file sends it"
        f" ({ABANDON_HINT})."
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


def _record_reported(conn: sqlite3.Connection, batches: Iterable[RemoteBatch]) -> None:
    """What a provider reports of a batch beyond its state (OpenAI: the model that ran it,
    and once it ended the tokens it used): the model where batchtop knows none, and the
    cost those tokens were billed (`costs.billed_usd`) until the results' own usage gives
    it (an ingest sets it from the rows)."""
    reported = [b for b in batches if b.model is not None]
    if not reported:
        return
    from .costs import billed_usd

    conn.executemany(
        "INSERT INTO batch_local (batch_id, model, actual_cost_usd) VALUES (?, ?, ?)"
        " ON CONFLICT (batch_id) DO UPDATE SET"
        " model = coalesce(batch_local.model, excluded.model),"
        " actual_cost_usd = CASE WHEN batch_local.results_indexed = 0"
        " THEN coalesce(excluded.actual_cost_usd, batch_local.actual_cost_usd)"
        " ELSE batch_local.actual_cost_usd END"
        " WHERE batch_local.model IS NULL OR (batch_local.results_indexed = 0"
        " AND excluded.actual_cost_usd IS NOT batch_local.actual_cost_usd"
        " AND excluded.actual_cost_usd IS NOT NULL)",
        [(b.id, b.model, billed_usd(b)) for b in reported],
    )


class Store:
    """Typed access to the SQLite store; see the module docstring for the concurrency model."""

    def __init__(self, db: Database) -> None:
        """Prefer `Store.open`; this does not touch the file until the first query."""
        self.db = db
        self.path = db.path

    # --- lifecycle ------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | None = None, *, durable: bool = True) -> Store:
        """Open (creating and migrating if needed) the store at `path` or the default place
        (`durable=False`: a throwaway store, see `Database`)."""
        return cls(Database.open(path, durable=durable))

    @property
    def warnings(self) -> list[str]:
        """For the user, from `open` (e.g. an exposed directory)."""
        return self.db.warnings

    def close(self, *, index_wait_s: float = INDEX_WAIT_S) -> None:
        """Close the database (see `Database.close`: background work gets `index_wait_s` to
        finish, calls running on other threads are waited for). The store cannot be used
        afterwards."""
        self.db.close(index_wait_s=index_wait_s)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection (created on first use)."""
        return self.db.conn()

    # --- batches --------------------------------------------------------------------------

    def upsert_remote(
        self, batches: Sequence[RemoteBatch], seen_at: datetime
    ) -> list[tuple[BatchView, RemoteBatch | None]]:
        """Record what the API said; return (new view, previous remote) for new/changed ones
        (see `record_remote`)."""
        changed = self.record_remote(batches, seen_at)
        views = self._views([bid for bid, _ in changed])
        return [(views[bid], old) for bid, old in changed if bid in views]

    def record_remote(
        self, batches: Sequence[RemoteBatch], seen_at: datetime
    ) -> list[tuple[str, RemoteBatch | None]]:
        """Record what the API said; return (id, previous remote) of new/changed ones, for
        a caller that reads the new rows otherwise (`changed_since`).

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
        changed: list[tuple[str, tuple[Any, ...] | None]] = []
        with write_txn(conn):
            previous: dict[str, tuple[Any, ...]] = {}
            for chunk in _chunks(ids):
                marks = placeholders(len(chunk))
                sql = f"SELECT {_REMOTE.sql} FROM batches b WHERE b.id IN ({marks})"
                for row in conn.execute(sql, chunk):
                    previous[row[0]] = tuple(row)
            conn.executemany(_UPSERT_SQL, [(*params[bid], seen) for bid in ids])
            snaps: list[tuple[Any, ...]] = []
            for bid in ids:
                new = params[bid]
                old = previous.get(bid)
                if old is not None and _changes(old) == _changes(new):
                    continue
                changed.append((bid, old))
                if old is None or _snapshot_moves(old) != _snapshot_moves(new):
                    snaps.append((bid, seen, *_counts(new)))
            conn.executemany(
                "INSERT INTO snapshots (batch_id, at, processing, succeeded, errored, canceled,"
                " expired) VALUES (?, ?, ?, ?, ?, ?, ?)",
                snaps,
            )
            _record_reported(conn, latest.values())
        return [(bid, _remote_from_row(old) if old is not None else None) for bid, old in changed]

    def _views(self, ids: Sequence[str]) -> dict[str, BatchView]:
        conn = self._conn()
        out: dict[str, BatchView] = {}
        for chunk in _chunks(ids):
            sql = f"{_VIEW_SQL} WHERE b.id IN ({placeholders(len(chunk))})"
            for row in conn.execute(sql, chunk):
                out[row[0]] = _view_from_row(row)
        return out

    def change_mark(self) -> int:
        """The highest change number of any batch (0: none yet): what a reader that has
        just read every batch has seen (see `changed_since`)."""
        row = self._conn().execute("SELECT max(seq) FROM batch_changes").fetchone()
        return int(row[0] or 0)

    def changed_since(self, mark: int) -> tuple[list[BatchView], int]:
        """The batches whose rows changed after change number `mark` (written by this
        process or any other on the same file: schema migration 14's triggers number every
        change), oldest change first, and the mark to read from next time. One indexed
        range read: a reader that keeps its mark pays for what changed, not for the store."""
        sql = (
            f"SELECT c.seq, {_VIEW.sql} FROM batch_changes c"
            " LEFT JOIN batches b ON b.id = c.batch_id"
            " LEFT JOIN batch_local l ON l.batch_id = c.batch_id"
            " WHERE c.seq > ? ORDER BY c.seq"
        )
        rows = self._conn().execute(sql, (mark,)).fetchall()
        if not rows:
            return [], mark
        # a local row without its batch (recorded before the first refresh) is numbered
        # again when the batch's row arrives
        views = [_view_from_row(r[1:]) for r in rows if r[1] is not None]
        return views, int(rows[-1][0])

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

    def synced_at(self) -> datetime | None:
        """When a refresh last completed (None: never): how old the store's view is."""
        return from_text(self.meta("synced_at"))

    def set_synced_at(self, at: datetime) -> None:
        self.set_meta(synced_at=to_text(at))

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

    def set_estimate_floor(self, batch_ids: Sequence[str]) -> None:
        """These batches' estimates count input only (no output budget): a floor."""
        for batch_id in batch_ids:
            self._set_local(batch_id, estimate_floor=1)

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
            id=f"{JOB_ID_PREFIX}{uuid.uuid4().hex[:20]}",
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
                id=f"{JOB_ID_PREFIX}{uuid.uuid4().hex[:20]}",
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
            self._check_part_free(conn, job_id, part)
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

    def check_part_free(self, job_id: str, part: int) -> None:
        """Raise `PartBusy` when the part has a live intent (as `add_intent` would)."""
        self._check_part_free(self._conn(), job_id, part)

    @staticmethod
    def _check_part_free(conn: sqlite3.Connection, job_id: str, part: int) -> None:
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

    def note_attempt_end(self, intent_id: int, at: datetime | None) -> None:
        """The last create attempt of a pending intent was answered (an error) at `at`; None:
        another attempt is being sent (its end is not known)."""
        conn = self._conn()
        with write_txn(conn):
            conn.execute(
                "UPDATE intents SET attempt_ended_at = ? WHERE id = ?",
                (to_text(at) if at is not None else None, intent_id),
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


# Every public method is a tracked call (not the lifecycle ones: they manage the tracking).
track_calls(Store)
