"""The emulator's SQLite state: batches, their requests and their pre-serialized results.

Lifecycle is lazy: each request has a `ready_us` (when processing finishes it), so a
batch's status and counters are derived from the clock when read; the moment a batch is
seen ended (or archived) the transition is persisted, so restarts keep it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .behaviour import simple_line

US = 1_000_000
DAY_US = 86_400 * US
EXPIRY_US = DAY_US
ARCHIVE_US = 29 * DAY_US
KINDS = ("succeeded", "errored", "canceled", "expired")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    created_us INTEGER NOT NULL,
    expires_us INTEGER NOT NULL,
    done_us INTEGER NOT NULL,
    total INTEGER NOT NULL,
    cancel_us INTEGER,
    cancel_end_us INTEGER,
    ended_us INTEGER,
    end_reason TEXT,
    archived_us INTEGER,
    deleted INTEGER NOT NULL DEFAULT 0,
    n_succeeded INTEGER NOT NULL DEFAULT 0,
    n_errored INTEGER NOT NULL DEFAULT 0,
    n_canceled INTEGER NOT NULL DEFAULT 0,
    n_expired INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS requests (
    rid INTEGER PRIMARY KEY,
    batch_seq INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    custom_id TEXT NOT NULL,
    params TEXT NOT NULL,
    kind TEXT NOT NULL,
    ready_us INTEGER,
    line BLOB
);
CREATE INDEX IF NOT EXISTS requests_batch ON requests(batch_seq);
CREATE INDEX IF NOT EXISTS requests_ready ON requests(batch_seq, ready_us, kind);
"""

_COLUMNS = (
    "seq, id, created_us, expires_us, done_us, total, cancel_us, cancel_end_us, ended_us, "
    "end_reason, archived_us, deleted, n_succeeded, n_errored, n_canceled, n_expired"
)


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """One row of `batches`; `n_*` counters are final once `ended_us` is set."""

    seq: int
    id: str
    created_us: int
    expires_us: int
    done_us: int
    total: int
    cancel_us: int | None
    cancel_end_us: int | None
    ended_us: int | None
    end_reason: str | None
    archived_us: int | None
    deleted: bool
    n_succeeded: int
    n_errored: int
    n_canceled: int
    n_expired: int

    def cutoff(self, now_us: int) -> int:
        """Requests finishing by this time count as processed: processing stops at the
        end, and no new request completes once cancellation was initiated."""
        cut = now_us
        if self.ended_us is not None:
            cut = min(cut, self.ended_us)
        if self.cancel_us is not None:
            cut = min(cut, self.cancel_us)
        return cut

    @property
    def status(self) -> str:
        if self.ended_us is not None:
            return "ended"
        return "canceling" if self.cancel_us is not None else "in_progress"


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """A request ready to store: outcome decided, line pre-serialized, finish time known."""

    idx: int
    custom_id: str
    params_json: str
    kind: str
    ready_us: int | None
    line: bytes | None


@dataclass(frozen=True, slots=True)
class Page:
    batches: list[BatchRecord]
    has_more: bool


def _record(row: tuple[Any, ...]) -> BatchRecord:
    values = list(row)
    values[11] = bool(values[11])
    return BatchRecord(*values)


def _create_private(path: Path) -> None:
    """Create the database file 0600 if it is missing (SQLite would use the umask: 0644);
    its WAL and shared-memory files take the same mode. An existing file is left alone."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError as exc:  # reported like SQLite's own failures ("cannot use database")
        raise sqlite3.OperationalError(exc.strerror or str(exc)) from exc
    os.fchmod(fd, 0o600)
    os.close(fd)


def open_db(db_path: Path | None, schema: str) -> sqlite3.Connection:
    """An emulator's database (in memory without a path; else WAL, created 0600) with
    `schema` applied; autocommit, usable from the server's thread."""
    target = str(db_path) if db_path is not None else ":memory:"
    if db_path is not None:
        _create_private(db_path)  # it holds every prompt sent to it
    db = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
    if db_path is not None:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=5000")
    db.executescript(schema)
    return db


class EmulatorState:
    """Synchronous SQLite access; used from the server's event-loop thread only."""

    def __init__(self, db_path: Path | None) -> None:
        self._db = open_db(db_path, _SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(batches)")}
        if "workspace" not in columns:  # a database from before workspaces
            self._db.execute("ALTER TABLE batches ADD COLUMN workspace TEXT NOT NULL DEFAULT ''")
        self._db.execute("CREATE INDEX IF NOT EXISTS batches_ws ON batches (workspace, seq)")

    def close(self) -> None:
        self._db.close()

    # --- create --------------------------------------------------------------------------

    def next_seq(self) -> int:
        """The sequence number the next batch will get (creates are serialized by the caller)."""
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'batches'").fetchone()
        return (int(row[0]) if row else 0) + 1

    def insert_batch(
        self,
        *,
        seq: int,
        batch_id: str,
        now_us: int,
        done_us: int,
        rows: list[PendingRequest],
        workspace: str = "",
    ) -> BatchRecord:
        """Insert a batch and its (already ordered) requests in one transaction; `workspace`
        is the workspace it belongs to ("" for the default one)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT INTO batches (seq, id, created_us, expires_us, done_us, total, workspace)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (seq, batch_id, now_us, now_us + EXPIRY_US, done_us, len(rows), workspace),
            )
            db.executemany(
                "INSERT INTO requests (batch_seq, idx, custom_id, params, kind, ready_us, line) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (seq, r.idx, r.custom_id, r.params_json, r.kind, r.ready_us, r.line)
                    for r in rows
                ),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        record = self._get_seq(seq)
        assert record is not None
        return record

    def insert_history(
        self, batches: list[tuple[int, str, int, int]], template: list[PendingRequest]
    ) -> None:
        """Insert many finished-or-running batches at once, each (seq, id, created_us,
        done_us) with the `template` requests (their ready time moved to `done_us`): the
        seeding of a large workspace for tests and benchmarks, in one transaction."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT INTO batches (seq, id, created_us, expires_us, done_us, total) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    (seq, bid, created, created + EXPIRY_US, done, len(template))
                    for seq, bid, created, done in batches
                ),
            )
            db.executemany(
                "INSERT INTO requests (batch_seq, idx, custom_id, params, kind, ready_us, line) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (seq, r.idx, r.custom_id, r.params_json, r.kind, done, r.line)
                    for seq, _bid, _created, done in batches
                    for r in template
                ),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # --- reads ---------------------------------------------------------------------------

    def _get_seq(self, seq: int) -> BatchRecord | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM batches WHERE seq = ?", (seq,)).fetchone()
        return _record(row) if row else None

    def get(self, batch_id: str, workspace: str | None = None) -> BatchRecord | None:
        """The batch, deleted or not (callers decide what a deleted batch means); with
        `workspace`, only if it belongs to that workspace."""
        sql = f"SELECT {_COLUMNS} FROM batches WHERE id = ?"
        args: tuple[Any, ...] = (batch_id,)
        if workspace is not None:
            sql += " AND workspace = ?"
            args = (batch_id, workspace)
        row = self._db.execute(sql, args).fetchone()
        return _record(row) if row else None

    def page(
        self, limit: int, after_id: str | None, before_id: str | None, workspace: str = ""
    ) -> Page:
        """Newest first; `after_id` pages towards older batches, `before_id` towards newer.
        Only the batches of `workspace` ("" is the default one)."""
        where = ["deleted = 0", "workspace = ?"]
        args: list[Any] = [workspace]
        for cursor, op in ((after_id, "<"), (before_id, ">")):
            if cursor is None:
                continue
            row = self._db.execute("SELECT seq FROM batches WHERE id = ?", (cursor,)).fetchone()
            if row is None:
                return Page([], False)
            where.append(f"seq {op} ?")
            args.append(row[0])
        ascending = before_id is not None and after_id is None
        order = "ASC" if ascending else "DESC"
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM batches WHERE {' AND '.join(where)} "
            f"ORDER BY seq {order} LIMIT ?",
            (*args, limit + 1),
        ).fetchall()
        has_more = len(rows) > limit
        records = [_record(r) for r in rows[:limit]]
        if ascending:
            records.reverse()
        return Page(records, has_more)

    def live_counts(self, record: BatchRecord, now_us: int) -> dict[str, int]:
        """Counts of requests whose processing finished by `now_us` (batch not ended)."""
        counts = dict.fromkeys(KINDS, 0)
        for kind, n in self._db.execute(
            "SELECT kind, COUNT(*) FROM requests WHERE batch_seq = ? AND ready_us <= ? "
            "GROUP BY kind",
            (record.seq, now_us),
        ):
            counts[kind] = n
        return counts

    # --- transitions ---------------------------------------------------------------------

    def settle(self, record: BatchRecord, now_us: int) -> BatchRecord:
        """Persist the end and archival the clock says have happened by `now_us`."""
        if record.ended_us is None:
            if record.cancel_us is not None and record.cancel_end_us is not None:
                end, reason = record.cancel_end_us, "canceled"
            else:
                end, reason = record.done_us, "done"
            if record.expires_us < end:
                end, reason = record.expires_us, "expired"
            if now_us >= end:
                record = self._finish(record, end, reason)
        if (
            record.ended_us is not None
            and record.archived_us is None
            and now_us >= record.created_us + ARCHIVE_US
        ):
            record = self.archive(record, record.created_us + ARCHIVE_US)
        return record

    def archive(self, record: BatchRecord, at_us: int) -> BatchRecord:
        """Archive an ended batch at `at_us`: its requests (and so its results) are dropped,
        its row and counts stay."""
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute("DELETE FROM requests WHERE batch_seq = ?", (record.seq,))
        self._db.execute("UPDATE batches SET archived_us = ? WHERE seq = ?", (at_us, record.seq))
        self._db.execute("COMMIT")
        return replace(record, archived_us=at_us)

    def _finish(self, record: BatchRecord, end_us: int, reason: str) -> BatchRecord:
        counts = self.live_counts(record, record.cutoff(end_us))
        for kind, n in self._db.execute(
            "SELECT kind, COUNT(*) FROM requests WHERE batch_seq = ? AND ready_us IS NULL "
            "GROUP BY kind",
            (record.seq,),
        ):
            counts[kind] += n
        rest = record.total - sum(counts.values())
        if rest > 0:
            counts["expired" if reason == "expired" else "canceled"] += rest
        self._db.execute(
            "UPDATE batches SET ended_us = ?, end_reason = ?, n_succeeded = ?, n_errored = ?, "
            "n_canceled = ?, n_expired = ? WHERE seq = ?",
            (
                end_us,
                reason,
                counts["succeeded"],
                counts["errored"],
                counts["canceled"],
                counts["expired"],
                record.seq,
            ),
        )
        return replace(
            record,
            ended_us=end_us,
            end_reason=reason,
            n_succeeded=counts["succeeded"],
            n_errored=counts["errored"],
            n_canceled=counts["canceled"],
            n_expired=counts["expired"],
        )

    def cancel(self, record: BatchRecord, now_us: int, delay_us: int) -> BatchRecord:
        self._db.execute(
            "UPDATE batches SET cancel_us = ?, cancel_end_us = ? WHERE seq = ?",
            (now_us, now_us + delay_us, record.seq),
        )
        return replace(record, cancel_us=now_us, cancel_end_us=now_us + delay_us)

    def delete(self, record: BatchRecord) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute("DELETE FROM requests WHERE batch_seq = ?", (record.seq,))
        self._db.execute("UPDATE batches SET deleted = 1 WHERE seq = ?", (record.seq,))
        self._db.execute("COMMIT")

    # --- results -------------------------------------------------------------------------

    def result_chunks(self, record: BatchRecord, rows_per_chunk: int = 4000) -> Iterator[bytes]:
        """The results JSONL of an ended batch, in stored (shuffled) order, in big chunks."""
        assert record.ended_us is not None
        ended = record.cutoff(record.ended_us)
        late_kind = b"expired" if record.end_reason == "expired" else b"canceled"
        last = -1
        while True:
            rows = self._db.execute(
                "SELECT rid, custom_id, kind, ready_us, line FROM requests "
                "WHERE batch_seq = ? AND rid > ? ORDER BY rid LIMIT ?",
                (record.seq, last, rows_per_chunk),
            ).fetchall()
            if not rows:
                return
            parts: list[bytes] = []
            for _rid, custom_id, kind, ready_us, line in rows:
                if ready_us is None:
                    parts.append(simple_line(custom_id, kind))
                elif ready_us <= ended:
                    parts.append(line)
                else:
                    parts.append(simple_line(custom_id, late_kind.decode()))
            parts.append(b"")
            last = rows[-1][0]
            yield b"\n".join(parts)
